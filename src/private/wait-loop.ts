import { Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ANSWER_MARKER, ANSWER_NOT_DELIVERED, Outcome, ROUNDS_PER_EXECUTION } from '../runtime/constants';
import { ELAPSED_RANGES, LOOP_STATE_FIELDS } from '../runtime/polling-policy';

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
/** GetExportTask errors that no amount of waiting fixes: answer at once. */
export const PERMANENT_ERRORS = [
  'NeptuneGraph.ResourceNotFoundException',
  'NeptuneGraph.ValidationException',
  'NeptuneGraph.AccessDeniedException',
];
/**
 * Failures of the invoke that answers: Lambda throttling and service errors, and an invocation that
 * timed out or crashed. All are worth repeating: the handler answers idempotently (the same body to
 * the same URL), and giving up means CloudFormation waits out its timeout.
 */
export const ANSWER_INVOKE_ERRORS = [
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.Unknown',
  'Sandbox.Timedout',
];
/**
 * Failures of the continuation's StartExecution worth repeating: throttling (a common error of every
 * AWS API, named with the integration's StepFunctions prefix) and no reply in time. A repeat with the
 * same name and input finds the execution if the first attempt started it.
 */
const START_EXECUTION_RETRYABLE = ['StepFunctions.ThrottlingException', 'States.Timeout'];

const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED'];

/** The handler already retried the PUT a few times; the loop tries again over about a minute. */
const RETRY_UNDELIVERED: sfn.RetryProps = {
  errors: [ANSWER_NOT_DELIVERED],
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 4,
  jitterStrategy: sfn.JitterType.FULL,
};
/** About eight minutes of attempts: long enough for a throttled account, short of CloudFormation's patience. */
const RETRY_INVOKE: sfn.RetryProps = {
  errors: ANSWER_INVOKE_ERRORS,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
  maxAttempts: 12,
  jitterStrategy: sfn.JitterType.FULL,
};
const RETRY_THROTTLED_CALL: Omit<sfn.RetryProps, 'errors'> = {
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(30),
  maxAttempts: 5,
  jitterStrategy: sfn.JitterType.FULL,
};

const INPUT = '$$.Execution.Input';
const POLICY = `${INPUT}.policy`;
const DETAILS = '$.last.task.ExportTaskDetails';
const PROGRESS = `${DETAILS}.ProgressPercentage`;
const ELAPSED = `${DETAILS}.TimeElapsedSeconds`;

export interface WaitLoopProps {
  /** The handler that answers CloudFormation. */
  readonly answerFunction: lambda.IFunction;
  /** The ARN of the state machine the loop runs in (it continues in a new execution of itself). */
  readonly stateMachineArn: string;
}

/**
 * The Step Functions definition of the wait loop: GetExportTask through the AWS SDK integration
 * (no Lambda per poll), a Choice on the status, a Wait planned from the task's own progress, again;
 * it ends by invoking the handler, which answers CloudFormation.
 *
 * State data (every field exists on every path: a JSONPath reference to a missing field raises
 * States.Runtime, which no Catch handles): the LOOP_STATE_FIELDS (`taskId`, `export` until it is
 * started, `longWait`, `cancelOnTimeout`, `announcement`, `deadline`, `generation`, `last` with the
 * latest task and error, `poll` with the policy's bookkeeping), plus `answer` at the end. Every
 * execution starts from `resume` in its input: the handler's initial state, or the state an execution
 * handed over when it continued in a new one (Step Functions fails an execution at 25,000 history
 * events, so the loop continues after ROUNDS_PER_EXECUTION polls).
 *
 * The CloudFormation ResponseURL never enters the execution: the handler keeps it in Parameter Store.
 */
export function buildWaitLoop(scope: Construct, props: WaitLoopProps): sfn.IChainable {
  return new WaitLoopBuilder(scope, props).build();
}

class WaitLoopBuilder {
  private readonly S = WaitLoopStates;
  private readonly partition: string;
  private readonly exportTaskArns: string;
  private notDeliveredState?: sfn.Fail;

  constructor(private readonly scope: Construct, private readonly props: WaitLoopProps) {
    const stack = Stack.of(scope);
    this.partition = stack.partition;
    this.exportTaskArns = `arn:${stack.partition}:neptune-graph:${stack.region}:${stack.account}:export-task/*`;
  }

  public build(): sfn.IChainable {
    const answer = this.answer();
    const answerWith = (id: string, outcome: string, fields: Record<string, string>) =>
      new sfn.Pass(this.scope, id, { parameters: { outcome, ...fields }, resultPath: '$.answer' }).next(answer);
    const taskEnded = answerWith(this.S.TASK_ENDED, Outcome.TASK_ENDED, { 'task.$': '$.last.task' });
    const callFailed = answerWith(this.S.CALL_FAILED, Outcome.CALL_FAILED, { 'error.$': '$.last.error' });
    const startFailed = answerWith(this.S.START_FAILED, Outcome.START_FAILED, { 'error.$': '$.last.error' });
    const timedOut = this.cancelIfStartedHere(answerWith(this.S.TIMED_OUT, Outcome.TIMED_OUT, {
      'task.$': '$.last.task',
      'error.$': '$.last.error',
    }));

    const getExportTask = this.getExportTask();
    const planWithoutProgress = this.planWithoutProgress();
    const planFromProgress = ELAPSED_RANGES.map((_, r) => this.planFromProgress(r));
    const guardWait = this.guardWait(getExportTask, timedOut);
    planWithoutProgress.next(guardWait);
    planFromProgress.forEach((plan) => plan.next(guardWait));
    getExportTask.addCatch(callFailed, { errors: PERMANENT_ERRORS, resultPath: '$.last.error' });
    // Errors without a documented name (a failure to reach the service, say) may pass: keep polling,
    // and name the error in the reason if it still stands at the deadline.
    getExportTask.addCatch(planWithoutProgress, { errors: [sfn.Errors.ALL], resultPath: '$.last.error' });
    getExportTask.next(this.checkStatus(taskEnded, planWithoutProgress, planFromProgress));

    const announce = new sfn.Choice(this.scope, this.S.ANNOUNCE)
      // A continuation has announced already.
      .when(sfn.Condition.and(
        sfn.Condition.booleanEquals('$.longWait', true),
        sfn.Condition.booleanEquals('$.announcement.announced', false),
      ), this.answerStarted(getExportTask))
      .otherwise(getExportTask);
    return this.start().next(
      new sfn.Choice(this.scope, this.S.EXPORT_TO_START)
        .when(sfn.Condition.isNotNull('$.export'), this.startExportTask(startFailed, announce))
        .otherwise(announce),
    );
  }

  /** The loop state of this execution: the handler's initial state or the previous execution's. */
  private start(): sfn.Pass {
    return new sfn.Pass(this.scope, this.S.START, {
      comment: 'Take the loop state from the execution input (initial, or handed over by the previous execution).',
      parameters: { 'state.$': `${INPUT}.resume` },
      outputPath: '$.state',
    });
  }

  /**
   * A GraphExport starts its export here rather than in the handler: a redelivered Create finds
   * the same execution, so it can never start the export twice.
   */
  private startExportTask(startFailed: sfn.IChainable, then: sfn.IChainable): sfn.IChainable {
    const start = new sfn.CustomState(this.scope, this.S.START_EXPORT_TASK, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${this.partition}:states:::aws-sdk:neptunegraph:startExportTask`,
        InputPath: '$.export',
        // The whole result: a path to one field would raise States.Runtime if its casing differed.
        ResultSelector: { 'result.$': '$' },
        ResultPath: '$.started',
        TimeoutSeconds: 30,
      },
    });
    // Throttling, and a denial while IAM propagates a policy that CloudFormation has just created:
    // neither started an export. After an internal error or a timeout the export may have started.
    start.addRetry({ errors: ['NeptuneGraph.ThrottlingException', 'NeptuneGraph.AccessDeniedException'], ...RETRY_THROTTLED_CALL });
    start.addCatch(startFailed, { errors: [sfn.Errors.ALL], resultPath: '$.last.error' });

    const noted = (id: string, taskIdPath: string) => new sfn.Pass(this.scope, id, {
      parameters: loopState({ 'taskId.$': taskIdPath, 'export': null }),
    }).next(then);
    const noTaskId = new sfn.Pass(this.scope, this.S.NO_TASK_ID, {
      parameters: { 'Error': 'NoTaskIdReturned', 'Cause.$': 'States.JsonToString($.started.result)' },
      resultPath: '$.last.error',
    }).next(startFailed);
    return start.next(new sfn.Choice(this.scope, this.S.READ_STARTED_TASK_ID)
      .when(sfn.Condition.isPresent('$.started.result.TaskId'), noted(this.S.NOTE_STARTED_TASK, '$.started.result.TaskId'))
      .when(sfn.Condition.isPresent('$.started.result.taskId'), noted(this.S.NOTE_STARTED_TASK_CAMEL_CASE, '$.started.result.taskId'))
      .otherwise(noTaskId));
  }

  private getExportTask(): tasks.CallAwsService {
    const getExportTask = new tasks.CallAwsService(this.scope, this.S.GET_EXPORT_TASK, {
      service: 'neptunegraph',
      action: 'getExportTask',
      // CallAwsService would derive `neptunegraph:getExportTask`, which IAM does not know.
      iamAction: 'neptune-graph:GetExportTask',
      // The shared loop serves every waiter in the stack and task ids are only known at deploy
      // time, so the grant covers export tasks of this account and region.
      iamResources: [this.exportTaskArns],
      parameters: { 'TaskIdentifier.$': '$.taskId' },
      resultSelector: {
        // The export filter, which can be large, is dropped rather than carried in every poll's state.
        // Fields the service may omit are checked for presence by CheckStatus before anything reads them.
        'task.$': `States.JsonMerge($, ${POLICY}.taskOverrides, false)`,
        'at.$': '$$.State.EnteredTime',
        // A successful call clears the previous error: a timeout reports only an error that lasted.
        'error': {},
      },
      resultPath: '$.last',
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
    const status = '$.last.task.Status';
    const usable = (path: string) => sfn.Condition.and(sfn.Condition.isPresent(path), sfn.Condition.isNumeric(path));
    const choice = new sfn.Choice(this.scope, this.S.CHECK_STATUS)
      // No status at all (or under another casing than documented): report what came back.
      .when(sfn.Condition.not(sfn.Condition.isPresent(status)), taskEnded)
      .when(sfn.Condition.or(...TERMINAL_STATUSES.map((s) => sfn.Condition.stringEquals(status, s))), taskEnded)
      .when(sfn.Condition.not(usable(PROGRESS)), planWithoutProgress)
      .when(sfn.Condition.not(usable(ELAPSED)), planWithoutProgress)
      .when(sfn.Condition.or(
        sfn.Condition.numberLessThan(PROGRESS, 0),
        sfn.Condition.numberGreaterThan(PROGRESS, 100),
        sfn.Condition.numberLessThan(ELAPSED, 0),
      ), planWithoutProgress);
    ELAPSED_RANGES.forEach(({ below }, r) => choice.when(sfn.Condition.numberLessThan(ELAPSED, below), planFromProgress[r]));
    return choice.otherwise(planWithoutProgress);
  }

  private planWithoutProgress(): sfn.Pass {
    return new sfn.Pass(this.scope, this.S.PLAN_WITHOUT_PROGRESS, {
      comment: 'No usable progress (or a transient error): back off towards the fallback interval.',
      parameters: {
        ...carriedPoll(),
        'waitSeconds.$': `States.ArrayGetItem(${POLICY}.blindWaitSeconds, $.poll.blindStep)`,
        'latestStart.$': `States.ArrayGetItem(${POLICY}.blindLatestStart, $.poll.blindStep)`,
        'blindStep.$': `States.ArrayGetItem(${POLICY}.blindNextStep, $.poll.blindStep)`,
        'sinceProgressSeconds.$': 'States.MathAdd($.poll.sinceProgressSeconds, $.poll.waitSeconds)',
      },
      resultPath: '$.poll',
    });
  }

  private planFromProgress(r: number): sfn.Pass {
    const { divisor, below } = ELAPSED_RANGES[r];
    const logElapsed = divisor === 1
      ? `States.ArrayGetItem(${POLICY}.log, ${ELAPSED})`
      : `States.ArrayGetItem(${POLICY}.log, States.ArrayLength(States.ArrayRange(${divisor}, ${ELAPSED}, ${divisor})))`;
    const waitIndex = `States.MathAdd(${logElapsed}, States.ArrayGetItem(States.ArrayGetItem(${POLICY}.pace, ${r}), ${PROGRESS}))`;
    // 1 when progress moved since the last poll, else 0.
    const progressMoved = `States.MathAdd(States.ArrayLength(States.ArrayUnique(States.Array(${PROGRESS}, $.poll.progress))), -1)`;
    return new sfn.Pass(this.scope, this.S.planFromProgress(r), {
      comment: `Plan the next poll from progress and elapsed time (elapsed below ${below} s).`,
      parameters: {
        ...carriedPoll({ except: 'blindStep' }),
        // Progress is back: a later lack of it starts the backoff from the beginning.
        'blindStep': 0,
        'progress.$': PROGRESS,
        'waitSeconds.$': `States.ArrayGetItem(${POLICY}.waitSeconds, ${waitIndex})`,
        'latestStart.$': `States.ArrayGetItem(${POLICY}.latestStart, ${waitIndex})`,
        'stallAfterSeconds.$': `States.ArrayGetItem(${POLICY}.seconds, States.MathAdd(${logElapsed}, States.ArrayGetItem(States.ArrayGetItem(${POLICY}.stall, ${r}), ${PROGRESS})))`,
        'sinceProgressSeconds.$': `States.ArrayGetItem(States.Array(States.MathAdd($.poll.sinceProgressSeconds, $.poll.waitSeconds), 0), ${progressMoved})`,
      },
      resultPath: '$.poll',
    });
  }

  /** Decides what follows a plan: give up, continue in a new execution, cap the wait, or wait. */
  private guardWait(getExportTask: sfn.IChainable, timedOut: sfn.IChainable): sfn.Choice {
    const guardWait = new sfn.Choice(this.scope, this.S.GUARD_WAIT);
    const capWhileStalled = new sfn.Pass(this.scope, this.S.CAP_WHILE_STALLED, {
      comment: 'Progress stopped moving: its estimate cannot be trusted, poll at the fallback interval.',
      parameters: {
        ...carriedPoll({ keepCheckedAt: true, countRound: false }),
        'waitSeconds.$': '$.poll.fallbackSeconds',
        'latestStart.$': `${POLICY}.fallbackLatestStart`,
        // Once progress has stalled, it stays distrusted; having no progress yet does not count.
        'stalled.$': `States.ArrayGetItem(${POLICY}.positive, $.poll.progress)`,
      },
      resultPath: '$.poll',
    }).next(guardWait);
    const waitForNextPoll = new sfn.Wait(this.scope, this.S.WAIT_FOR_NEXT_POLL, { time: sfn.WaitTime.secondsPath('$.poll.waitSeconds') }).next(getExportTask);
    const waitUntilDeadline = new sfn.Wait(this.scope, this.S.WAIT_UNTIL_DEADLINE, { time: sfn.WaitTime.timestampPath('$.deadline') }).next(getExportTask);
    return guardWait
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath('$.poll.checkedAt', '$.deadline'), timedOut)
      .when(sfn.Condition.numberGreaterThanEquals('$.poll.rounds', ROUNDS_PER_EXECUTION), this.continueInNewExecution(timedOut))
      .when(
        sfn.Condition.and(
          sfn.Condition.or(
            sfn.Condition.numberEquals('$.poll.stalled', 1),
            sfn.Condition.numberGreaterThanJsonPath('$.poll.sinceProgressSeconds', '$.poll.stallAfterSeconds'),
          ),
          sfn.Condition.numberGreaterThanJsonPath('$.poll.waitSeconds', '$.poll.fallbackSeconds'),
        ),
        capWhileStalled,
      )
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath('$.poll.checkedAt', '$.poll.latestStart'), waitUntilDeadline)
      .otherwise(waitForNextPoll);
  }

  /**
   * Hands the loop state to a new execution of this state machine and ends this one, so no execution
   * nears Step Functions' 25,000-event history limit. The name is fixed per generation and the input
   * per state, so a repeated StartExecution finds the execution it started instead of a second one.
   */
  private continueInNewExecution(timedOut: sfn.IChainable): sfn.IChainable {
    const prepare = new sfn.Pass(this.scope, this.S.PREPARE_CONTINUATION, {
      parameters: {
        resume: loopState({
          'generation.$': 'States.MathAdd($.generation, 1)',
          'poll.$': `States.JsonMerge($.poll, ${POLICY}.newExecutionPoll, false)`,
        }),
      },
      resultPath: '$.continuation',
    });
    const continueTask = new sfn.CustomState(this.scope, this.S.CONTINUE_IN_NEW_EXECUTION, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${this.partition}:states:::states:startExecution`,
        Parameters: {
          'StateMachineArn': this.props.stateMachineArn,
          'Name.$': `States.Format('{}-{}', ${INPUT}.executionBase, $.continuation.resume.generation)`,
          'Input.$': `States.JsonMerge(${INPUT}, $.continuation, false)`,
        },
        ResultPath: null,
        TimeoutSeconds: 60,
      },
    });
    continueTask.addRetry({ errors: START_EXECUTION_RETRYABLE, ...RETRY_THROTTLED_CALL, maxAttempts: 8 });
    // Nobody else would answer: give up waiting with the state this execution has.
    continueTask.addCatch(timedOut, { errors: [sfn.Errors.ALL], resultPath: '$.last.error' });
    return prepare.next(continueTask).next(new sfn.Succeed(this.scope, this.S.CONTINUED));
  }

  /** A GraphExport with cancelOnDelete cancels the export it started when the wait times out. */
  private cancelIfStartedHere(then: sfn.IChainable): sfn.IChainable {
    // A custom state, not CallAwsService: the loop role is granted CancelExportTask only in stacks
    // with a GraphExport that asks for cancelling (WaiterInfrastructure.allowCancellingExports).
    const cancel = new sfn.CustomState(this.scope, this.S.CANCEL_EXPORT_TASK, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${this.partition}:states:::aws-sdk:neptunegraph:cancelExportTask`,
        Parameters: { 'TaskIdentifier.$': '$.taskId' },
        ResultPath: null,
        TimeoutSeconds: 30,
      },
    });
    cancel.addRetry({ errors: ['NeptuneGraph.ThrottlingException', 'NeptuneGraph.InternalServerException'], ...RETRY_THROTTLED_CALL });
    // Already ended (Conflict) or gone: nothing to cancel. The answer goes out either way.
    cancel.addCatch(then, { errors: [sfn.Errors.ALL], resultPath: sfn.JsonPath.DISCARD });
    return new sfn.Choice(this.scope, this.S.CANCEL_IF_STARTED_HERE)
      .when(sfn.Condition.booleanEquals('$.cancelOnTimeout', true), cancel.next(then))
      .otherwise(then);
  }

  private answer(): tasks.LambdaInvoke {
    const answer = this.invokeHandler(this.S.ANSWER, {
      'answer.$': '$.answer',
      'taskId.$': '$.taskId',
      'timeoutSeconds.$': `${INPUT}.timeoutSeconds`,
      'request.$': `${INPUT}.request`,
      'announced.$': '$.announcement.announced',
    }, { resultPath: sfn.JsonPath.DISCARD });
    answer.next(new sfn.Succeed(this.scope, this.S.DONE));
    return answer;
  }

  /** Long-wait mode: the custom resource is answered once the task is known; a WaitCondition waits. */
  private answerStarted(then: sfn.IChainable): tasks.LambdaInvoke {
    const answerStarted = this.invokeHandler(this.S.ANSWER_STARTED, {
      'phase': 'started',
      'taskId.$': '$.taskId',
      'request.$': `${INPUT}.request`,
    }, { resultSelector: { announced: true }, resultPath: '$.announcement' });
    answerStarted.next(then);
    return answerStarted;
  }

  private invokeHandler(id: string, payload: Record<string, unknown>, output: Pick<tasks.LambdaInvokeProps, 'resultPath' | 'resultSelector'>): tasks.LambdaInvoke {
    const invoke = new tasks.LambdaInvoke(this.scope, id, {
      lambdaFunction: this.props.answerFunction,
      payload: sfn.TaskInput.fromObject({ [ANSWER_MARKER]: payload }),
      // RETRY_INVOKE covers the service exceptions too, with a longer horizon.
      retryOnServiceExceptions: false,
      ...output,
    });
    invoke.addRetry(RETRY_INVOKE);
    invoke.addRetry(RETRY_UNDELIVERED);
    invoke.addCatch(this.notDelivered());
    return invoke;
  }

  private notDelivered(): sfn.Fail {
    this.notDeliveredState ??= new sfn.Fail(this.scope, this.S.ANSWER_NOT_DELIVERED, {
      comment: 'CloudFormation refused or never received the answer, or the handler could not be invoked; the handler log says why.',
      error: ANSWER_NOT_DELIVERED,
      cause: 'The answer could not be delivered to CloudFormation (see the handler log).',
    });
    return this.notDeliveredState;
  }
}

/** Parameters of a Pass that rewrites the whole loop state, changing only the fields given. */
function loopState(changes: Record<string, unknown>): Record<string, unknown> {
  const changed = new Set(Object.keys(changes).map((key) => key.replace(/\.\$$/, '')));
  const kept = LOOP_STATE_FIELDS.filter((field) => !changed.has(field)).map((field) => [`${field}.$`, `$.${field}`]);
  return { ...Object.fromEntries(kept), ...changes };
}

/** The poll bookkeeping a plan carries over, counting one more poll round unless told otherwise. */
function carriedPoll(options: { keepCheckedAt?: boolean; countRound?: boolean; except?: string } = {}): Record<string, string> {
  const keep = (field: string) => (field === options.except ? {} : { [`${field}.$`]: `$.poll.${field}` });
  return {
    ...keep('progress'),
    ...keep('sinceProgressSeconds'),
    ...keep('stallAfterSeconds'),
    ...keep('stalled'),
    ...keep('blindStep'),
    ...keep('fallbackSeconds'),
    ...(options.keepCheckedAt ? keep('checkedAt') : { 'checkedAt.$': '$$.State.EnteredTime' }),
    ...(options.countRound === false ? keep('rounds') : { 'rounds.$': 'States.MathAdd($.poll.rounds, 1)' }),
  };
}
