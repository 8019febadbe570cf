import { Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ANSWER_MARKER, ANSWER_NOT_DELIVERED, Outcome } from './constants';
import { ELAPSED_RANGES } from './polling-policy';

/** Names of the loop's states (the local harness maps the Task states by name). */
export const WaitLoopStates = {
  START: 'StartWaiting',
  EXPORT_TO_START: 'ExportToStart',
  START_EXPORT_TASK: 'StartExportTask',
  NOTE_STARTED_TASK: 'NoteStartedTask',
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
  TASK_ENDED: 'TaskEnded',
  TIMED_OUT: 'TimedOut',
  CALL_FAILED: 'CallFailed',
  ANSWER: 'AnswerCloudFormation',
  ANSWER_NOT_DELIVERED: 'AnswerNotDelivered',
  DONE: 'Answered',
} as const;

/** GetExportTask errors that say nothing about the task: retry, then keep polling until the deadline. */
export const TRANSIENT_ERRORS = [
  'NeptuneGraph.ThrottlingException',
  'NeptuneGraph.InternalServerException',
  'NeptuneGraph.ServiceUnavailableException',
  // A failure to reach the service at all (a reset connection); the name is unverified.
  'NeptuneGraph.SdkClientException',
  'States.Timeout',
];
/** GetExportTask errors that no amount of waiting fixes: answer at once. */
export const PERMANENT_ERRORS = [
  'NeptuneGraph.ResourceNotFoundException',
  'NeptuneGraph.ValidationException',
  'NeptuneGraph.AccessDeniedException',
];
const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED'];
/** Status the loop substitutes when GetExportTask returns none (see PollingPolicy.taskDefaults). */
const MISSING_STATUS = 'MISSING';

/** The handler already retried the PUT a few times; the loop tries again over about a minute. */
const RETRY_UNDELIVERED: sfn.RetryProps = {
  errors: [ANSWER_NOT_DELIVERED],
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 4,
  jitterStrategy: sfn.JitterType.FULL,
};

const INPUT = '$$.Execution.Input';
const POLICY = `${INPUT}.policy`;

export interface WaitLoopProps {
  /** The handler that answers CloudFormation. */
  readonly answerFunction: lambda.IFunction;
}

/**
 * The Step Functions definition of the wait loop: GetExportTask through the AWS SDK integration
 * (no Lambda per poll), a Choice on the status, a Wait planned from the task's own progress, again;
 * it ends by invoking the handler, which answers CloudFormation.
 *
 * State data: `taskId`, `deadline` (ISO timestamp), `last` (the latest GetExportTask result and when
 * it was taken), `error` (the latest caught error), `poll` (the policy's bookkeeping) and `answer`.
 * Every path read here exists on every path through the loop: a JSONPath reference to a missing
 * field raises States.Runtime, which no Catch can handle.
 */
export function buildWaitLoop(scope: Construct, props: WaitLoopProps): sfn.IChainable {
  const partition = Stack.of(scope).partition;
  const region = Stack.of(scope).region;
  const account = Stack.of(scope).account;
  const S = WaitLoopStates;

  const start = new sfn.Pass(scope, S.START, {
    comment: 'Copy what the loop needs out of the execution input; the CloudFormation ResponseURL stays there.',
    parameters: {
      // null for a GraphExport until StartExportTask returned the id.
      'taskId.$': `${INPUT}.taskIdentifier`,
      // The StartExportTask request of a GraphExport, or null for a waiter.
      'export.$': `${INPUT}.startExportTask`,
      'longWait.$': `${INPUT}.longWait`,
      'announcement': { announced: false },
      'deadline.$': `${INPUT}.deadline`,
      'last': { task: {} },
      'error': {},
      'poll': {
        'waitSeconds': 0,
        'progress': -1,
        'sinceProgressSeconds': 0,
        'stallAfterSeconds': 0,
        'stalled': 0,
        'blindStep': 0,
        'fallbackSeconds.$': `${POLICY}.fallbackIntervalSeconds`,
      },
    },
  });

  const getExportTask = new tasks.CallAwsService(scope, S.GET_EXPORT_TASK, {
    service: 'neptunegraph',
    action: 'getExportTask',
    // CallAwsService would derive `neptunegraph:getExportTask`, which IAM does not know.
    iamAction: 'neptune-graph:GetExportTask',
    // The shared loop serves every waiter in the stack and task ids are only known at deploy
    // time, so the grant covers export tasks of this account and region.
    iamResources: [`arn:${partition}:neptune-graph:${region}:${account}:export-task/*`],
    parameters: { 'TaskIdentifier.$': '$.taskId' },
    resultSelector: {
      // Optional fields (ExportTaskDetails is absent while INITIALIZING) get defaults.
      'task.$': `States.JsonMerge(${POLICY}.taskDefaults, $, false)`,
      'at.$': '$$.State.EnteredTime',
    },
    resultPath: '$.last',
    taskTimeout: sfn.Timeout.duration(Duration.seconds(30)),
  });
  getExportTask.addRetry({
    errors: TRANSIENT_ERRORS,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxDelay: Duration.seconds(30),
    maxAttempts: 5,
    jitterStrategy: sfn.JitterType.FULL,
  });
  getExportTask.addRetry({ errors: PERMANENT_ERRORS, maxAttempts: 0 });
  // Unknown errors (an IAM denial may not carry a specific name) get two quick retries, then fail.
  getExportTask.addRetry({
    errors: [sfn.Errors.ALL],
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 2,
    jitterStrategy: sfn.JitterType.FULL,
  });

  const answer = new tasks.LambdaInvoke(scope, S.ANSWER, {
    lambdaFunction: props.answerFunction,
    payload: sfn.TaskInput.fromObject({
      [ANSWER_MARKER]: {
        'answer.$': '$.answer',
        'taskId.$': '$.taskId',
        'timeoutSeconds.$': `${INPUT}.timeoutSeconds`,
        'cloudFormation.$': `${INPUT}.cloudFormation`,
        'signal.$': `${INPUT}.signal`,
        'announced.$': '$.announcement.announced',
      },
    }),
    resultPath: sfn.JsonPath.DISCARD,
    retryOnServiceExceptions: true,
  });
  answer.addRetry(RETRY_UNDELIVERED);
  const notDelivered = new sfn.Fail(scope, S.ANSWER_NOT_DELIVERED, {
    comment: 'CloudFormation refused or never received the answer; the handler logged why.',
    error: ANSWER_NOT_DELIVERED,
    cause: 'The answer could not be delivered to CloudFormation (see the handler log).',
  });
  answer.addCatch(notDelivered);
  answer.next(new sfn.Succeed(scope, S.DONE));

  const answerWith = (id: string, outcome: string, fields: Record<string, string>) =>
    new sfn.Pass(scope, id, {
      parameters: { outcome, ...fields },
      resultPath: '$.answer',
    }).next(answer);
  const taskEnded = answerWith(S.TASK_ENDED, Outcome.TASK_ENDED, { 'task.$': '$.last.task' });
  const timedOut = answerWith(S.TIMED_OUT, Outcome.TIMED_OUT, { 'task.$': '$.last.task', 'error.$': '$.error' });
  const callFailed = answerWith(S.CALL_FAILED, Outcome.CALL_FAILED, { 'error.$': '$.error' });

  const startFailed = answerWith(S.START_FAILED, Outcome.START_FAILED, { 'error.$': '$.error' });
  getExportTask.addCatch(callFailed, { errors: PERMANENT_ERRORS, resultPath: '$.error' });

  // Bookkeeping every plan carries over unless it changes it.
  const keep = (field: string) => ({ [`${field}.$`]: `$.poll.${field}` });
  const carried = {
    ...keep('progress'),
    ...keep('sinceProgressSeconds'),
    ...keep('stallAfterSeconds'),
    ...keep('stalled'),
    ...keep('blindStep'),
    ...keep('fallbackSeconds'),
    'checkedAt.$': '$$.State.EnteredTime',
  };

  const carriedExcept = (field: string) =>
    Object.fromEntries(Object.entries(carried).filter(([key]) => key !== `${field}.$`));

  const planWithoutProgress = new sfn.Pass(scope, S.PLAN_WITHOUT_PROGRESS, {
    comment: 'No usable progress (or a transient error): back off towards the fallback interval.',
    parameters: {
      ...carried,
      'waitSeconds.$': `States.ArrayGetItem(${POLICY}.blindWaitSeconds, $.poll.blindStep)`,
      'latestStart.$': `States.ArrayGetItem(${POLICY}.blindLatestStart, $.poll.blindStep)`,
      'blindStep.$': `States.ArrayGetItem(${POLICY}.blindNextStep, $.poll.blindStep)`,
      'sinceProgressSeconds.$': 'States.MathAdd($.poll.sinceProgressSeconds, $.poll.waitSeconds)',
    },
    resultPath: '$.poll',
  });
  getExportTask.addCatch(planWithoutProgress, { errors: TRANSIENT_ERRORS, resultPath: '$.error' });
  getExportTask.addCatch(callFailed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

  const details = '$.last.task.ExportTaskDetails';
  const progress = `${details}.ProgressPercentage`;
  const elapsed = `${details}.TimeElapsedSeconds`;
  // 1 when progress moved since the last poll, else 0.
  const progressMoved = `States.MathAdd(States.ArrayLength(States.ArrayUnique(States.Array(${progress}, $.poll.progress))), -1)`;
  const planFromProgress = ELAPSED_RANGES.map(({ divisor }, r) => {
    const logElapsed = divisor === 1
      ? `States.ArrayGetItem(${POLICY}.log, ${elapsed})`
      : `States.ArrayGetItem(${POLICY}.log, States.ArrayLength(States.ArrayRange(${divisor}, ${elapsed}, ${divisor})))`;
    const waitIndex = `States.MathAdd(${logElapsed}, States.ArrayGetItem(States.ArrayGetItem(${POLICY}.pace, ${r}), ${progress}))`;
    return new sfn.Pass(scope, S.planFromProgress(r), {
      comment: `Plan the next poll from progress and elapsed time (elapsed below ${ELAPSED_RANGES[r].below} s).`,
      parameters: {
        ...carriedExcept('blindStep'),
        // Progress is back: a later lack of it starts the backoff from the beginning.
        'blindStep': 0,
        'progress.$': progress,
        'waitSeconds.$': `States.ArrayGetItem(${POLICY}.waitSeconds, ${waitIndex})`,
        'latestStart.$': `States.ArrayGetItem(${POLICY}.latestStart, ${waitIndex})`,
        'stallAfterSeconds.$': `States.ArrayGetItem(${POLICY}.seconds, States.MathAdd(${logElapsed}, States.ArrayGetItem(States.ArrayGetItem(${POLICY}.stall, ${r}), ${progress})))`,
        'sinceProgressSeconds.$': `States.ArrayGetItem(States.Array(States.MathAdd($.poll.sinceProgressSeconds, $.poll.waitSeconds), 0), ${progressMoved})`,
      },
      resultPath: '$.poll',
    });
  });

  const guardWait = new sfn.Choice(scope, S.GUARD_WAIT);
  const capWhileStalled = new sfn.Pass(scope, S.CAP_WHILE_STALLED, {
    comment: 'Progress stopped moving: its estimate cannot be trusted, poll at the fallback interval.',
    parameters: {
      ...keep('checkedAt'),
      ...keep('progress'),
      ...keep('sinceProgressSeconds'),
      ...keep('stallAfterSeconds'),
      ...keep('blindStep'),
      ...keep('fallbackSeconds'),
      'waitSeconds.$': '$.poll.fallbackSeconds',
      'latestStart.$': `${POLICY}.fallbackLatestStart`,
      // Once progress has stalled, it stays distrusted; having no progress yet does not count.
      'stalled.$': `States.ArrayGetItem(${POLICY}.positive, $.poll.progress)`,
    },
    resultPath: '$.poll',
  }).next(guardWait);
  const waitForNextPoll = new sfn.Wait(scope, S.WAIT_FOR_NEXT_POLL, {
    time: sfn.WaitTime.secondsPath('$.poll.waitSeconds'),
  }).next(getExportTask);
  const waitUntilDeadline = new sfn.Wait(scope, S.WAIT_UNTIL_DEADLINE, {
    time: sfn.WaitTime.timestampPath('$.deadline'),
  }).next(getExportTask);

  guardWait
    .when(sfn.Condition.timestampGreaterThanEqualsJsonPath('$.poll.checkedAt', '$.deadline'), timedOut)
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

  planWithoutProgress.next(guardWait);
  planFromProgress.forEach((plan) => plan.next(guardWait));

  const status = '$.last.task.Status';
  const checkStatus = new sfn.Choice(scope, S.CHECK_STATUS)
    .when(
      sfn.Condition.or(...[...TERMINAL_STATUSES, MISSING_STATUS].map((s) => sfn.Condition.stringEquals(status, s))),
      taskEnded,
    )
    .when(
      sfn.Condition.or(sfn.Condition.numberLessThan(progress, 0), sfn.Condition.numberLessThan(elapsed, 0)),
      planWithoutProgress,
    );
  ELAPSED_RANGES.forEach(({ below }, r) => {
    checkStatus.when(sfn.Condition.numberLessThan(elapsed, below), planFromProgress[r]);
  });
  checkStatus.otherwise(planWithoutProgress);

  // A GraphExport starts its export here rather than in the handler: a redelivered Create finds
  // the same execution, so it can never start the export twice.
  const startExportTask = new sfn.CustomState(scope, S.START_EXPORT_TASK, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${partition}:states:::aws-sdk:neptunegraph:startExportTask`,
      InputPath: '$.export',
      ResultSelector: { 'taskId.$': '$.TaskId' },
      ResultPath: '$.started',
      TimeoutSeconds: 30,
    },
  });
  // Only throttling is retried: after an internal error or a timeout the export may have started.
  startExportTask.addRetry({
    errors: ['NeptuneGraph.ThrottlingException'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxDelay: Duration.seconds(30),
    maxAttempts: 5,
    jitterStrategy: sfn.JitterType.FULL,
  });
  startExportTask.addCatch(startFailed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
  const noteStartedTask = new sfn.Pass(scope, S.NOTE_STARTED_TASK, { inputPath: '$.started.taskId', resultPath: '$.taskId' });

  // Long-wait mode: the custom resource is answered once the task is known; a WaitCondition waits.
  const answerStarted = new tasks.LambdaInvoke(scope, S.ANSWER_STARTED, {
    lambdaFunction: props.answerFunction,
    payload: sfn.TaskInput.fromObject({
      [ANSWER_MARKER]: {
        'phase': 'started',
        'taskId.$': '$.taskId',
        'cloudFormation.$': `${INPUT}.cloudFormation`,
      },
    }),
    resultSelector: { announced: true },
    resultPath: '$.announcement',
    retryOnServiceExceptions: true,
  });
  answerStarted.addRetry(RETRY_UNDELIVERED);
  answerStarted.addCatch(notDelivered);
  answerStarted.next(getExportTask);
  const announce = new sfn.Choice(scope, S.ANNOUNCE)
    .when(sfn.Condition.booleanEquals('$.longWait', true), answerStarted)
    .otherwise(getExportTask);

  start.next(
    new sfn.Choice(scope, S.EXPORT_TO_START)
      .when(sfn.Condition.isNotNull('$.export'), startExportTask.next(noteStartedTask).next(announce))
      .otherwise(announce),
  );
  getExportTask.next(checkStatus);
  return start;
}
