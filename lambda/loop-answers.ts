/**
 * Turns what the wait loop reports into CloudFormation's answer: the custom resource's response, or,
 * in long-wait mode, the WaitCondition signal (the custom resource was answered when the task started).
 * The ResponseURL and the handle URL come from Parameter Store, where the handler put them: they never
 * travel through the execution.
 */
import { CloudFormationAnswer, serializeAnswer, MAX_ANSWER_BYTES } from './cloudformation-response';
import { CREATE_FAILED_ID, deliver, errorText, isObject, Json, log, text } from './common';
import { forget, readRequestSecrets, readResults, RequestSecrets, storeResults } from './parameter-store';
import { formatIdentity, formatPhysicalId, parsePhysicalId, resultsKey } from './physical-id';
import { publishWaitMetrics } from './wait-metrics';
import { ANSWER_NOT_DELIVERED, ResourceAttributes, Outcome } from '../src/runtime/constants';
import { show } from '../src/runtime/validation';

/** What the handler tells the loop about the request it waits for (the execution input's `request`). */
export interface LoopRequest {
  /** The Parameter Store parameter that holds the request's secrets. */
  parameterName: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  /** GraphExport: the fingerprint of the export, part of its physical id. */
  fingerprint: string | null;
  /** The identity the request moves away from, kept in the new physical id. */
  previous: string | null;
  /** Set when the request returns to a task the resource already had: the physical id to answer. */
  rereadPhysicalId: string | null;
  /** An Update that fails keeps this physical id. */
  failedPhysicalResourceId: string | null;
  /** False when the wait is another resource's (the read of a long-wait export's finished task). */
  countsInMetrics?: boolean;
}

export interface LoopAnswer {
  /** 'started' (long-wait mode: answer the custom resource now) or absent (the wait ended). */
  phase?: string;
  answer?: { outcome?: string; task?: Json; error?: { Error?: string; Cause?: string } };
  taskId?: string | null;
  timeoutSeconds?: number;
  request?: Partial<LoopRequest>;
  /** Whether the custom resource was already answered (long-wait mode). */
  announced?: boolean;
}

export async function answerFromLoop(payload: LoopAnswer): Promise<void> {
  const request = isObject(payload.request) ? payload.request : {};
  const taskId = typeof payload.taskId === 'string' ? payload.taskId : '';
  const envelope = { StackId: text(request.StackId), RequestId: text(request.RequestId), LogicalResourceId: text(request.LogicalResourceId) };
  const description = { requestId: envelope.RequestId, logicalResourceId: envelope.LogicalResourceId, taskId };
  const secrets = await secretsOf(request, description);
  if (!secrets) return;
  const successId = request.rereadPhysicalId
    || formatPhysicalId(formatIdentity(taskId, request.fingerprint), request.previous);

  if (payload.phase === 'started') {
    log('INFO', 'Export task known: answering the custom resource; the WaitCondition waits for the end', description);
    return deliverAnswer(secrets.ResponseURL, { Status: 'SUCCESS', PhysicalResourceId: successId, ...envelope, Data: { [ResourceAttributes.TASK_ID]: taskId } });
  }

  const verdict = await withStoredResults(judge(payload), request, successId);
  log(verdict.status === 'SUCCESS' ? 'INFO' : 'WARN', 'The wait ended', { ...description, status: verdict.status, reason: verdict.reason });
  if (secrets.SignalURL !== undefined && payload.announced === true) {
    await deliver(secrets.SignalURL, serializeSignal(verdict, taskId), { ...description, status: verdict.status, signal: true });
  } else {
    // A failed Update keeps the resource it had; a failed Create reports the task it started, if
    // any, so the Delete of the rollback can cancel it.
    const failedId = text(request.failedPhysicalResourceId) || (taskId ? formatIdentity(taskId, request.fingerprint) : CREATE_FAILED_ID);
    const physicalId = verdict.status === 'SUCCESS' ? successId : failedId;
    const answer = { Status: verdict.status, Reason: verdict.reason, PhysicalResourceId: physicalId, ...envelope, Data: verdict.data };
    await deliverAnswer(secrets.ResponseURL, answer);
    if (verdict.status === 'SUCCESS' && verdict.data) await storeResults(resultsKeyOf(request, physicalId), verdict.data);
  }
  await forget(text(request.parameterName));
  publishWaitMetrics(request, taskId, payload.answer?.outcome, verdict);
}

/** The request's secrets; undefined (and logged) when nobody waits for the request any more. */
async function secretsOf(request: Partial<LoopRequest>, description: Json): Promise<RequestSecrets | undefined> {
  if (typeof request.parameterName !== 'string') {
    log('ERROR', 'The wait loop asked for an answer without naming the request', description);
    return undefined;
  }
  let secrets: RequestSecrets | undefined;
  try {
    secrets = await readRequestSecrets(request.parameterName);
  } catch (error) {
    // Throttled or unavailable: the loop retries the invocation.
    const failure = new Error(`Could not read the request's ResponseURL: ${errorText(error)}`);
    failure.name = ANSWER_NOT_DELIVERED;
    throw failure;
  }
  if (!secrets) log('WARN', 'Nobody waits for this request any more (it was answered, or CloudFormation abandoned it)', description);
  return secrets;
}

function resultsKeyOf(request: Partial<LoopRequest>, physicalId: string): string {
  const identity = parsePhysicalId(physicalId)?.identity ?? physicalId;
  return resultsKey(text(request.StackId), text(request.LogicalResourceId), identity);
}

/**
 * A request that returns to a task the resource already had must not fail because the service no
 * longer knows that task (its graph was deleted, its record expired): that would fail the rollback
 * too. It answers with the results kept when the task first succeeded.
 */
async function withStoredResults(verdict: Verdict, request: Partial<LoopRequest>, successId: string): Promise<Verdict> {
  if (verdict.status === 'SUCCESS' || !request.rereadPhysicalId) return verdict;
  let stored: Record<string, string> | undefined;
  try {
    stored = await readResults(resultsKeyOf(request, successId));
  } catch (error) {
    log('WARN', 'Could not read the results kept for this task', { error: errorText(error) });
  }
  if (!stored) return verdict;
  log('WARN', 'The task could not be read again; answering with the results kept when it succeeded', { reason: verdict.reason });
  return { status: 'SUCCESS', data: stored };
}

function deliverAnswer(url: string, answer: CloudFormationAnswer): Promise<void> {
  return deliver(url, serializeAnswer(answer), { requestId: answer.RequestId, status: answer.Status });
}

/**
 * A WaitCondition signal. Nothing reads its Data (the attributes come from the read-once resource
 * created after the WaitCondition), so it carries only the task id.
 */
export function serializeSignal(verdict: Verdict, taskId: string): string {
  const signal = { Status: verdict.status === 'SUCCESS' ? 'SUCCESS' : 'FAILURE', UniqueId: taskId || 'export', Data: taskId, Reason: verdict.reason ?? 'Export succeeded' };
  let body = JSON.stringify(signal);
  const excess = Buffer.byteLength(body) - MAX_ANSWER_BYTES;
  if (excess > 0) {
    signal.Reason = `${signal.Reason.slice(0, Math.max(64, signal.Reason.length - excess - 8))}...`;
    body = JSON.stringify(signal);
  }
  return body;
}

/** Reads a field whether the integration returned it PascalCase (documented) or camelCase. */
function field(source: unknown, name: string): unknown {
  if (!isObject(source)) return undefined;
  return source[name] ?? source[name.charAt(0).toLowerCase() + name.slice(1)];
}

function formatDuration(seconds: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds % 60 === 0) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}

/** Epoch values past this are milliseconds (as seconds it would be the year 5138). */
const EPOCH_MILLISECONDS_FROM = 1e11;

function startTimeIso(value: unknown): string {
  const epoch = (n: number) => new Date(n >= EPOCH_MILLISECONDS_FROM ? n : n * 1000);
  const date = typeof value === 'number' ? epoch(value)
    : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? epoch(Number(value))
      : typeof value === 'string' ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : '';
}

/** The attributes exposed through Fn::GetAtt; fields the service omitted become empty strings. */
export function attributesOf(task: Json): Record<string, string> {
  const details = field(task, 'ExportTaskDetails');
  const str = (value: unknown) => (value === undefined || value === null ? '' : typeof value === 'string' ? value : String(value));
  return {
    [ResourceAttributes.TASK_ID]: str(field(task, 'TaskId')),
    [ResourceAttributes.GRAPH_ID]: str(field(task, 'GraphId')),
    [ResourceAttributes.STATUS]: str(field(task, 'Status')),
    [ResourceAttributes.FORMAT]: str(field(task, 'Format')),
    [ResourceAttributes.PARQUET_TYPE]: str(field(task, 'ParquetType')),
    [ResourceAttributes.DESTINATION]: str(field(task, 'Destination')),
    [ResourceAttributes.KMS_KEY_IDENTIFIER]: str(field(task, 'KmsKeyIdentifier')),
    [ResourceAttributes.ROLE_ARN]: str(field(task, 'RoleArn')),
    [ResourceAttributes.NUM_VERTICES_WRITTEN]: str(field(details, 'NumVerticesWritten') ?? 0),
    [ResourceAttributes.NUM_EDGES_WRITTEN]: str(field(details, 'NumEdgesWritten') ?? 0),
    [ResourceAttributes.TIME_ELAPSED_SECONDS]: str(field(details, 'TimeElapsedSeconds') ?? 0),
    [ResourceAttributes.START_TIME]: startTimeIso(field(details, 'StartTime')),
  };
}

export interface Verdict {
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
  // The loop reads the documented PascalCase `Status`; without it, it stopped at once.
  if (outcome === Outcome.TASK_ENDED && typeof task.Status !== 'string') {
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
    const last = status
      ? ` (last status ${status}${typeof progress === 'number' && progress >= 0 ? `, ${progress}%` : ''})`
      : '';
    const timeout = typeof payload.timeoutSeconds === 'number' ? formatDuration(payload.timeoutSeconds) : 'its timeout';
    return {
      status: 'FAILED',
      reason: `Export task ${taskId} did not finish within ${timeout}${last}${errorSummary ? `; last error: ${errorSummary}` : ''}`,
    };
  }
  if (outcome === Outcome.START_FAILED) {
    // Conflict (another export running), quota and validation errors come back in the service's words.
    return { status: 'FAILED', reason: `StartExportTask failed: ${errorSummary || 'unknown error'}` };
  }
  if (outcome === Outcome.CALL_FAILED) {
    return { status: 'FAILED', reason: `GetExportTask failed for export task ${taskId}: ${errorSummary || 'unknown error'}` };
  }
  return { status: 'FAILED', reason: `The wait loop ended with an unknown outcome ${show(outcome)} for export task ${taskId}` };
}

