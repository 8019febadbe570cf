/**
 * The CloudWatch metrics of a wait that ended (WaitMetrics in src/runtime/constants.ts), published as
 * one record of the CloudWatch Embedded Metric Format (EMF) in the handler's own log: CloudWatch Logs
 * extracts the metrics, so the handler needs no cloudwatch:PutMetricData and nothing runs per poll.
 *
 * Format: "Specification: Embedded metric format", Amazon CloudWatch User Guide
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * The log event must be one JSON object and nothing else; its `_aws` member holds `Timestamp`
 * (milliseconds since the epoch) and `CloudWatchMetrics`, an array of directives
 * `{ Namespace, Dimensions: [[dimension names]], Metrics: [{ Name, Unit }] }`; every name a directive
 * references is a top-level member: dimension values as strings, metric values as numbers.
 *
 * The record is written straight to stdout, not through `console`: Lambda's Node.js runtime prefixes
 * console output with a timestamp, request id and level (text log format) or wraps it in its own JSON
 * object (JSON log format), and either way the log event is no longer the EMF object. (The AWS client
 * library for EMF had to do the same to keep working with the JSON log format: "Creating logs in
 * embedded metric format using the client libraries", same guide.)
 *
 * One record per wait, published by the invocation that completes the answer (see publishWaitMetrics).
 */
import { errorText, log, text } from './common';
import type { LoopRequest, Verdict } from './loop-answers';
import { Outcome, ResourceAttributes, TASK_ID_PATTERN, WaitMetrics } from '../src/runtime/constants';

/** How a wait ended, as the metrics count it. */
export type WaitEnd = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';

export interface EndedWait {
  readonly stackId: string;
  readonly logicalResourceId: string;
  readonly taskId: string;
  readonly end: WaitEnd;
  /** A succeeded wait's answer Data (the task's attributes, as strings). */
  readonly attributes?: Record<string, string>;
}

export interface MetricDefinition {
  readonly Name: string;
  readonly Unit: 'Count' | 'Seconds';
}

export interface EmfRecord {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: ReadonlyArray<readonly string[]>;
      readonly Metrics: readonly MetricDefinition[];
    }>;
  };
  readonly [member: string]: unknown;
}

/** CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters. */
const STACK_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
/** CloudFormation logical ids: letters and digits, at most 255 characters. */
const LOGICAL_ID_PATTERN = /^[A-Za-z0-9]{1,255}$/;
/** `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>` */
const STACK_ARN_PATTERN = /^arn:[^:]+:cloudformation:[^:]*:[^:]*:stack\/([^/]+)\/[^/]+$/;

/** The stack's name in a StackId, or undefined when the StackId is not a stack ARN. */
export function stackNameOf(stackId: string): string | undefined {
  const name = STACK_ARN_PATTERN.exec(stackId)?.[1];
  return name !== undefined && STACK_NAME_PATTERN.test(name) ? name : undefined;
}

/**
 * The EMF record of one wait that ended at `timestampMs`, or the reason there is none. Only values
 * that match the patterns of stack names, logical ids and task ids go into it, so whatever a request
 * carries, the record holds nothing else (no URL, no secret).
 */
export function waitMetricsRecord(wait: EndedWait, timestampMs: number): EmfRecord | string {
  const stackName = stackNameOf(wait.stackId);
  if (stackName === undefined) return `the StackId is not a CloudFormation stack ARN: ${JSON.stringify(wait.stackId.slice(0, 200))}`;
  if (!LOGICAL_ID_PATTERN.test(wait.logicalResourceId)) {
    return `the LogicalResourceId is not a CloudFormation logical id: ${JSON.stringify(wait.logicalResourceId.slice(0, 200))}`;
  }
  // Every record carries all three counts, 0 or 1: a Sum over a period is then the number of waits
  // that ended so, and an Average the share of them.
  const values: Array<[string, MetricDefinition['Unit'], number]> = [
    [WaitMetrics.SUCCEEDED, 'Count', wait.end === 'SUCCEEDED' ? 1 : 0],
    [WaitMetrics.FAILED, 'Count', wait.end === 'SUCCEEDED' ? 0 : 1],
    [WaitMetrics.TIMED_OUT, 'Count', wait.end === 'TIMED_OUT' ? 1 : 0],
  ];
  if (wait.end === 'SUCCEEDED') {
    // The same figures as the construct's attributes.
    const figure = (name: string) => {
      const value = wait.attributes?.[name] ?? '';
      return /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
    };
    values.push(
      [WaitMetrics.DURATION, 'Seconds', figure(ResourceAttributes.TIME_ELAPSED_SECONDS)],
      [WaitMetrics.VERTICES_WRITTEN, 'Count', figure(ResourceAttributes.NUM_VERTICES_WRITTEN)],
      [WaitMetrics.EDGES_WRITTEN, 'Count', figure(ResourceAttributes.NUM_EDGES_WRITTEN)],
    );
  }
  const published = values.filter(([, , value]) => Number.isFinite(value) && value >= 0);
  return {
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [{
        Namespace: WaitMetrics.NAMESPACE,
        Dimensions: [[WaitMetrics.STACK_DIMENSION, WaitMetrics.RESOURCE_DIMENSION]],
        Metrics: published.map(([Name, Unit]) => ({ Name, Unit })),
      }],
    },
    [WaitMetrics.STACK_DIMENSION]: stackName,
    [WaitMetrics.RESOURCE_DIMENSION]: wait.logicalResourceId,
    ...Object.fromEntries(published.map(([name, , value]) => [name, value])),
    // Not a metric: lets a log query find the export behind a data point.
    ...(TASK_ID_PATTERN.test(wait.taskId) ? { TaskId: wait.taskId } : {}),
  };
}

/** How the loop's answer counts: a re-read is not a wait, and has no record. */
export function endedWait(request: Partial<LoopRequest>, taskId: string, outcome: unknown, verdict: Verdict): EndedWait | undefined {
  // An Update or rollback that returns to a task the resource already had re-reads that task (also
  // when its answer fails because the task is gone): that export's wait was counted when it ended.
  if (request.rereadPhysicalId) return undefined;
  // The read of a long-wait export's finished task: the first resource's wait was counted when it ended.
  if (request.countsInMetrics === false) return undefined;
  const end: WaitEnd = verdict.status === 'SUCCESS' ? 'SUCCEEDED' : outcome === Outcome.TIMED_OUT ? 'TIMED_OUT' : 'FAILED';
  return {
    stackId: text(request.StackId),
    logicalResourceId: text(request.LogicalResourceId),
    taskId,
    end,
    ...(verdict.data ? { attributes: verdict.data } : {}),
  };
}

/**
 * Publishes the metrics of the wait the loop has just answered. The caller calls it once the answer
 * is delivered and the request's secrets are deleted: a later invocation for the same request (the
 * loop retrying an invocation that timed out after answering, a redelivered answer) finds no secrets
 * and stops before answering, so it publishes nothing; an invocation that died before the end
 * published nothing, and its retry answers and publishes. Never throws: the answer has gone out.
 */
export function publishWaitMetrics(request: Partial<LoopRequest>, taskId: string, outcome: unknown, verdict: Verdict): void {
  const wait = endedWait(request, taskId, outcome, verdict);
  if (!wait) return;
  // Whole milliseconds, as the specification's Timestamp is (a faked clock can give fractions).
  const record = waitMetricsRecord(wait, Math.floor(Date.now()));
  if (typeof record === 'string') {
    log('WARN', `No metrics for this wait: ${record}`, { taskId });
    return;
  }
  try {
    process.stdout.write(`${JSON.stringify(record)}\n`);
  } catch (error) {
    log('WARN', 'Could not write the metrics of this wait', { error: errorText(error) });
  }
}
