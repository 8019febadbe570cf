/**
 * The waiter's custom-resource handler. It has two callers:
 * - CloudFormation (Create, Update, Delete): Delete is answered at once; Create and Update start an
 *   execution of the wait loop, which answers later.
 * - the wait loop, once the task ended, failed to be read or ran out of time (`{ [ANSWER_MARKER]: ... }`):
 *   it turns the outcome into CloudFormation's answer and PUTs it.
 * Every CloudFormation request that carries a ResponseURL is answered exactly once, whatever fails.
 */
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { AnswerRefused, CloudFormationAnswer, putAnswer, serializeAnswer } from './cloudformation-response';
import { ANSWER_MARKER, ANSWER_NOT_DELIVERED, Attrs, Env, Limits, Outcome, Props } from '../src/constants';
import { buildPollingPolicy } from '../src/polling-policy';
import { checkPollInterval, checkPollRange, checkTaskIdentifier, checkTimeout, parseSeconds, show } from '../src/validation';

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

type Json = Record<string, unknown>;

/** Identifies a failed Create: the Delete that follows it has nothing to clean up. */
const CREATE_FAILED_ID = 'neptune-graph-export-waiter-create-failed';
/** Time kept in hand to answer before Lambda ends the invocation. */
const ANSWER_RESERVE_MS = 4000;
const PUT_ATTEMPTS = 3;
const PUT_TIMEOUT_MS = 8000;

let sfnClient: SFNClient | undefined;

// ---------------------------------------------------------------------------------------------
// Logging: JSON lines; URLs are never written, whatever an error message contains.

const URL_PATTERN = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
const SIGNATURE_PATTERN = /(X-Amz-[A-Za-z-]+=)[^&\s"']+/g;

export function redact(text: string): string {
  return text.replace(URL_PATTERN, '<url>').replace(SIGNATURE_PATTERN, '$1<redacted>');
}

function log(level: 'INFO' | 'WARN' | 'ERROR', message: string, fields: Json = {}): void {
  const line = redact(JSON.stringify({ level, message, ...fields }));
  (level === 'INFO' ? console.log : console.error)(line);
}

const errorText = (error: unknown) => redact(error instanceof Error ? `${error.name}: ${error.message}` : String(error));

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

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown) => (typeof value === 'string' ? value : value === undefined || value === null ? '' : show(value));

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
      await deliver(responseUrl, { Status: status, Reason: reason, PhysicalResourceId: physicalResourceId, ...echoed, Data: data });
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
  const remaining = context?.getRemainingTimeInMillis() ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log('ERROR', 'Out of time before the request was handled', request);
      resolve(responder.answer('FAILED', { reason: 'The waiter handler ran out of time before it could start waiting (see its log).', physicalResourceId: failedId }));
    }, Math.max(0, remaining - ANSWER_RESERVE_MS));
  });

  const work = (async () => {
    try {
      await handleRequest(event, responder, request);
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

async function handleRequest(event: Json, responder: Responder, request: Json): Promise<void> {
  const requestType = event.RequestType;
  if (requestType === 'Delete') {
    // Never touches the task and never fails: a stack must always be deletable.
    log('INFO', 'Delete: nothing to clean up', request);
    const physicalResourceId = typeof event.PhysicalResourceId === 'string' && event.PhysicalResourceId ? event.PhysicalResourceId : CREATE_FAILED_ID;
    return responder.answer('SUCCESS', { physicalResourceId });
  }
  const failedId = requestType === 'Update' && typeof event.PhysicalResourceId === 'string' && event.PhysicalResourceId
    ? event.PhysicalResourceId
    : CREATE_FAILED_ID;
  if (requestType !== 'Create' && requestType !== 'Update') {
    return responder.answer('FAILED', { reason: `Unknown RequestType ${show(requestType)}: expected Create, Update or Delete`, physicalResourceId: failedId });
  }
  const settings = readSettings(event.ResourceProperties);
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
    timeoutSeconds: settings.timeoutSeconds,
    deadline: deadline.toISOString(),
    policy: buildPollingPolicy({ minIntervalSeconds: settings.minPollSeconds, maxIntervalSeconds: settings.maxPollSeconds, deadline }),
    cloudFormation: {
      ResponseURL: event.ResponseURL,
      StackId: text(event.StackId),
      RequestId: text(event.RequestId),
      LogicalResourceId: text(event.LogicalResourceId),
      PhysicalResourceId: settings.taskIdentifier,
      FailedPhysicalResourceId: requestType === 'Update' ? failedId : settings.taskIdentifier,
    },
  };
  const name = executionName(settings.taskIdentifier, text(event.RequestId));
  sfnClient ??= new SFNClient({ requestHandler: { requestTimeout: 5000, connectionTimeout: 3000, throwOnRequestTimeout: true } });
  try {
    await sfnClient.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists || (error as Error)?.name === 'ExecutionAlreadyExists') {
      // The same request delivered again: the execution started the first time answers it.
      log('INFO', 'Duplicate delivery: already waiting for this request', { ...request, execution: name });
      return;
    }
    throw error;
  }
  log('INFO', 'Waiting for the export task', { ...request, taskId: settings.taskIdentifier, execution: name, timeoutSeconds: settings.timeoutSeconds });
}

interface Settings {
  taskIdentifier: string;
  timeoutSeconds: number;
  minPollSeconds: number;
  maxPollSeconds: number;
}

/** Reads and checks the resource properties; returns the first problem as a message. */
function readSettings(properties: unknown): Settings | string {
  if (!isObject(properties)) return `ResourceProperties must be an object, got ${show(properties)}`;
  const taskProblem = checkTaskIdentifier(Props.TASK_IDENTIFIER, properties[Props.TASK_IDENTIFIER]);
  if (taskProblem) return taskProblem;
  const optional = (name: string, fallback: number, check: (n: string, v: unknown) => string | undefined) => {
    const value = properties[name];
    if (value === undefined || value === '') return fallback;
    return check(name, value) ?? (parseSeconds(value) as number);
  };
  const timeoutSeconds = optional(Props.TIMEOUT_SECONDS, Limits.DEFAULT_TIMEOUT, checkTimeout);
  if (typeof timeoutSeconds === 'string') return timeoutSeconds;
  const minPollSeconds = optional(Props.MIN_POLL_SECONDS, Limits.DEFAULT_MIN_POLL, checkPollInterval);
  if (typeof minPollSeconds === 'string') return minPollSeconds;
  const maxPollSeconds = optional(Props.MAX_POLL_SECONDS, Limits.DEFAULT_MAX_POLL, checkPollInterval);
  if (typeof maxPollSeconds === 'string') return maxPollSeconds;
  const rangeProblem = checkPollRange(Props.MIN_POLL_SECONDS, minPollSeconds, Props.MAX_POLL_SECONDS, maxPollSeconds);
  if (rangeProblem) return rangeProblem;
  return { taskIdentifier: properties[Props.TASK_IDENTIFIER] as string, timeoutSeconds, minPollSeconds, maxPollSeconds };
}

/** One execution per CloudFormation request: a redelivered request finds the execution it started. */
function executionName(taskId: string, requestId: string): string {
  const safeRequestId = requestId.replace(/[^A-Za-z0-9_-]/g, '_') || 'no-request-id';
  return `${taskId}-${safeRequestId}`.slice(0, 80);
}

// ---------------------------------------------------------------------------------------------
// Answers from the wait loop

interface LoopAnswer {
  answer?: { outcome?: string; task?: Json; error?: { Error?: string; Cause?: string } };
  taskId?: string;
  timeoutSeconds?: number;
  cloudFormation?: Json;
}

async function answerFromLoop(payload: LoopAnswer): Promise<void> {
  const cfn = isObject(payload.cloudFormation) ? payload.cloudFormation : {};
  if (typeof cfn.ResponseURL !== 'string') {
    log('ERROR', 'The wait loop asked for an answer without a ResponseURL', { taskId: payload.taskId });
    return;
  }
  const verdict = judge(payload);
  const physicalResourceId = text(verdict.status === 'SUCCESS' ? cfn.PhysicalResourceId : cfn.FailedPhysicalResourceId || cfn.PhysicalResourceId);
  log(verdict.status === 'SUCCESS' ? 'INFO' : 'WARN', 'Answering CloudFormation', {
    requestId: text(cfn.RequestId),
    logicalResourceId: text(cfn.LogicalResourceId),
    status: verdict.status,
    reason: verdict.reason,
  });
  await deliver(cfn.ResponseURL, {
    Status: verdict.status,
    Reason: verdict.reason,
    PhysicalResourceId: physicalResourceId,
    StackId: text(cfn.StackId),
    RequestId: text(cfn.RequestId),
    LogicalResourceId: text(cfn.LogicalResourceId),
    Data: verdict.data,
  });
}

/** Reads a field whether the integration returned it PascalCase (documented) or camelCase. */
function field(source: unknown, name: string): unknown {
  if (!isObject(source)) return undefined;
  return source[name] ?? source[name.charAt(0).toLowerCase() + name.slice(1)];
}

function formatDuration(seconds: number): string {
  if (seconds % 60 !== 0) return `${seconds} seconds`;
  const minutes = seconds / 60;
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

function startTimeIso(value: unknown): string {
  const date = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : '';
}

/** The attributes exposed through Fn::GetAtt; fields the service omitted become empty strings. */
export function attributesOf(task: Json): Record<string, string> {
  const details = field(task, 'ExportTaskDetails');
  const str = (value: unknown) => (value === undefined || value === null ? '' : typeof value === 'string' ? value : String(value));
  return {
    [Attrs.TASK_ID]: str(field(task, 'TaskId')),
    [Attrs.GRAPH_ID]: str(field(task, 'GraphId')),
    [Attrs.STATUS]: str(field(task, 'Status')),
    [Attrs.FORMAT]: str(field(task, 'Format')),
    [Attrs.PARQUET_TYPE]: str(field(task, 'ParquetType')),
    [Attrs.DESTINATION]: str(field(task, 'Destination')),
    [Attrs.KMS_KEY_IDENTIFIER]: str(field(task, 'KmsKeyIdentifier')),
    [Attrs.ROLE_ARN]: str(field(task, 'RoleArn')),
    [Attrs.NUM_VERTICES_WRITTEN]: str(field(details, 'NumVerticesWritten') ?? 0),
    [Attrs.NUM_EDGES_WRITTEN]: str(field(details, 'NumEdgesWritten') ?? 0),
    [Attrs.TIME_ELAPSED_SECONDS]: str(field(details, 'TimeElapsedSeconds') ?? 0),
    [Attrs.START_TIME]: startTimeIso(field(details, 'StartTime')),
  };
}

interface Verdict {
  status: 'SUCCESS' | 'FAILED';
  reason?: string;
  data?: Record<string, string>;
}

export function judge(payload: LoopAnswer): Verdict {
  const taskId = text(payload.taskId) || 'unknown task';
  const outcome = payload.answer?.outcome;
  const task = isObject(payload.answer?.task) ? payload.answer.task : {};
  const status = text(field(task, 'Status'));
  const error = payload.answer?.error;
  const errorSummary = error?.Error ? `${error.Error}${error.Cause ? `: ${error.Cause}` : ''}` : '';

  if (outcome === Outcome.TASK_ENDED && status === 'SUCCEEDED') {
    return { status: 'SUCCESS', data: attributesOf(task) };
  }
  if (outcome === Outcome.TASK_ENDED && status === 'MISSING') {
    return { status: 'FAILED', reason: `GetExportTask returned no status for export task ${taskId}: ${show(task)}` };
  }
  if (outcome === Outcome.TASK_ENDED) {
    const statusReason = text(field(task, 'StatusReason'));
    return {
      status: 'FAILED',
      reason: `Export task ${taskId} ended with status ${status}: ${statusReason || 'the service gave no reason'}`,
    };
  }
  if (outcome === Outcome.TIMED_OUT) {
    const progress = field(field(task, 'ExportTaskDetails'), 'ProgressPercentage');
    const last = status && status !== 'MISSING'
      ? ` (last status ${status}${typeof progress === 'number' && progress >= 0 ? `, ${progress}%` : ''})`
      : '';
    const timeout = typeof payload.timeoutSeconds === 'number' ? formatDuration(payload.timeoutSeconds) : 'its timeout';
    return {
      status: 'FAILED',
      reason: `Export task ${taskId} did not finish within ${timeout}${last}${errorSummary ? `; last error: ${errorSummary}` : ''}`,
    };
  }
  if (outcome === Outcome.CALL_FAILED) {
    return { status: 'FAILED', reason: `GetExportTask failed for export task ${taskId}: ${errorSummary || 'unknown error'}` };
  }
  return { status: 'FAILED', reason: `The wait loop ended with an unknown outcome ${show(outcome)} for export task ${taskId}` };
}

// ---------------------------------------------------------------------------------------------
// Delivery

/** PUTs the answer, retrying transient failures; throws AnswerNotDelivered when it cannot. */
async function deliver(responseUrl: string, answer: CloudFormationAnswer): Promise<void> {
  const body = serializeAnswer(answer);
  let lastError: unknown;
  for (let attempt = 1; attempt <= PUT_ATTEMPTS; attempt++) {
    try {
      await putAnswer(responseUrl, body, PUT_TIMEOUT_MS);
      log('INFO', 'Answer delivered', { requestId: answer.RequestId, status: answer.Status, attempt });
      return;
    } catch (error) {
      lastError = error;
      const retryable = !(error instanceof AnswerRefused) || error.retryable;
      log('WARN', 'Answer not delivered', { requestId: answer.RequestId, attempt, retryable, error: errorText(error) });
      if (!retryable) break;
      if (attempt < PUT_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt * Math.random()));
    }
  }
  const failure = new Error(`Could not deliver the answer for request ${answer.RequestId}: ${errorText(lastError)}`);
  failure.name = ANSWER_NOT_DELIVERED;
  throw failure;
}
