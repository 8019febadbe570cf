import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { at, Expression, Intrinsic } from './intrinsics';
import { ELAPSED_RANGES } from '../runtime/polling-policy';

/** Names of the loop's states (the local harness and the tests read executions by them). */
export const WaitLoopStates = {
  START: 'StartWaiting',
  EXPORT_TO_START: 'ExportToStart',
  START_EXPORT_TASK: 'StartExportTask',
  READ_STARTED_TASK_ID: 'ReadStartedTaskId',
  NOTE_STARTED_TASK: 'NoteStartedTask',
  NOTE_STARTED_TASK_CAMEL_CASE: 'NoteStartedTaskCamelCase',
  NO_TASK_ID: 'NoTaskIdReturned',
  START_FAILED: 'StartFailed',
  ANNOUNCE: 'AnnounceIfLongWait',
  ANSWER_STARTED: 'AnswerStarted',
  GET_EXPORT_TASK: 'GetExportTask',
  CHECK_STATUS: 'CheckStatus',
  PLAN_WITHOUT_PROGRESS: 'PlanWithoutProgress',
  planFromProgress: (rangeIndex: number) => `PlanFromProgress${rangeIndex}`,
  GUARD_WAIT: 'GuardWait',
  CAP_WHILE_STALLED: 'CapWhileStalled',
  WAIT_FOR_NEXT_POLL: 'WaitForNextPoll',
  WAIT_UNTIL_DEADLINE: 'WaitUntilDeadline',
  SPEND_REMAINING_TIME: 'SpendRemainingTime',
  PREPARE_CONTINUATION: 'PrepareContinuation',
  CONTINUE_IN_NEW_EXECUTION: 'ContinueInNewExecution',
  CONTINUED: 'Continued',
  TASK_ENDED: 'TaskEnded',
  TIMED_OUT: 'TimedOut',
  CANCEL_IF_STARTED_HERE: 'CancelIfStartedHere',
  CANCEL_EXPORT_TASK: 'CancelExportTask',
  CALL_FAILED: 'CallFailed',
  ANSWER: 'AnswerCloudFormation',
  ANSWER_NOT_DELIVERED: 'AnswerNotDelivered',
  DONE: 'Answered',
} as const;

/**
 * GetExportTask errors that say nothing about the task: retry, then keep polling until the deadline.
 * Only errors the service model lists for GetExportTask (and Step Functions' own timeout): a failure
 * to reach the service has no documented name, and is retried as an unknown error.
 */
export const TRANSIENT_ERRORS = [
  'NeptuneGraph.ThrottlingException',
  'NeptuneGraph.InternalServerException',
  'States.Timeout',
];
/** GetExportTask errors that no amount of waiting fixes: the wait ends at once. */
export const PERMANENT_ERRORS = [
  'NeptuneGraph.ResourceNotFoundException',
  'NeptuneGraph.ValidationException',
  'NeptuneGraph.AccessDeniedException',
];

const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED'];

export const RETRY_THROTTLED_CALL: Omit<sfn.RetryProps, 'errors'> = {
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(30),
  maxAttempts: 5,
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * How the loop measures its timeout.
 * - `deadline` (the custom resource): the handler computes an ISO deadline and the latest start of
 *   every wait (policy tables `latestStart`...); each counted round notes `$$.State.EnteredTime` in
 *   `poll.checkedAt`, so the time calls and retries take counts too.
 * - `budget` (the public fragment): JSONPath has no timestamp arithmetic and the fragment has no
 *   handler to compute a deadline, so it counts down `poll.remainingSeconds` by each wait it
 *   makes (tables of negated waits), and waits out what remains when a planned wait would not fit.
 */
export type LoopClock = 'deadline' | 'budget';

/** Where the loop ends: chainables that read `<statePath>.last.task` and `<statePath>.last.error`. */
export interface WaitLoopExits {
  /** The task reached a terminal status (or answered without one). */
  readonly taskEnded: sfn.IChainable;
  /** GetExportTask failed with an error no amount of waiting fixes. */
  readonly callFailed: sfn.IChainable;
  readonly timedOut: sfn.IChainable;
  /** `maxRounds` polls were made: the custom resource continues in a new execution, the fragment gives up. */
  readonly roundsExhausted: sfn.IChainable;
}

export interface WaitLoopSettings {
  /** JSONPath of the loop's state: `$` for the custom resource, a field of the user's state for the fragment. */
  readonly statePath: string;
  /** JSONPath of the polling policy tables (src/runtime/polling-policy.ts). */
  readonly policyPath: string;
  /**
   * An object expression merged over every GetExportTask result (a ResultSelector sees only the
   * result and the context object, so it must come from there).
   * @default - the result as it is
   */
  readonly taskOverrides?: Expression;
  readonly clock: LoopClock;
  /** Poll rounds after which the loop leaves through `roundsExhausted` (the history-event bound). */
  readonly maxRounds: number;
  /** Every field of the loop's state (a Pass that rewrites the state names each). */
  readonly stateFields: readonly string[];
  /** Gives every state its name (the fragment's prefix; the custom resource keeps the plain names). */
  readonly stateName?: (name: string) => string;
}

/**
 * The wait loop: GetExportTask through the AWS SDK integration (no Lambda per poll), a Choice on the
 * status, a Wait planned from the task's own progress, again, until the task ends, a call fails for
 * good, the timeout passes or the round budget is spent. One small method per phase: `startExport`,
 * `poll`, `checkStatus`, `plan*`, `guard`. What surrounds it (where the state comes from, what an
 * ending does) belongs to its two users: the custom resource's state machine
 * (custom-resource-loop.ts) and the public `WaitForExportTask` fragment.
 *
 * State data, under `statePath` (every field exists on every path: a JSONPath reference to a missing
 * field raises States.Runtime, which no Catch handles): `taskId`, `last` (the latest task and
 * error), `poll` (the policy's bookkeeping), plus the user's own `stateFields`.
 */
export class WaitLoop {
  private readonly policy: (table: string) => string;
  private readonly state: (field: string) => string;

  constructor(private readonly scope: Construct, private readonly settings: WaitLoopSettings) {
    this.policy = (table) => at(settings.policyPath, table);
    this.state = (field) => at(settings.statePath, field);
  }

  /** The name a state of the loop gets. */
  public name(name: string): string {
    return this.settings.stateName ? this.settings.stateName(name) : name;
  }

  /**
   * After a StartExportTask state: retries that cannot start a second export, a Catch into
   * `startFailed`, and the started task id noted in the state (whichever casing the result has).
   */
  public startExport(start: sfn.TaskStateBase | sfn.CustomState, startFailed: sfn.IChainable, then: sfn.IChainable): sfn.IChainable {
    // Throttling, and a denial while IAM propagates a policy that CloudFormation has just created:
    // neither started an export. After an internal error or a timeout the export may have started.
    start.addRetry({ errors: ['NeptuneGraph.ThrottlingException', 'NeptuneGraph.AccessDeniedException'], ...RETRY_THROTTLED_CALL });
    start.addCatch(startFailed, { errors: [sfn.Errors.ALL], resultPath: this.state('last.error') });
    const started = this.state('started.result');
    const noted = (id: string, taskIdPath: string) => new sfn.Pass(this.scope, id, {
      stateName: this.name(id),
      parameters: this.rewrite({ 'taskId.$': taskIdPath, 'export': null }),
      resultPath: this.wholeState(),
    }).next(then);
    const noTaskId = new sfn.Pass(this.scope, WaitLoopStates.NO_TASK_ID, {
      stateName: this.name(WaitLoopStates.NO_TASK_ID),
      parameters: { 'Error': 'NoTaskIdReturned', 'Cause.$': Intrinsic.jsonToString(started) },
      resultPath: this.state('last.error'),
    }).next(startFailed);
    return start.next(new sfn.Choice(this.scope, WaitLoopStates.READ_STARTED_TASK_ID, { stateName: this.name(WaitLoopStates.READ_STARTED_TASK_ID) })
      .when(sfn.Condition.isPresent(`${started}.TaskId`), noted(WaitLoopStates.NOTE_STARTED_TASK, `${started}.TaskId`))
      .when(sfn.Condition.isPresent(`${started}.taskId`), noted(WaitLoopStates.NOTE_STARTED_TASK_CAMEL_CASE, `${started}.taskId`))
      .otherwise(noTaskId));
  }

  /** Where a StartExportTask state puts its whole result (a path to one field would raise States.Runtime if its casing differed). */
  public get startedResult(): { resultSelector: Record<string, string>; resultPath: string } {
    return { resultSelector: { 'result.$': '$' }, resultPath: this.state('started') };
  }

  /** Builds the polling states; returns the first (GetExportTask), which every round enters. */
  public pollUntilEnded(exits: WaitLoopExits, iamResources: string[]): tasks.CallAwsService {
    const getExportTask = this.poll(iamResources);
    const planWithoutProgress = this.planWithoutProgress();
    const planFromProgress = ELAPSED_RANGES.map((_, r) => this.planFromProgress(r));
    const guard = this.guard(getExportTask, exits);
    planWithoutProgress.next(guard);
    planFromProgress.forEach((plan) => plan.next(guard));
    getExportTask.addCatch(exits.callFailed, { errors: PERMANENT_ERRORS, resultPath: this.state('last.error') });
    // Errors without a documented name (a failure to reach the service, say) may pass: keep polling,
    // and name the error in the reason if it still stands at the deadline.
    getExportTask.addCatch(planWithoutProgress, { errors: [sfn.Errors.ALL], resultPath: this.state('last.error') });
    getExportTask.next(this.checkStatus(exits.taskEnded, planWithoutProgress, planFromProgress));
    return getExportTask;
  }

  /** Parameters of a Pass that rewrites the whole loop state, changing only the fields given. */
  public rewrite(changes: Record<string, unknown>): Record<string, unknown> {
    const changed = new Set(Object.keys(changes).map((key) => key.replace(/\.\$$/, '')));
    const kept = this.settings.stateFields.filter((field) => !changed.has(field)).map((field) => [`${field}.$`, this.state(field)]);
    return { ...Object.fromEntries(kept), ...changes };
  }

  /** The ResultPath of a Pass that rewrites the loop state (none when the state is the whole input). */
  public wholeState(): string | undefined {
    return this.settings.statePath === '$' ? undefined : this.settings.statePath;
  }

  private poll(iamResources: string[]): tasks.CallAwsService {
    const getExportTask = new tasks.CallAwsService(this.scope, WaitLoopStates.GET_EXPORT_TASK, {
      stateName: this.name(WaitLoopStates.GET_EXPORT_TASK),
      service: 'neptunegraph',
      action: 'getExportTask',
      // CallAwsService would derive `neptunegraph:getExportTask`, which IAM does not know.
      iamAction: 'neptune-graph:GetExportTask',
      // Task ids are only known at run time: the grant covers export tasks of this account and region.
      iamResources,
      parameters: { 'TaskIdentifier.$': this.state('taskId') },
      resultSelector: {
        // The export filter, which can be large, is dropped rather than carried in every poll's state.
        // Fields the service may omit are checked for presence by CheckStatus before anything reads them.
        'task.$': this.settings.taskOverrides ? Intrinsic.jsonMerge('$', this.settings.taskOverrides) : '$',
        'at.$': '$$.State.EnteredTime',
        // A successful call clears the previous error: a timeout reports only an error that lasted.
        'error': {},
      },
      resultPath: this.state('last'),
      taskTimeout: sfn.Timeout.duration(Duration.seconds(30)),
    });
    getExportTask.addRetry({ errors: TRANSIENT_ERRORS, ...RETRY_THROTTLED_CALL });
    getExportTask.addRetry({ errors: PERMANENT_ERRORS, maxAttempts: 0 });
    // Errors without a documented name get two quick retries, then the loop polls on (see the Catch).
    getExportTask.addRetry({
      errors: [sfn.Errors.ALL], interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 2, jitterStrategy: sfn.JitterType.FULL,
    });
    return getExportTask;
  }

  /**
   * Rules are tried in order and the first match wins, so each rule only sees paths that the rules
   * before it proved present and numeric: a comparison with a missing path raises States.Runtime.
   */
  private checkStatus(taskEnded: sfn.IChainable, planWithoutProgress: sfn.IChainable, planFromProgress: sfn.IChainable[]): sfn.Choice {
    const status = this.state('last.task.Status');
    const progress = this.progress;
    const elapsed = this.elapsed;
    const usable = (path: string) => sfn.Condition.and(sfn.Condition.isPresent(path), sfn.Condition.isNumeric(path));
    const choice = new sfn.Choice(this.scope, WaitLoopStates.CHECK_STATUS, { stateName: this.name(WaitLoopStates.CHECK_STATUS) })
      // No status at all (or under another casing than documented): report what came back.
      .when(sfn.Condition.not(sfn.Condition.isPresent(status)), taskEnded)
      .when(sfn.Condition.or(...TERMINAL_STATUSES.map((s) => sfn.Condition.stringEquals(status, s))), taskEnded)
      .when(sfn.Condition.not(usable(progress)), planWithoutProgress)
      .when(sfn.Condition.not(usable(elapsed)), planWithoutProgress)
      .when(sfn.Condition.or(
        sfn.Condition.numberLessThan(progress, 0),
        sfn.Condition.numberGreaterThan(progress, 100),
        sfn.Condition.numberLessThan(elapsed, 0),
      ), planWithoutProgress);
    ELAPSED_RANGES.forEach(({ below }, r) => choice.when(sfn.Condition.numberLessThan(elapsed, below), planFromProgress[r]));
    return choice.otherwise(planWithoutProgress);
  }

  private get progress(): string {
    return this.state('last.task.ExportTaskDetails.ProgressPercentage');
  }

  private get elapsed(): string {
    return this.state('last.task.ExportTaskDetails.TimeElapsedSeconds');
  }

  private planWithoutProgress(): sfn.Pass {
    const blindStep = this.state('poll.blindStep');
    return new sfn.Pass(this.scope, WaitLoopStates.PLAN_WITHOUT_PROGRESS, {
      stateName: this.name(WaitLoopStates.PLAN_WITHOUT_PROGRESS),
      comment: 'No usable progress (or a transient error): back off towards the fallback interval.',
      parameters: {
        ...this.carriedPoll(),
        'waitSeconds.$': Intrinsic.arrayGetItem(this.policy('blindWaitSeconds'), blindStep),
        ...this.plannedWait('blind', blindStep),
        'blindStep.$': Intrinsic.arrayGetItem(this.policy('blindNextStep'), blindStep),
        'sinceProgressSeconds.$': Intrinsic.mathAdd(this.state('poll.sinceProgressSeconds'), this.state('poll.waitSeconds')),
      },
      resultPath: this.state('poll'),
    });
  }

  private planFromProgress(r: number): sfn.Pass {
    const { divisor, below } = ELAPSED_RANGES[r];
    const elapsed = this.elapsed;
    const progress = this.progress;
    const logElapsed = divisor === 1
      ? Intrinsic.arrayGetItem(this.policy('log'), elapsed)
      : Intrinsic.arrayGetItem(this.policy('log'), Intrinsic.arrayLength(Intrinsic.arrayRange(divisor, elapsed, divisor)));
    const tableOffset = (table: string) => Intrinsic.arrayGetItem(Intrinsic.arrayGetItem(this.policy(table), r), progress);
    const waitIndex = Intrinsic.mathAdd(logElapsed, tableOffset('pace'));
    const sinceProgress = this.state('poll.sinceProgressSeconds');
    // 1 when progress moved since the last poll, else 0.
    const progressMoved = Intrinsic.mathAdd(Intrinsic.arrayLength(Intrinsic.arrayUnique(Intrinsic.array(progress, this.state('poll.progress')))), -1);
    const name = WaitLoopStates.planFromProgress(r);
    return new sfn.Pass(this.scope, name, {
      stateName: this.name(name),
      comment: `Plan the next poll from progress and elapsed time (elapsed below ${below} s).`,
      parameters: {
        ...this.carriedPoll({ except: 'blindStep' }),
        // Progress is back: a later lack of it starts the backoff from the beginning.
        'blindStep': 0,
        'progress.$': progress,
        'waitSeconds.$': Intrinsic.arrayGetItem(this.policy('waitSeconds'), waitIndex),
        ...this.plannedWait('progress', waitIndex),
        'stallAfterSeconds.$': Intrinsic.arrayGetItem(this.policy('seconds'), Intrinsic.mathAdd(logElapsed, tableOffset('stall'))),
        'sinceProgressSeconds.$': Intrinsic.arrayGetItem(
          Intrinsic.array(Intrinsic.mathAdd(sinceProgress, this.state('poll.waitSeconds')), 0), progressMoved),
      },
      resultPath: this.state('poll'),
    });
  }

  /** Decides what follows a plan: give up, leave after the round budget, cap the wait, or wait. */
  private guard(getExportTask: sfn.IChainable, exits: WaitLoopExits): sfn.Choice {
    const poll = (field: string) => this.state(`poll.${field}`);
    const guard = new sfn.Choice(this.scope, WaitLoopStates.GUARD_WAIT, { stateName: this.name(WaitLoopStates.GUARD_WAIT) });
    const capWhileStalled = new sfn.Pass(this.scope, WaitLoopStates.CAP_WHILE_STALLED, {
      stateName: this.name(WaitLoopStates.CAP_WHILE_STALLED),
      comment: 'Progress stopped moving: its estimate cannot be trusted, poll at the fallback interval.',
      parameters: {
        ...this.carriedPoll({ keepClock: true, countRound: false }),
        'waitSeconds.$': poll('fallbackSeconds'),
        ...this.plannedWait('fallback'),
        // Once progress has stalled, it stays distrusted; having no progress yet does not count.
        'stalled.$': Intrinsic.arrayGetItem(this.policy('positive'), poll('progress')),
      },
      resultPath: this.state('poll'),
    }).next(guard);
    const waitForNextPoll = new sfn.Wait(this.scope, WaitLoopStates.WAIT_FOR_NEXT_POLL, {
      stateName: this.name(WaitLoopStates.WAIT_FOR_NEXT_POLL),
      time: sfn.WaitTime.secondsPath(poll('waitSeconds')),
    }).next(getExportTask);
    return guard
      .when(this.deadlinePassed(), exits.timedOut)
      .when(sfn.Condition.numberGreaterThanEquals(poll('rounds'), this.settings.maxRounds), exits.roundsExhausted)
      .when(
        sfn.Condition.and(
          sfn.Condition.or(
            sfn.Condition.numberEquals(poll('stalled'), 1),
            sfn.Condition.numberGreaterThanJsonPath(poll('sinceProgressSeconds'), poll('stallAfterSeconds')),
          ),
          sfn.Condition.numberGreaterThanJsonPath(poll('waitSeconds'), poll('fallbackSeconds')),
        ),
        capWhileStalled,
      )
      .when(this.waitWouldPassDeadline(), this.waitUntilDeadline(waitForNextPoll, getExportTask))
      .otherwise(waitForNextPoll);
  }

  private deadlinePassed(): sfn.Condition {
    return this.settings.clock === 'deadline'
      ? sfn.Condition.timestampGreaterThanEqualsJsonPath(this.state('poll.checkedAt'), this.state('deadline'))
      : sfn.Condition.numberLessThanEquals(this.state('poll.remainingSeconds'), 0);
  }

  private waitWouldPassDeadline(): sfn.Condition {
    return this.settings.clock === 'deadline'
      ? sfn.Condition.timestampGreaterThanEqualsJsonPath(this.state('poll.checkedAt'), this.state('poll.latestStart'))
      : sfn.Condition.numberLessThanJsonPath(this.state('poll.remainingSeconds'), this.state('poll.waitSeconds'));
  }

  /** A last wait that ends at the deadline, then one last poll (the guard after it times out). */
  private waitUntilDeadline(waitForNextPoll: sfn.IChainable, getExportTask: sfn.IChainable): sfn.IChainable {
    if (this.settings.clock === 'deadline') {
      return new sfn.Wait(this.scope, WaitLoopStates.WAIT_UNTIL_DEADLINE, {
        stateName: this.name(WaitLoopStates.WAIT_UNTIL_DEADLINE),
        time: sfn.WaitTime.timestampPath(this.state('deadline')),
      }).next(getExportTask);
    }
    return new sfn.Pass(this.scope, WaitLoopStates.SPEND_REMAINING_TIME, {
      stateName: this.name(WaitLoopStates.SPEND_REMAINING_TIME),
      comment: 'The planned wait would pass the timeout: wait what remains, then poll a last time.',
      parameters: {
        ...this.carriedPoll({ keepClock: true, countRound: false, except: 'remainingSeconds' }),
        'waitSeconds.$': this.state('poll.remainingSeconds'),
        'remainingSeconds': 0,
        'negativeWaitSeconds': 0,
      },
      resultPath: this.state('poll'),
    }).next(waitForNextPoll);
  }

  /** The clock's fields of a planned wait: when it must start at the latest, or what it takes from the budget. */
  private plannedWait(kind: 'progress' | 'blind' | 'fallback', index?: Expression): Record<string, string> {
    if (this.settings.clock === 'deadline') {
      const table = { progress: 'latestStart', blind: 'blindLatestStart', fallback: 'fallbackLatestStart' }[kind];
      return { 'latestStart.$': index === undefined ? this.policy(table) : Intrinsic.arrayGetItem(this.policy(table), index) };
    }
    const table = { progress: 'negativeWaitSeconds', blind: 'negativeBlindWaitSeconds', fallback: 'negativeFallbackSeconds' }[kind];
    return { 'negativeWaitSeconds.$': index === undefined ? this.policy(table) : Intrinsic.arrayGetItem(this.policy(table), index) };
  }

  /** The poll bookkeeping a plan carries over, counting one more poll round (and its wait) unless told otherwise. */
  private carriedPoll(options: { keepClock?: boolean; countRound?: boolean; except?: string } = {}): Record<string, string> {
    const keep = (field: string) => (field === options.except ? {} : { [`${field}.$`]: this.state(`poll.${field}`) });
    const clockField = this.settings.clock === 'deadline' ? 'checkedAt' : 'remainingSeconds';
    const advancedClock: Record<string, string> = this.settings.clock === 'deadline'
      ? { 'checkedAt.$': '$$.State.EnteredTime' }
      : { 'remainingSeconds.$': Intrinsic.mathAdd(this.state('poll.remainingSeconds'), this.state('poll.negativeWaitSeconds')) };
    return {
      ...keep('progress'),
      ...keep('sinceProgressSeconds'),
      ...keep('stallAfterSeconds'),
      ...keep('stalled'),
      ...keep('blindStep'),
      ...keep('fallbackSeconds'),
      ...(options.keepClock ? keep(clockField) : advancedClock),
      ...(options.countRound === false ? keep('rounds') : { 'rounds.$': Intrinsic.mathAdd(this.state('poll.rounds'), 1) }),
    };
  }
}
