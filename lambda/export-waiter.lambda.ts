/**
 * The custom-resource handler of ExportTaskWaiter and GraphExport. It has two callers:
 * - CloudFormation (Create, Update, Delete): Delete is answered at once (after cancelling a running
 *   export when asked to); Create and Update start an execution of the wait loop, which answers later.
 * - the wait loop (`{ [ANSWER_MARKER]: ... }`), to answer CloudFormation: see loop-answers.ts.
 * Every CloudFormation request that carries a ResponseURL is answered exactly once, whatever fails.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { serializeAnswer } from './cloudformation-response';
import { CREATE_FAILED_ID, deliver, errorText, isObject, Json, log, text } from './common';
import { isRunning, startExecution, stopSupersededExecutions } from './executions';
import { cancelExport, cancelExportsStartedFor } from './export-cancellation';
import { answerFromLoop, LoopAnswer, LoopRequest } from './loop-answers';
import { forget, forgetResults, requestParameterName, storeRequestSecrets } from './parameter-store';
import {
  executionBaseName, exportFingerprint, formatPhysicalId, parsePhysicalId, PhysicalId, resourceKey, resultsKey,
} from './physical-id';
import {
  ANSWER_MARKER, Env, ExportFields, GRAPH_EXPORT_RESOURCE_TYPE, Limits, ResourceProperties,
} from '../src/runtime/constants';
import { buildPollingPolicy, initialLoopState } from '../src/runtime/polling-policy';
import {
  checkDestination, checkExportFilter, checkFormat, checkGraphIdentifier, checkKmsKeyArn, checkPollInterval,
  checkPollRange, checkRoleArn, checkTags, checkTaskIdentifier, checkTimeout, parseSeconds, show,
} from '../src/runtime/validation';

export { redact } from './common';
export { attributesOf, judge } from './loop-answers';

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Time kept in hand to answer before Lambda ends the invocation. */
const ANSWER_RESERVE_MS = 4000;
/** Step Functions refuses larger execution input (and state data). */
const MAX_EXECUTION_INPUT_BYTES = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Entry point

export async function handler(event: unknown, context?: LambdaContext): Promise<void> {
  let loopAnswer: LoopAnswer | undefined;
  try {
    loopAnswer = isObject(event) && isObject(event[ANSWER_MARKER]) ? event[ANSWER_MARKER] : undefined;
  } catch (error) {
    log('ERROR', 'Ignored an event that cannot be read', { error: errorText(error) });
    return;
  }
  // An answer from the wait loop may throw AnswerNotDelivered: the loop retries it.
  if (loopAnswer) return answerFromLoop(loopAnswer);
  try {
    await handleCloudFormationEvent(event, context);
  } catch (error) {
    // Only an event whose ResponseURL cannot even be read gets here: there is nobody to answer.
    log('ERROR', 'Ignored an event that cannot be read', { error: errorText(error) });
  }
}

/** Reads a field of an event as text; a field that cannot be read (a throwing getter) reads as ''. */
function textField(event: Json, key: string): string {
  try {
    return text(event[key]);
  } catch {
    return '';
  }
}

/** Reads a string field of an event; anything else, or a field that cannot be read, reads as ''. */
function stringField(event: Json, key: string): string {
  try {
    const value = event[key];
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// CloudFormation events

interface Responder {
  readonly answered: boolean;
  /** The request's secrets were stored under this name: an answer the handler gives itself deletes them (no execution will). */
  storedAt?: string;
  answer(status: 'SUCCESS' | 'FAILED', fields: { reason?: string; physicalResourceId: string; data?: Record<string, string> }): Promise<void>;
}

function responderFor(event: Json): Responder {
  let answered = false;
  // Read once, up front: an answer must not depend on reading the event again.
  const responseUrl = String(event.ResponseURL);
  const echoed = { StackId: textField(event, 'StackId'), RequestId: textField(event, 'RequestId'), LogicalResourceId: textField(event, 'LogicalResourceId') };
  return {
    get answered() {
      return answered;
    },
    async answer(status, { reason, physicalResourceId, data }) {
      if (answered) return;
      answered = true;
      const body = serializeAnswer({ Status: status, Reason: reason, PhysicalResourceId: physicalResourceId, ...echoed, Data: data });
      try {
        await deliver(responseUrl, body, { requestId: echoed.RequestId, status });
      } finally {
        if (this.storedAt) await forget(this.storedAt);
      }
    },
  };
}

async function handleCloudFormationEvent(event: unknown, context?: LambdaContext): Promise<void> {
  if (!isObject(event) || typeof event.ResponseURL !== 'string' || !/^https?:\/\/[^/?#\s]+/i.test(event.ResponseURL)) {
    // Nothing could ever be delivered: starting to wait would only end in AnswerNotDelivered.
    log('ERROR', 'Ignored an event without a usable ResponseURL: there is nobody to answer', {
      keys: isObject(event) ? Object.keys(event).slice(0, 20) : typeof event,
    });
    return;
  }
  const responder = responderFor(event);
  const request = { requestType: textField(event, 'RequestType'), requestId: textField(event, 'RequestId'), logicalResourceId: textField(event, 'LogicalResourceId') };
  const failedId = stringField(event, 'PhysicalResourceId') || CREATE_FAILED_ID;

  // Answer before Lambda ends the invocation, even if a call hangs.
  const startedAt = Date.now();
  const remaining = context?.getRemainingTimeInMillis() ?? 60_000;
  const deadlineMs = startedAt + remaining - ANSWER_RESERVE_MS;
  // The same moment on the monotonic clock, which the out-of-time timer below also follows.
  const answerBy = performance.now() + remaining - ANSWER_RESERVE_MS;
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log('ERROR', 'Out of time before the request was handled', request);
      // A Delete never fails: whatever it did not finish (cancelling an export) is only logged.
      resolve(request.requestType === 'Delete'
        ? responder.answer('SUCCESS', { physicalResourceId: failedId })
        : responder.answer('FAILED', { reason: 'The waiter handler ran out of time before it could start waiting (see its log).', physicalResourceId: failedId }));
    }, Math.max(0, remaining - ANSWER_RESERVE_MS));
  });

  const work = (async () => {
    try {
      await handleRequest(event, responder, request, deadlineMs, answerBy);
    } catch (error) {
      log('ERROR', 'Request failed', { ...request, error: errorText(error) });
      await (request.requestType === 'Delete'
        ? responder.answer('SUCCESS', { physicalResourceId: failedId })
        : responder.answer('FAILED', { reason: `The waiter could not handle the request: ${errorText(error)}`, physicalResourceId: failedId }));
    }
  })();
  try {
    await Promise.race([work, outOfTime]);
  } catch (error) {
    log('ERROR', 'Could not answer CloudFormation', { ...request, error: errorText(error) });
  } finally {
    clearTimeout(timer);
  }
}

async function handleRequest(event: Json, responder: Responder, request: Json, deadlineMs: number, answerBy: number): Promise<void> {
  const requestType = event.RequestType;
  const physicalId = stringField(event, 'PhysicalResourceId');
  if (requestType === 'Delete') return handleDelete(event, responder, request, physicalId, deadlineMs);
  const failedId = requestType === 'Update' && physicalId ? physicalId : CREATE_FAILED_ID;
  if (requestType !== 'Create' && requestType !== 'Update') {
    return responder.answer('FAILED', { reason: `Unknown RequestType ${show(requestType)}: expected Create, Update or Delete`, physicalResourceId: failedId });
  }
  // The answer must echo these, and the execution is named after them: without them the answer
  // could not be matched, and two such requests would share one execution (and one answer).
  const envelope = envelopeProblem(event);
  if (envelope) {
    log('WARN', 'Invalid request', { ...request, problem: envelope });
    return responder.answer('FAILED', { reason: envelope, physicalResourceId: failedId });
  }
  const settings = readSettings(event);
  if (typeof settings === 'string') {
    log('WARN', 'Invalid properties', { ...request, problem: settings });
    return responder.answer('FAILED', { reason: settings, physicalResourceId: failedId });
  }
  const stateMachineArn = process.env[Env.STATE_MACHINE_ARN];
  if (!stateMachineArn) {
    return responder.answer('FAILED', { reason: `The waiter function has no ${Env.STATE_MACHINE_ARN} environment variable`, physicalResourceId: failedId });
  }

  const key = resourceKey(text(event.StackId), text(event.LogicalResourceId));
  const executionBase = executionBaseName(key, text(event.RequestId));
  if (requestType === 'Update') await abandonEarlierRequests(event, stateMachineArn, key, executionBase, settings, deadlineMs);

  const input = executionInput(event, settings, executionBase, failedId);
  const serialized = JSON.stringify(input);
  if (Buffer.byteLength(serialized) > MAX_EXECUTION_INPUT_BYTES) {
    return responder.answer('FAILED', {
      reason: `The request is too large to wait for (${Buffer.byteLength(serialized)} bytes of execution input, Step Functions accepts`
        + ` ${MAX_EXECUTION_INPUT_BYTES}): make the export filter smaller`,
      physicalResourceId: failedId,
    });
  }
  // The secrets stay out of the execution: its input and history are readable by anyone allowed states:DescribeExecution.
  const secrets = { ResponseURL: String(event.ResponseURL), ...(settings.signalUrl ? { SignalURL: settings.signalUrl } : {}) };
  await storeRequestSecrets(input.request.parameterName, secrets);
  responder.storedAt = input.request.parameterName;
  const command = new StartExecutionCommand({ stateMachineArn, name: executionBase, input: serialized });
  // Once the out-of-time answer went out, an execution started now would answer a second time.
  const started = await startExecution(command, { ...request, execution: executionBase }, answerBy, () => !responder.answered);
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
  log('INFO', what, { ...request, taskId: settings.plan.taskId, execution: executionBase, timeoutSeconds: settings.timeoutSeconds, longWait: settings.signalUrl !== null });
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

/**
 * Never fails: a stack must always be deletable. Only a GraphExport that asked for it touches the
 * export; a Delete of a Create that CloudFormation cancelled also stops the execution still waiting
 * for it (and cancels the export it started, if asked to).
 */
async function handleDelete(event: Json, responder: Responder, request: Json, physicalId: string, deadlineMs: number): Promise<void> {
  const properties = isObject(event.ResourceProperties) ? event.ResourceProperties : {};
  const cancelOnDelete = String(properties[ResourceProperties.CANCEL_ON_DELETE]) === 'true';
  const current = parsePhysicalId(physicalId);
  const stateMachineArn = process.env[Env.STATE_MACHINE_ARN];
  const stackId = textField(event, 'StackId');
  const logicalId = textField(event, 'LogicalResourceId');
  if (stateMachineArn && stackId && logicalId) {
    const stopped = await stopSupersededExecutions(stateMachineArn, resourceKey(stackId, logicalId), undefined);
    if (stopped > 0 && cancelOnDelete) await cancelExportsStartedFor([properties[ResourceProperties.EXPORT] as Json], current?.taskId, deadlineMs);
  }
  if (current && cancelOnDelete) {
    await cancelExport(current.taskId, deadlineMs);
  } else {
    log('INFO', 'Delete: no export to cancel', request);
  }
  if (current && stackId && logicalId) await forgetResults(resultsKey(stackId, logicalId, current.identity));
  return responder.answer('SUCCESS', { physicalResourceId: physicalId || CREATE_FAILED_ID });
}

/** StackId, RequestId and LogicalResourceId must be the non-empty strings CloudFormation sends. */
function envelopeProblem(event: Json): string | undefined {
  for (const key of ['StackId', 'RequestId', 'LogicalResourceId']) {
    let value: unknown;
    try {
      value = event[key];
    } catch (error) {
      return `${key} cannot be read: ${errorText(error)}`;
    }
    if (typeof value !== 'string' || value.trim() === '') return `${key} must be the non-empty string CloudFormation sends, got ${show(value)}`;
  }
  return undefined;
}

/** What a Create or Update waits for. */
interface WaitPlan {
  /** The task to wait for; null when the loop starts `startExportTask` first. */
  taskId: string | null;
  /** The StartExportTask request of a GraphExport that needs a new export. */
  startExportTask: Json | null;
  /** Set when the request returns to a task the resource already had: its physical id, answered again. */
  rereadPhysicalId: string | null;
  /** A GraphExport's export fingerprint (part of its physical id). */
  fingerprint: string | null;
  /** The identity an Update moves away from, kept in the new physical id for a rollback. */
  previous: string | null;
}

interface Settings {
  plan: WaitPlan;
  timeoutSeconds: number;
  minPollSeconds: number;
  maxPollSeconds: number;
  /** Long-wait mode: the WaitCondition handle the loop signals. */
  signalUrl: string | null;
  /** GraphExport: cancel the export when the resource is deleted (and when its wait times out). */
  cancelOnDelete: boolean;
}

/** Reads and checks the resource properties; returns the first problem as a message. */
function readSettings(event: Json): Settings | string {
  const properties = event.ResourceProperties;
  if (!isObject(properties)) return `ResourceProperties must be an object, got ${show(properties)}`;
  const timing = readTiming(properties);
  if (typeof timing === 'string') return timing;

  const current = event.RequestType === 'Update' ? parsePhysicalId(stringField(event, 'PhysicalResourceId')) : undefined;
  let plan: WaitPlan;
  if (event.ResourceType !== GRAPH_EXPORT_RESOURCE_TYPE) {
    const taskProblem = checkTaskIdentifier(ResourceProperties.TASK_IDENTIFIER, properties[ResourceProperties.TASK_IDENTIFIER]);
    if (taskProblem) return taskProblem;
    plan = planWait(current, properties[ResourceProperties.TASK_IDENTIFIER] as string, null, null);
  } else {
    const request = readExportRequest(properties[ResourceProperties.EXPORT]);
    if (typeof request === 'string') return request;
    plan = planWait(current, null, request, exportFingerprint(request));
  }

  // A WaitCondition waits once. The constructs give a different export a new handle, but a task id
  // or graph id that is a token can change its value behind the same handle: refuse rather than
  // hand downstream resources the previous export's results. Returning to a task the resource
  // already had (a rollback) waits for nothing new.
  const oldProperties = isObject(event.OldResourceProperties) ? event.OldResourceProperties : {};
  const sameHandle = timing.signalUrl !== null && oldProperties[ResourceProperties.SIGNAL_URL] === timing.signalUrl;
  if (event.RequestType === 'Update' && sameHandle && plan.rereadPhysicalId === null) {
    return 'This resource waits with a WaitCondition (timeout over 55 minutes), which cannot wait a second time: '
      + `its export changed (${show(current?.taskId ?? stringField(event, 'PhysicalResourceId'))} would be replaced) while the`
      + ' WaitCondition stayed the same. Give the construct a new id to wait for the new export.';
  }
  return { ...timing, plan, cancelOnDelete: String(properties[ResourceProperties.CANCEL_ON_DELETE]) === 'true' };
}

/**
 * What to wait for. A request that asks for what the resource already has (same task, or same
 * export), or for what it had before its last Update (CloudFormation rolling that Update back),
 * re-reads that task: it never exports again, and answers with the same physical id.
 */
function planWait(current: PhysicalId | undefined, taskId: string | null, startExportTask: Json | null, fingerprint: string | null): WaitPlan {
  const wanted = (id: PhysicalId | undefined) => id !== undefined && (fingerprint ? id.fingerprint === fingerprint : id.taskId === taskId);
  const reread = (id: PhysicalId, physicalId: string): WaitPlan =>
    ({ taskId: id.taskId, startExportTask: null, rereadPhysicalId: physicalId, fingerprint, previous: null });
  if (current && wanted(current)) return reread(current, formatPhysicalId(current.identity, current.previous?.identity));
  if (current?.previous && wanted(current.previous)) return reread(current.previous, current.previous.identity);
  return { taskId, startExportTask, rereadPhysicalId: null, fingerprint, previous: current?.identity ?? null };
}

function readTiming(properties: Json): Omit<Settings, 'plan' | 'cancelOnDelete'> | string {
  const signal = properties[ResourceProperties.SIGNAL_URL];
  if (signal !== undefined && (typeof signal !== 'string' || !/^https:\/\/|^http:\/\//.test(signal))) {
    return `${ResourceProperties.SIGNAL_URL} must be a WaitConditionHandle URL, got a ${typeof signal}`;
  }
  const signalUrl = typeof signal === 'string' ? signal : null;
  const optional = (name: string, fallback: number, check: (n: string, v: unknown) => string | undefined) => {
    const value = properties[name];
    if (value === undefined || value === '') return fallback;
    return check(name, value) ?? (parseSeconds(value) as number);
  };
  const timeoutSeconds = optional(ResourceProperties.TIMEOUT_SECONDS, Limits.DEFAULT_TIMEOUT, (n, v) => checkTimeout(n, v, signalUrl !== null));
  if (typeof timeoutSeconds === 'string') return timeoutSeconds;
  const minPollSeconds = optional(ResourceProperties.MIN_POLL_SECONDS, Limits.DEFAULT_MIN_POLL, checkPollInterval);
  if (typeof minPollSeconds === 'string') return minPollSeconds;
  const maxPollSeconds = optional(ResourceProperties.MAX_POLL_SECONDS, Limits.DEFAULT_MAX_POLL, checkPollInterval);
  if (typeof maxPollSeconds === 'string') return maxPollSeconds;
  const rangeProblem = checkPollRange(ResourceProperties.MIN_POLL_SECONDS, minPollSeconds, ResourceProperties.MAX_POLL_SECONDS, maxPollSeconds);
  if (rangeProblem) return rangeProblem;
  return { timeoutSeconds, minPollSeconds, maxPollSeconds, signalUrl };
}

/** Checks a GraphExport's StartExportTask request and drops empty optional fields. */
function readExportRequest(value: unknown): Json | string {
  const name = ResourceProperties.EXPORT;
  if (!isObject(value)) return `${name} must be an object, got ${show(value)}`;
  const F = ExportFields;
  const field = (key: string) => `${name}.${key}`;
  const problem =
    checkGraphIdentifier(field(F.GRAPH_IDENTIFIER), value[F.GRAPH_IDENTIFIER]) ??
    checkRoleArn(field(F.ROLE_ARN), value[F.ROLE_ARN]) ??
    checkKmsKeyArn(field(F.KMS_KEY_IDENTIFIER), value[F.KMS_KEY_IDENTIFIER]) ??
    checkDestination(field(F.DESTINATION), value[F.DESTINATION]) ??
    checkFormat(field(F.FORMAT), value[F.FORMAT], field(F.PARQUET_TYPE), emptyToUndefined(value[F.PARQUET_TYPE])) ??
    (isEmpty(value[F.EXPORT_FILTER]) ? undefined : checkExportFilter(field(F.EXPORT_FILTER), value[F.EXPORT_FILTER])) ??
    (isEmpty(value[F.TAGS]) ? undefined : checkTags(field(F.TAGS), value[F.TAGS]));
  if (problem) return problem;
  const known = new Set<string>(Object.values(F));
  const unknown = Object.keys(value).find((key) => !known.has(key));
  if (unknown) return `${name} has an unknown field ${show(unknown)}`;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => !isEmpty(v)));
}

const emptyToUndefined = (value: unknown) => (value === '' || value === null ? undefined : value);
const isEmpty = (value: unknown) => value === undefined || value === null || value === '';
