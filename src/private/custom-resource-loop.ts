import { Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { Intrinsic } from './intrinsics';
import { RETRY_THROTTLED_CALL, WaitLoop, WaitLoopStates } from './wait-loop';
import { ANSWER_MARKER, ANSWER_NOT_DELIVERED, Outcome, ROUNDS_PER_EXECUTION } from '../runtime/constants';
import { LOOP_STATE_FIELDS } from '../runtime/polling-policy';

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

const INPUT = '$$.Execution.Input';

export interface CustomResourceLoopProps {
  /** The handler that answers CloudFormation. */
  readonly answerFunction: lambda.IFunction;
  /** The ARN of the state machine the loop runs in (it continues in a new execution of itself). */
  readonly stateMachineArn: string;
}

/**
 * The custom resource's state machine: the wait loop (wait-loop.ts) between the parts only a custom
 * resource has. It starts from `resume` in the execution input (the handler's initial state, or the
 * state an execution handed over when it continued in a new one: Step Functions fails an execution
 * at 25,000 history events, so the loop continues after ROUNDS_PER_EXECUTION polls), reads the
 * policy from `$$.Execution.Input.policy` (computed by the handler, deadline included), and ends by
 * invoking the handler, which answers CloudFormation.
 *
 * State data: the LOOP_STATE_FIELDS (`taskId`, `export` until it is started, `longWait`,
 * `cancelOnTimeout`, `announcement`, `deadline`, `generation`, `last`, `poll`), plus `answer` at the end.
 * The CloudFormation ResponseURL never enters the execution: the handler keeps it in Parameter Store.
 */
export function buildWaitLoop(scope: Construct, props: CustomResourceLoopProps): sfn.IChainable {
  return new CustomResourceLoop(scope, props).build();
}

class CustomResourceLoop {
  private readonly S = WaitLoopStates;
  private readonly partition: string;
  private readonly exportTaskArns: string;
  private readonly loop: WaitLoop;
  private notDeliveredState?: sfn.Fail;

  constructor(private readonly scope: Construct, private readonly props: CustomResourceLoopProps) {
    const stack = Stack.of(scope);
    this.partition = stack.partition;
    this.exportTaskArns = `arn:${stack.partition}:neptune-graph:${stack.region}:${stack.account}:export-task/*`;
    this.loop = new WaitLoop(scope, {
      statePath: '$',
      policyPath: `${INPUT}.policy`,
      taskOverrides: `${INPUT}.policy.taskOverrides`,
      clock: 'deadline',
      maxRounds: ROUNDS_PER_EXECUTION,
      stateFields: LOOP_STATE_FIELDS,
    });
  }

  public build(): sfn.IChainable {
    const answer = this.answer();
    const answerWith = (id: string, outcome: string, fields: Record<string, string>) =>
      new sfn.Pass(this.scope, id, { parameters: { outcome, ...fields }, resultPath: '$.answer' }).next(answer);
    const callFailed = answerWith(this.S.CALL_FAILED, Outcome.CALL_FAILED, { 'error.$': '$.last.error' });
    const startFailed = answerWith(this.S.START_FAILED, Outcome.START_FAILED, { 'error.$': '$.last.error' });
    const timedOut = this.cancelIfStartedHere(answerWith(this.S.TIMED_OUT, Outcome.TIMED_OUT, {
      'task.$': '$.last.task',
      'error.$': '$.last.error',
    }));
    const getExportTask = this.loop.pollUntilEnded({
      taskEnded: answerWith(this.S.TASK_ENDED, Outcome.TASK_ENDED, { 'task.$': '$.last.task' }),
      callFailed,
      timedOut,
      roundsExhausted: this.continueInNewExecution(timedOut),
    }, [this.exportTaskArns]);

    const announce = new sfn.Choice(this.scope, this.S.ANNOUNCE)
      // A continuation has announced already.
      .when(sfn.Condition.and(
        sfn.Condition.booleanEquals('$.longWait', true),
        sfn.Condition.booleanEquals('$.announcement.announced', false),
      ), this.answerStarted(getExportTask))
      .otherwise(getExportTask);
    return this.start().next(
      new sfn.Choice(this.scope, this.S.EXPORT_TO_START)
        .when(sfn.Condition.isNotNull('$.export'), this.loop.startExport(this.startExportTask(), startFailed, announce))
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
   * the same execution, so it can never start the export twice. A custom state, not CallAwsService
   * (which the fragment uses): the request is built by the handler and arrives whole at `$.export`,
   * while CallAwsService always renders `Parameters`, which would replace it; and the grants differ
   * per GraphExport (WaiterInfrastructure.allowStartingExports), not per state.
   */
  private startExportTask(): sfn.CustomState {
    const { resultSelector, resultPath } = this.loop.startedResult;
    return new sfn.CustomState(this.scope, this.S.START_EXPORT_TASK, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${this.partition}:states:::aws-sdk:neptunegraph:startExportTask`,
        InputPath: '$.export',
        ResultSelector: resultSelector,
        ResultPath: resultPath,
        TimeoutSeconds: 30,
      },
    });
  }

  /**
   * Hands the loop state to a new execution of this state machine and ends this one, so no execution
   * nears Step Functions' 25,000-event history limit. The name is fixed per generation and the input
   * per state, so a repeated StartExecution finds the execution it started instead of a second one.
   */
  private continueInNewExecution(timedOut: sfn.IChainable): sfn.IChainable {
    const prepare = new sfn.Pass(this.scope, this.S.PREPARE_CONTINUATION, {
      parameters: {
        resume: this.loop.rewrite({
          'generation.$': Intrinsic.mathAdd('$.generation', 1),
          'poll.$': Intrinsic.jsonMerge('$.poll', `${INPUT}.policy.newExecutionPoll`),
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
          'Name.$': Intrinsic.format('{}-{}', `${INPUT}.executionBase`, '$.continuation.resume.generation'),
          'Input.$': Intrinsic.jsonMerge(INPUT, '$.continuation'),
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
