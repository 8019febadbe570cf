/**
 * Turns what the wait loop reports into CloudFormation's answer: the custom resource's response, or,
 * in long-wait mode, the WaitCondition signal (the custom resource was answered when the task started).
 */
import { CloudFormationAnswer, serializeAnswer, MAX_ANSWER_BYTES } from './cloudformation-response';
import { CREATE_FAILED_ID, deliver, isObject, Json, log, text } from './common';
import { Attrs, Outcome, SIGNAL_FIELDS, SIGNAL_SEPARATOR } from '../src/constants';
import { show } from '../src/validation';

export interface LoopAnswer {
  /** 'started' (long-wait mode: answer the custom resource now) or absent (the wait ended). */
  phase?: string;
  answer?: { outcome?: string; task?: Json; error?: { Error?: string; Cause?: string } };
  taskId?: string | null;
  timeoutSeconds?: number;
  cloudFormation?: Json;
  /** Long-wait mode: the WaitCondition handle to signal. */
  signal?: { url?: string } | null;
  /** Whether the custom resource was already answered (long-wait mode). */
  announced?: boolean;
}

export async function answerFromLoop(payload: LoopAnswer): Promise<void> {
  const cfn = isObject(payload.cloudFormation) ? payload.cloudFormation : {};
  const taskId = typeof payload.taskId === 'string' ? payload.taskId : '';
  if (typeof cfn.ResponseURL !== 'string') {
    log('ERROR', 'The wait loop asked for an answer without a ResponseURL', { taskId });
    return;
  }
  const envelope = { StackId: text(cfn.StackId), RequestId: text(cfn.RequestId), LogicalResourceId: text(cfn.LogicalResourceId) };
  const description = { requestId: envelope.RequestId, logicalResourceId: envelope.LogicalResourceId, taskId };

  if (payload.phase === 'started') {
    log('INFO', 'Export task known: answering the custom resource; the WaitCondition waits for the end', description);
    return deliverAnswer(cfn.ResponseURL, { Status: 'SUCCESS', PhysicalResourceId: taskId, ...envelope, Data: { [Attrs.TASK_ID]: taskId } });
  }

  const verdict = judge(payload);
  log(verdict.status === 'SUCCESS' ? 'INFO' : 'WARN', 'The wait ended', { ...description, status: verdict.status, reason: verdict.reason });
  const signalUrl = payload.signal?.url;
  if (typeof signalUrl === 'string' && payload.announced === true) {
    return deliver(signalUrl, serializeSignal(verdict, taskId), { ...description, status: verdict.status, signal: true });
  }
  // A failed Update keeps the resource it had; a failed Create reports the task it started, if any,
  // so the Delete of the rollback can cancel it.
  const failedId = text(cfn.FailedPhysicalResourceId) || taskId || CREATE_FAILED_ID;
  return deliverAnswer(cfn.ResponseURL, {
    Status: verdict.status,
    Reason: verdict.reason,
    PhysicalResourceId: verdict.status === 'SUCCESS' ? taskId : failedId,
    ...envelope,
    Data: verdict.data,
  });
}

function deliverAnswer(url: string, answer: CloudFormationAnswer): Promise<void> {
  return deliver(url, serializeAnswer(answer), { requestId: answer.RequestId, status: answer.Status });
}

/**
 * A WaitCondition signal. Its Data reaches the template as the JSON text {"<UniqueId>":"<Data>"};
 * with Data "|v1|v2|...|" a Fn::Split on "|" puts attribute i at index i + 1, whatever the id.
 * Values are kept free of the separator and of characters JSON would escape.
 */
export function serializeSignal(verdict: Verdict, taskId: string): string {
  const clean = (value: string) => value.replace(/[|"\\\u0000-\u001f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
  const data = verdict.data
    ? SIGNAL_SEPARATOR + SIGNAL_FIELDS.map((name) => clean(verdict.data?.[name] ?? '')).join(SIGNAL_SEPARATOR) + SIGNAL_SEPARATOR
    : '';
  const signal = { Status: verdict.status === 'SUCCESS' ? 'SUCCESS' : 'FAILURE', UniqueId: taskId || 'export', Data: data, Reason: verdict.reason ?? 'Export succeeded' };
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
  if (outcome === Outcome.START_FAILED) {
    // Conflict (another export running), quota and validation errors come back in the service's words.
    return { status: 'FAILED', reason: `StartExportTask failed: ${errorSummary || 'unknown error'}` };
  }
  if (outcome === Outcome.CALL_FAILED) {
    return { status: 'FAILED', reason: `GetExportTask failed for export task ${taskId}: ${errorSummary || 'unknown error'}` };
  }
  return { status: 'FAILED', reason: `The wait loop ended with an unknown outcome ${show(outcome)} for export task ${taskId}` };
}

