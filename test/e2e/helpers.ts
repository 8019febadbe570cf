/**
 * Small helpers for the end-to-end tests: a stack with one waiter, a deployment that is always
 * stopped after the test, and the checks every CloudFormation answer must pass.
 *
 * Where an end-to-end test spells a property name or resource type out (TaskIdentifier, SignalURL,
 * Custom::NeptuneGraphExport, ...) as CloudFormation's events and the synthesized template show it,
 * rather than importing it from src/runtime/constants.ts, that is on purpose: these tests play a
 * deployed stack from the outside, where a renamed constant is a broken contract and must fail them.
 */
import { App, Stack } from 'aws-cdk-lib';
import { RecordedAnswer } from '../../harness/cloudformation';
import { LocalDeployment, LocalDeploymentOptions, StateMachineDefinition } from '../../harness/local-deployment';
import { RecordedCall } from '../../harness/neptune-emulator';
import { ExportTaskWaiter, ExportTaskWaiterProps } from '../../src';

export const TASK_ID = 't-0123456789';
export const OTHER_TASK_ID = 't-abcdefghij';
/** What the handler answers as PhysicalResourceId when a Create fails before it knows a task. */
export { CREATE_FAILED_ID } from '../../lambda/common';

/** The answer body CloudFormation received. */
export interface AnswerBody {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** A stack with one waiter (for `TASK_ID` unless the props say otherwise). */
export function waiterStack(props: Partial<ExportTaskWaiterProps> = {}, configure?: (stack: Stack) => Partial<ExportTaskWaiterProps>): Stack {
  const app = new App();
  const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
  new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, ...props, ...configure?.(stack) });
  return stack;
}

/** Starts deployments and stops every one of them after each test, whatever happened. */
export function deploymentsStoppedAfterEach(): (stack: Stack, options?: LocalDeploymentOptions) => Promise<LocalDeployment> {
  const started: LocalDeployment[] = [];
  afterEach(async () => {
    for (const deployment of started.splice(0)) await deployment.stop();
  });
  return async (stack, options = {}) => {
    const deployment = await LocalDeployment.start(stack, { seed: 1, ...options });
    started.push(deployment);
    return deployment;
  };
}

/**
 * The CloudFormation contract of one answer: accepted exactly once, nothing wrong with it or with
 * any other answer, no request left hanging, and the ResponseURL never written to the log.
 */
export function answeredOnce(deployment: LocalDeployment, answer: RecordedAnswer): AnswerBody {
  expect(deployment.cloudFormation.violations).toEqual([]);
  expect(deployment.cloudFormation.answers(answer.requestId)).toHaveLength(1);
  expect(deployment.cloudFormation.unanswered()).toEqual([]);
  const leaks = deployment.logs.filter((line) => deployment.cloudFormation.secrets.some((secret) => line.includes(secret)));
  expect(leaks).toEqual([]);
  return answer.body as AnswerBody;
}

/** Virtual seconds at which CloudFormation received the answer. */
export const receivedAt = (answer: RecordedAnswer) => answer.receivedAt / 1000;

export const getExportTaskCalls = (deployment: LocalDeployment): RecordedCall[] =>
  deployment.emulator.calls.filter((call) => call.operation === 'GetExportTask');

/** The names of the Wait states an execution entered. */
export function waitStatesEntered(deployment: LocalDeployment, executionIndex = 0): string[] {
  const states = deployment.stateMachineDefinition.States;
  return deployment.executions[executionIndex].path.filter((name) => states[name].Type === 'Wait');
}

/** The deadline the handler gave the wait loop (virtual epoch seconds). */
export function deadlineOf(deployment: LocalDeployment, executionIndex = 0): number {
  const input = JSON.parse(deployment.executions[executionIndex].input) as { resume: { deadline: string } };
  return new Date(input.resume.deadline).getTime() / 1000;
}

/** The attributes a SUCCESS answer must carry, read from the emulator's view of the task. */
export function attributesOfEmulatedTask(described: Record<string, unknown>): Record<string, string> {
  // A task that never got past INITIALIZING reports no details: the handler answers zeros and ''.
  const details = (described.exportTaskDetails ?? {}) as Record<string, number>;
  return {
    TaskId: String(described.taskId),
    GraphId: String(described.graphId),
    Status: String(described.status),
    Format: String(described.format),
    ParquetType: described.parquetType === undefined ? '' : String(described.parquetType),
    Destination: String(described.destination),
    KmsKeyIdentifier: String(described.kmsKeyIdentifier),
    RoleArn: String(described.roleArn),
    NumVerticesWritten: String(details.numVerticesWritten ?? 0),
    NumEdgesWritten: String(details.numEdgesWritten ?? 0),
    TimeElapsedSeconds: String(details.timeElapsedSeconds ?? 0),
    StartTime: details.startTime === undefined ? '' : new Date(details.startTime * 1000).toISOString(),
  };
}

/**
 * Definition mutations, used only to prove the suite notices a broken definition.
 */
export const mutations = {
  /** Drops the given errors from the ErrorEquals of a state's Retry (and Catch) rules. */
  forget(stateName: string, error: string, fields: Array<'Retry' | 'Catch'>) {
    return (definition: StateMachineDefinition): StateMachineDefinition => {
      const state = definition.States[stateName];
      for (const field of fields) {
        const rules = state[field] as Array<{ ErrorEquals: string[] }> | undefined;
        state[field] = (rules ?? [])
          .map((rule) => ({ ...rule, ErrorEquals: rule.ErrorEquals.filter((e) => e !== error) }))
          .filter((rule) => rule.ErrorEquals.length > 0);
      }
      return definition;
    };
  },
};
