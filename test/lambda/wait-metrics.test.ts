/**
 * lambda/wait-metrics.ts: one CloudWatch Embedded Metric Format record per wait that ends through the
 * loop's answer, written straight to stdout, and none for a re-read or a repeated answer. The record
 * is checked against the EMF specification's rules (emf-spec.ts) and against the metric contract
 * (WaitMetrics).
 */
import { emfViolations } from './emf-spec';
import {
  CONTEXT, executionNameOf, Json, loopAnswer, SUCCEEDED_TASK, TASK_ID, useHandlerEnvironment, WAITER_PROPERTIES, waiterEvent,
} from './fixtures';
import { forEachSeed } from './seeded';
import type { CustomResourceEvent } from '../../harness/cloudformation';
import { handler } from '../../lambda/export-waiter.lambda';
import { EmfRecord, stackNameOf, waitMetricsRecord } from '../../lambda/wait-metrics';
import { ANSWER_MARKER, Outcome, ResourceProperties, WaitMetrics } from '../../src/runtime/constants';

const env = useHandlerEnvironment();

const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/analytics-exports/5f2b3c40-1d2e-11ef-9b0a-0a1b2c3d4e5f';
const SUCCEEDED_ATTRIBUTES = { TimeElapsedSeconds: '754', NumVerticesWritten: '1200000', NumEdgesWritten: '5400000' };
const AT = Date.UTC(2026, 0, 1, 12, 0, 0);

function recordOf(end: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT', overrides: Json = {}): EmfRecord {
  const attributes = end === 'SUCCEEDED' ? { attributes: SUCCEEDED_ATTRIBUTES } : {};
  const wait = { stackId: STACK_ID, logicalResourceId: 'NightlyExport1A2B3C4D', taskId: TASK_ID, end, ...attributes, ...overrides };
  const record = waitMetricsRecord(wait, AT);
  if (typeof record === 'string') throw new Error(record);
  return record;
}

/** The metric names of a record with their units, and its values. */
function metricsOf(record: EmfRecord): { units: Record<string, string>; values: Record<string, unknown> } {
  const definitions = record._aws.CloudWatchMetrics[0].Metrics;
  return {
    units: Object.fromEntries(definitions.map((d) => [d.Name, d.Unit])),
    values: Object.fromEntries(definitions.map((d) => [d.Name, record[d.Name]])),
  };
}

describe('the record', () => {
  test.each(['SUCCEEDED', 'FAILED', 'TIMED_OUT'] as const)('of a %s wait follows the EMF specification, in the namespace and dimensions of the contract', (end) => {
    const record = recordOf(end);

    expect(emfViolations(JSON.stringify(record))).toEqual([]);
    expect(record._aws.Timestamp).toBe(AT);
    expect(record._aws.CloudWatchMetrics).toHaveLength(1);
    expect(record._aws.CloudWatchMetrics[0].Namespace).toBe(WaitMetrics.NAMESPACE);
    expect(record._aws.CloudWatchMetrics[0].Dimensions).toEqual([[WaitMetrics.STACK_DIMENSION, WaitMetrics.RESOURCE_DIMENSION]]);
    expect(record).toMatchObject({ [WaitMetrics.STACK_DIMENSION]: 'analytics-exports', [WaitMetrics.RESOURCE_DIMENSION]: 'NightlyExport1A2B3C4D', TaskId: TASK_ID });
  });

  test('of a succeeded wait counts one success, and carries the export\'s duration in Seconds and its counts', () => {
    expect(metricsOf(recordOf('SUCCEEDED'))).toEqual({
      units: { WaitsSucceeded: 'Count', WaitsFailed: 'Count', WaitsTimedOut: 'Count', ExportDuration: 'Seconds', VerticesWritten: 'Count', EdgesWritten: 'Count' },
      values: { WaitsSucceeded: 1, WaitsFailed: 0, WaitsTimedOut: 0, ExportDuration: 754, VerticesWritten: 1_200_000, EdgesWritten: 5_400_000 },
    });
  });

  test('of a failed wait counts one failure, and no duration or counts', () => {
    expect(metricsOf(recordOf('FAILED'))).toEqual({
      units: { WaitsSucceeded: 'Count', WaitsFailed: 'Count', WaitsTimedOut: 'Count' },
      values: { WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 0 },
    });
  });

  test('of a timed-out wait counts it both as failed and as timed out', () => {
    expect(metricsOf(recordOf('TIMED_OUT')).values).toEqual({ WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 1 });
  });

  test('leaves out a figure the task did not give as a number, rather than publishing a made-up one', () => {
    const record = recordOf('SUCCEEDED', { attributes: { TimeElapsedSeconds: '', NumVerticesWritten: '7', NumEdgesWritten: 'n/a' } });

    expect(emfViolations(JSON.stringify(record))).toEqual([]);
    expect(metricsOf(record).values).toEqual({ WaitsSucceeded: 1, WaitsFailed: 0, WaitsTimedOut: 0, VerticesWritten: 7 });
  });

  test('is refused when the StackId is not a stack ARN or the logical id is not one, so nothing else reaches it', () => {
    const url = 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=abc';
    const refused = (overrides: Json) => waitMetricsRecord({ stackId: STACK_ID, logicalResourceId: 'Waiter', taskId: TASK_ID, end: 'FAILED', ...overrides }, AT);

    expect(refused({ stackId: url })).toEqual(expect.stringContaining('not a CloudFormation stack ARN'));
    expect(refused({ stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/has spaces/uuid' })).toEqual(expect.stringContaining('not a CloudFormation stack ARN'));
    expect(refused({ logicalResourceId: `Waiter ${url}` })).toEqual(expect.stringContaining('not a CloudFormation logical id'));
    // A task id that is not one is left out; the record still counts the wait.
    expect(JSON.stringify(refused({ taskId: url }))).not.toContain('amazonaws');
  });
});

describe('stackNameOf', () => {
  test('reads the name of any valid stack from its StackId, in every partition', async () => {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const runs = await forEachSeed('stack names', 200, 1, (random) => {
      const name = random.string(letters, 1) + random.string(`${letters}0123456789-`, random.int(128));
      const partition = random.pick(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso-b']);
      const stackId = `arn:${partition}:cloudformation:${random.pick(['us-east-1', 'cn-north-1', 'us-gov-west-1'])}:123456789012:stack/${name}/${random.string('0123456789abcdef-', 36)}`;
      expect(stackNameOf(stackId)).toBe(name);
    });
    expect(runs).toBeGreaterThan(0);
  });

  test.each([
    ['a bare stack name', 'analytics-exports'],
    ['another service\'s ARN', 'arn:aws:s3:::bucket/stack/name/uuid'],
    ['a stack ARN without its id', 'arn:aws:cloudformation:us-east-1:123456789012:stack/analytics-exports'],
    ['a name starting with a digit', 'arn:aws:cloudformation:us-east-1:123456789012:stack/1stack/uuid'],
    ['a name of 129 characters', `arn:aws:cloudformation:us-east-1:123456789012:stack/${'a'.repeat(129)}/uuid`],
  ])('finds no name in %s', (_, stackId) => {
    expect(stackNameOf(stackId)).toBeUndefined();
  });
});

describe('through the handler', () => {
  const recordsSince = (mark: number) => env.stdoutLines.slice(mark).filter((line) => line.includes('"_aws"'));

  async function startWait(e: CustomResourceEvent = waiterEvent(env.receiver, 'Create')): Promise<Json> {
    await handler(e, CONTEXT);
    const call = env.sfn.callsOf('StartExecution').find((c) => c.body.name === executionNameOf(e));
    if (!call) throw new Error(`no execution for ${e.RequestId}: ${env.logLines.slice(-3).join('\n')}`);
    return JSON.parse(call.body.input);
  }

  test.each([
    ['SUCCEEDED', { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }, { WaitsSucceeded: 1, WaitsFailed: 0, WaitsTimedOut: 0, ExportDuration: 754 }],
    ['FAILED', { outcome: Outcome.TASK_ENDED, task: { Status: 'FAILED', StatusReason: 'denied' } }, { WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 0 }],
    ['TIMED_OUT', { outcome: Outcome.TIMED_OUT, task: { Status: 'EXPORTING' } }, { WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 1 }],
    ['START_FAILED', { outcome: Outcome.START_FAILED, error: { Error: 'NeptuneGraph.ConflictException' } }, { WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 0 }],
    ['CALL_FAILED', { outcome: Outcome.CALL_FAILED, error: { Error: 'NeptuneGraph.AccessDeniedException' } }, { WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 0 }],
  ])('a wait that ended %s writes one record, a whole stdout line, after the answer', async (_, answer, expected) => {
    const e = waiterEvent(env.receiver, 'Create');
    const input = await startWait(e);
    const mark = env.stdoutLines.length;
    await handler(loopAnswer(input, answer));

    const records = recordsSince(mark);
    expect(records).toHaveLength(1);
    expect(emfViolations(records[0])).toEqual([]);
    expect(JSON.parse(records[0])).toMatchObject({ ...expected, StackName: 'harness-stack', LogicalResourceId: e.LogicalResourceId });
    expect(env.receiver.answers(e.RequestId)).toHaveLength(1);
    expect(env.leakingLines()).toEqual([]);
  });

  test('an answer the loop delivers again (its first invocation timed out after answering) writes no second record', async () => {
    const input = await startWait();
    const mark = env.stdoutLines.length;
    const answer = loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: { Status: 'FAILED' } });
    await handler(answer);
    await handler(answer);

    expect(recordsSince(mark)).toHaveLength(1);
  });

  test('an Update or rollback that re-reads the task the resource already has writes no record, whatever it finds', async () => {
    const e = waiterEvent(env.receiver, 'Update', WAITER_PROPERTIES, {
      physicalResourceId: TASK_ID, oldProperties: { ...WAITER_PROPERTIES, [ResourceProperties.TIMEOUT_SECONDS]: '900' },
    });
    const input = await startWait(e);
    expect(input.request.rereadPhysicalId).toBe(TASK_ID);
    const mark = env.stdoutLines.length;
    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: { Status: 'DELETED' } }));

    expect(env.receiver.answers(e.RequestId)).toHaveLength(1);
    expect(recordsSince(mark)).toEqual([]);
  });

  test('in long-wait mode the announcement writes nothing, and the signal at the end writes the record', async () => {
    const handle = env.receiver.waitConditionHandle(`MetricsHandle${Date.now()}`);
    const e = waiterEvent(env.receiver, 'Create', { ...WAITER_PROPERTIES, TimeoutSeconds: '7200', [ResourceProperties.SIGNAL_URL]: handle });
    const input = await startWait(e);
    const mark = env.stdoutLines.length;
    await handler({ [ANSWER_MARKER]: { phase: 'started', taskId: TASK_ID, request: input.request } });
    expect(recordsSince(mark)).toEqual([]);

    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: { Status: 'CANCELLED' } }, { announced: true }));

    const records = recordsSince(mark);
    expect(records).toHaveLength(1);
    expect(JSON.parse(records[0])).toMatchObject({ WaitsFailed: 1, LogicalResourceId: e.LogicalResourceId });
    expect(env.leakingLines()).toEqual([]);
  });

  test('an answer for a request whose StackId is no stack ARN is still delivered, and says why it has no record', async () => {
    const input = await startWait();
    const mark = env.stdoutLines.length;
    const logMark = env.logLines.length;
    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }, {
      request: { ...input.request, StackId: 'not-an-arn' },
    }));

    expect(recordsSince(mark)).toEqual([]);
    expect(env.receiver.attempts(input.request.RequestId)).toHaveLength(1);
    expect(env.logLines.slice(logMark).some((line) => line.includes('No metrics for this wait: the StackId is not a CloudFormation stack ARN'))).toBe(true);
  });
});
