/**
 * Create and Update: check the request, keep its secrets in Parameter Store, and start the execution
 * of the wait loop that answers it (loop-answers.ts). The handler itself answers only a request it
 * refuses, or one it could not start waiting for.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { CloudFormationRequest } from './cloudformation-request';
import { isObject, Json, log, text } from './common';
import { isRunning, startExecution, stopSupersededExecutions } from './executions';
import { cancelExportsStartedFor } from './export-cancellation';
import { LoopRequest } from './loop-answers';
import { forget, requestParameterName, storeRequestSecrets } from './parameter-store';
import { executionBaseName, resourceKey } from './physical-id';
import { envelopeProblem, readSettings, Settings } from './request-settings';
import { Env, ResourceProperties } from '../src/runtime/constants';
import { buildPollingPolicy, initialLoopState } from '../src/runtime/polling-policy';

/** Step Functions refuses larger execution input (and state data). */
const MAX_EXECUTION_INPUT_BYTES = 256 * 1024;

type ExecutionInput = ReturnType<typeof executionInput>;

/** `failedId` is the physical id to answer if the request fails. */
export async function startWait(request: CloudFormationRequest, requestType: 'Create' | 'Update', failedId: string): Promise<void> {
  const { event, responder, logFields } = request;
  // The answer must echo these, and the execution is named after them: without them the answer
  // could not be matched, and two such requests would share one execution (and one answer).
  const envelope = envelopeProblem(event);
  if (envelope) {
    log('WARN', 'Invalid request', { ...logFields, problem: envelope });
    return responder.answer('FAILED', { reason: envelope, physicalResourceId: failedId });
  }
  const settings = readSettings(event);
  if (typeof settings === 'string') {
    log('WARN', 'Invalid properties', { ...logFields, problem: settings });
    return responder.answer('FAILED', { reason: settings, physicalResourceId: failedId });
  }
  const stateMachineArn = process.env[Env.STATE_MACHINE_ARN];
  if (!stateMachineArn) {
    return responder.answer('FAILED', { reason: `The waiter function has no ${Env.STATE_MACHINE_ARN} environment variable`, physicalResourceId: failedId });
  }

  const key = resourceKey(text(event.StackId), text(event.LogicalResourceId));
  const executionBase = executionBaseName(key, text(event.RequestId));
  if (requestType === 'Update') await abandonEarlierRequests(event, stateMachineArn, key, executionBase, settings, request.answerDueMs);

  const input = executionInput(event, settings, executionBase, failedId);
  const serialized = JSON.stringify(input);
  if (Buffer.byteLength(serialized) > MAX_EXECUTION_INPUT_BYTES) {
    return responder.answer('FAILED', {
      reason: `The request is too large to wait for (${Buffer.byteLength(serialized)} bytes of execution input, Step Functions accepts`
        + ` ${MAX_EXECUTION_INPUT_BYTES}): make the export filter smaller`,
      physicalResourceId: failedId,
    });
  }
  return startExecutionFor(request, settings, stateMachineArn, input, serialized);
}

/**
 * Keeps the request's secrets, then starts the execution that answers it, unless the handler's own
 * out-of-time answer went out first.
 */
async function startExecutionFor(
  request: CloudFormationRequest, settings: Settings, stateMachineArn: string, input: ExecutionInput, serialized: string,
): Promise<void> {
  const { event, responder, logFields } = request;
  const executionBase = input.executionBase;
  // The secrets stay out of the execution: its input and history are readable by anyone allowed states:DescribeExecution.
  const secrets = { ResponseURL: String(event.ResponseURL), ...(settings.signalUrl ? { SignalURL: settings.signalUrl } : {}) };
  await storeRequestSecrets(input.request.parameterName, secrets);
  responder.storedAt = input.request.parameterName;
  const command = new StartExecutionCommand({ stateMachineArn, name: executionBase, input: serialized });
  // Once the out-of-time answer went out, an execution started now would answer a second time.
  const started = await startExecution(command, { ...logFields, execution: executionBase }, request.answerBy, () => !responder.answered);
  if (started === 'answered-already') return;
  // From here the execution answers, and deletes the secrets when it does.
  responder.storedAt = undefined;
  if (started === 'exists') {
    // A redelivered request: the execution that serves it may have answered and deleted the secrets
    // already, which storing them again has just undone.
    if (!(await isRunning(stateMachineArn, executionBase))) await forget(input.request.parameterName);
    return;
  }
  const what = settings.plan.startExportTask ? 'Starting the export' : settings.plan.rereadPhysicalId ? 'Reading the export task again' : 'Waiting for the export task';
  log('INFO', what, { ...logFields, taskId: settings.plan.taskId, execution: executionBase, timeoutSeconds: settings.timeoutSeconds, longWait: settings.signalUrl !== null });
}

/**
 * An Update (a rollback, say) that CloudFormation sends while an execution still waits for an
 * earlier request of the same resource has abandoned that request: stop the execution, and cancel
 * the export it started when the resource asks for that.
 */
async function abandonEarlierRequests(
  event: Json, stateMachineArn: string, key: string, executionBase: string, settings: Settings, deadlineMs: number,
): Promise<void> {
  const stopped = await stopSupersededExecutions(stateMachineArn, key, executionBase);
  if (stopped === 0 || !settings.cancelOnDelete) return;
  const old = isObject(event.OldResourceProperties) ? event.OldResourceProperties[ResourceProperties.EXPORT] : undefined;
  await cancelExportsStartedFor([old as Json], settings.plan.taskId ?? undefined, deadlineMs);
}

function executionInput(event: Json, settings: Settings, executionBase: string, failedId: string) {
  const deadline = new Date(Date.now() + settings.timeoutSeconds * 1000);
  const policy = buildPollingPolicy({ minIntervalSeconds: settings.minPollSeconds, maxIntervalSeconds: settings.maxPollSeconds, deadline });
  const request: LoopRequest = {
    parameterName: requestParameterName(executionBase),
    StackId: text(event.StackId),
    RequestId: text(event.RequestId),
    LogicalResourceId: text(event.LogicalResourceId),
    fingerprint: settings.plan.fingerprint,
    previous: settings.plan.previous,
    rereadPhysicalId: settings.plan.rereadPhysicalId,
    countsInMetrics: settings.countsInMetrics,
    // On failure an Update keeps its resource; a Create reports the task (the loop knows it).
    failedPhysicalResourceId: event.RequestType === 'Update' ? failedId : null,
  };
  return {
    taskIdentifier: settings.plan.taskId,
    timeoutSeconds: settings.timeoutSeconds,
    executionBase,
    policy,
    request,
    resume: initialLoopState({
      taskId: settings.plan.taskId,
      startExportTask: settings.plan.startExportTask,
      longWait: settings.signalUrl !== null,
      cancelOnTimeout: settings.cancelOnDelete && settings.plan.startExportTask !== null,
      deadline,
      policy,
    }),
  };
}
