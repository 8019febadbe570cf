/**
 * The custom-resource handler of ExportTaskWaiter and GraphExport. It has two callers:
 * - CloudFormation (Create, Update, Delete): Delete is answered at once (after cancelling a running
 *   export when asked to); Create and Update start an execution of the wait loop, which answers later.
 * - the wait loop (`{ [ANSWER_MARKER]: ... }`), to answer CloudFormation: see loop-answers.ts.
 * Every CloudFormation request that carries a ResponseURL is answered exactly once, whatever fails.
 */
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { serializeAnswer } from './cloudformation-response';
import { CREATE_FAILED_ID, deliver, errorText, isObject, Json, log, text } from './common';
import { cancelExport } from './export-cancellation';
import { answerFromLoop, LoopAnswer } from './loop-answers';
import {
  ANSWER_MARKER, Env, ExportFields, GRAPH_EXPORT_RESOURCE_TYPE, Limits, Props, TASK_ID_PATTERN,
} from '../src/constants';
import { buildPollingPolicy } from '../src/polling-policy';
import {
  checkDestination, checkExportFilter, checkFormat, checkGraphIdentifier, checkKmsKeyArn, checkPollInterval,
  checkPollRange, checkRoleArn, checkTags, checkTaskIdentifier, checkTimeout, parseSeconds, show,
} from '../src/validation';

export { redact } from './common';
export { attributesOf, judge } from './loop-answers';

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Time kept in hand to answer before Lambda ends the invocation. */
const ANSWER_RESERVE_MS = 4000;
/** The longest one StartExecution attempt can take: its connection and request timeouts. */
const START_ATTEMPT_MS = 8000;

let sfnClient: SFNClient | undefined;

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
      await deliver(responseUrl, body, { requestId: echoed.RequestId, status });
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
      resolve(responder.answer('FAILED', { reason: 'The waiter handler ran out of time before it could start waiting (see its log).', physicalResourceId: failedId }));
    }, Math.max(0, remaining - ANSWER_RESERVE_MS));
  });

  const work = (async () => {
    try {
      await handleRequest(event, responder, request, deadlineMs, answerBy);
    } catch (error) {
      log('ERROR', 'Request failed', { ...request, error: errorText(error) });
      await responder.answer('FAILED', { reason: `The waiter could not handle the request: ${errorText(error)}`, physicalResourceId: failedId });
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
  if (requestType === 'Delete') {
    // Never fails: a stack must always be deletable. Only a GraphExport that asked for it touches the task.
    const properties = isObject(event.ResourceProperties) ? event.ResourceProperties : {};
    if (String(properties[Props.CANCEL_ON_DELETE]) === 'true' && TASK_ID_PATTERN.test(physicalId)) {
      await cancelExport(physicalId, deadlineMs);
    } else {
      log('INFO', 'Delete: nothing to clean up', request);
    }
    return responder.answer('SUCCESS', { physicalResourceId: physicalId || CREATE_FAILED_ID });
  }
  const failedId = requestType === 'Update' && physicalId ? physicalId : CREATE_FAILED_ID;
  if (requestType !== 'Create' && requestType !== 'Update') {
    return responder.answer('FAILED', { reason: `Unknown RequestType ${show(requestType)}: expected Create, Update or Delete`, physicalResourceId: failedId });
  }
  // The answer must echo these, and the execution is named after the RequestId: without them the
  // answer could not be matched, and two such requests would share one execution (and one answer).
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
  const deadline = new Date(Date.now() + settings.timeoutSeconds * 1000);
  const input = {
    taskIdentifier: settings.taskIdentifier,
    startExportTask: settings.startExportTask,
    longWait: settings.signalUrl !== null,
    signal: settings.signalUrl === null ? null : { url: settings.signalUrl },
    timeoutSeconds: settings.timeoutSeconds,
    deadline: deadline.toISOString(),
    policy: buildPollingPolicy({ minIntervalSeconds: settings.minPollSeconds, maxIntervalSeconds: settings.maxPollSeconds, deadline }),
    cloudFormation: {
      ResponseURL: event.ResponseURL,
      StackId: text(event.StackId),
      RequestId: text(event.RequestId),
      LogicalResourceId: text(event.LogicalResourceId),
      // On failure an Update keeps its resource; a Create reports the task (the loop knows it).
      FailedPhysicalResourceId: requestType === 'Update' ? failedId : null,
    },
  };
  const name = executionName(settings.taskIdentifier ?? 'export', text(event.RequestId));
  const command = new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) });
  const started = await startExecution(command, { ...request, execution: name }, answerBy);
  if (!started) return;
  log('INFO', settings.startExportTask ? 'Starting the export' : 'Waiting for the export task', {
    ...request, taskId: settings.taskIdentifier, execution: name, timeoutSeconds: settings.timeoutSeconds, longWait: input.longWait,
  });
}

/**
 * Starts the wait loop. A call that got no reply (a timeout, a lost connection) may have started the
 * execution all the same: answering FAILED then would answer the request twice (the execution answers
 * it too). Such calls, and 5xx and throttling, are repeated with the same name and input, which Step
 * Functions answers with the execution already running, until a reply says what happened or the time
 * to answer runs out. Returns false when an execution of that name exists already, which answers.
 */
async function startExecution(command: StartExecutionCommand, request: Json, answerBy: number): Promise<boolean> {
  // The loop below owns the retrying: the SDK's own would hide how long a call may take.
  sfnClient ??= new SFNClient({ maxAttempts: 1, requestHandler: { requestTimeout: 5000, connectionTimeout: 3000, throwOnRequestTimeout: true } });
  for (let attempt = 1; ; attempt++) {
    try {
      await sfnClient.send(command);
      return true;
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error)?.name === 'ExecutionAlreadyExists') {
        log('INFO', attempt === 1
          ? 'Duplicate delivery: already waiting for this request'
          : 'The execution exists already (an earlier attempt started it): it answers', request);
        return false;
      }
      const delayMs = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (!mayRetry(error) || performance.now() + delayMs + START_ATTEMPT_MS > answerBy) throw error;
      log('WARN', 'StartExecution failed; trying again with the same name and input', { ...request, attempt, error: errorText(error) });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * No reply (no HTTP status: a timeout, a broken connection), a server error or throttling: worth
 * asking again. Errors without a status are not told apart further: the SDK may hand them over
 * wrapped, without their name or code, and a needless retry costs only time.
 */
function mayRetry(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || status === 429 || e?.name === 'ThrottlingException';
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

interface Settings {
  /** The task to wait for; null when the loop starts a new export first. */
  taskIdentifier: string | null;
  /** The StartExportTask request of a GraphExport that needs a new export. */
  startExportTask: Json | null;
  timeoutSeconds: number;
  minPollSeconds: number;
  maxPollSeconds: number;
  /** Long-wait mode: the WaitCondition handle the loop signals. */
  signalUrl: string | null;
}

/** Reads and checks the resource properties; returns the first problem as a message. */
function readSettings(event: Json): Settings | string {
  const properties = event.ResourceProperties;
  if (!isObject(properties)) return `ResourceProperties must be an object, got ${show(properties)}`;
  const signal = properties[Props.SIGNAL_URL];
  if (signal !== undefined && (typeof signal !== 'string' || !/^https:\/\/|^http:\/\//.test(signal))) {
    return `${Props.SIGNAL_URL} must be a WaitConditionHandle URL, got a ${typeof signal}`;
  }
  const signalUrl = typeof signal === 'string' ? signal : null;
  const optional = (name: string, fallback: number, check: (n: string, v: unknown) => string | undefined) => {
    const value = properties[name];
    if (value === undefined || value === '') return fallback;
    return check(name, value) ?? (parseSeconds(value) as number);
  };
  const timeoutSeconds = optional(Props.TIMEOUT_SECONDS, Limits.DEFAULT_TIMEOUT, (n, v) => checkTimeout(n, v, signalUrl !== null));
  if (typeof timeoutSeconds === 'string') return timeoutSeconds;
  const minPollSeconds = optional(Props.MIN_POLL_SECONDS, Limits.DEFAULT_MIN_POLL, checkPollInterval);
  if (typeof minPollSeconds === 'string') return minPollSeconds;
  const maxPollSeconds = optional(Props.MAX_POLL_SECONDS, Limits.DEFAULT_MAX_POLL, checkPollInterval);
  if (typeof maxPollSeconds === 'string') return maxPollSeconds;
  const rangeProblem = checkPollRange(Props.MIN_POLL_SECONDS, minPollSeconds, Props.MAX_POLL_SECONDS, maxPollSeconds);
  if (rangeProblem) return rangeProblem;
  const timing = { timeoutSeconds, minPollSeconds, maxPollSeconds, signalUrl };

  const physicalId = stringField(event, 'PhysicalResourceId');
  const oldProperties = isObject(event.OldResourceProperties) ? event.OldResourceProperties : {};
  let settings: Settings;
  if (event.ResourceType !== GRAPH_EXPORT_RESOURCE_TYPE) {
    const taskProblem = checkTaskIdentifier(Props.TASK_IDENTIFIER, properties[Props.TASK_IDENTIFIER]);
    if (taskProblem) return taskProblem;
    settings = { ...timing, taskIdentifier: properties[Props.TASK_IDENTIFIER] as string, startExportTask: null };
  } else {
    const request = readExportRequest(properties[Props.EXPORT]);
    if (typeof request === 'string') return request;
    // The same export as before (only the waiting changed): wait for the task that exists.
    const old = readExportRequest(oldProperties[Props.EXPORT]);
    settings = event.RequestType === 'Update' && TASK_ID_PATTERN.test(physicalId) && isObject(old) && sameJson(old, request)
      ? { ...timing, taskIdentifier: physicalId, startExportTask: null }
      : { ...timing, taskIdentifier: null, startExportTask: request };
  }

  // A WaitCondition waits once. The constructs give a different export a new handle, but a task id
  // or graph id that is a token can change its value behind the same handle: refuse rather than
  // hand downstream resources the previous export's results.
  const waitsForSomethingElse = settings.startExportTask !== null || settings.taskIdentifier !== physicalId;
  if (event.RequestType === 'Update' && signalUrl !== null && oldProperties[Props.SIGNAL_URL] === signalUrl && waitsForSomethingElse) {
    return 'This resource waits with a WaitCondition (timeout over 55 minutes), which cannot wait a second time: '
      + `its export changed (task ${show(physicalId)} would be replaced) while the WaitCondition stayed the same. `
      + 'Give the construct a new id to wait for the new export.';
  }
  return settings;
}

/** Checks a GraphExport's StartExportTask request and drops empty optional fields. */
function readExportRequest(value: unknown): Json | string {
  const name = Props.EXPORT;
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

function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): unknown =>
    isObject(value) ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])])) : value;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** One execution per CloudFormation request: a redelivered request finds the execution it started. */
function executionName(prefix: string, requestId: string): string {
  const safeRequestId = requestId.replace(/[^A-Za-z0-9_-]/g, '_') || 'no-request-id';
  return `${prefix}-${safeRequestId}`.slice(0, 80);
}
