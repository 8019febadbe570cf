/**
 * End-to-end scenarios at the limits Step Functions, Lambda and the service put on the wait loop
 * (project issue 10): the 25,000-event execution history, the 256 KiB state data, Lambda throttling,
 * responses shaped unlike the service model, and a Delete that runs out of time. The harness
 * enforces the Step Functions quotas as the service does (harness/execution-observer.ts), so a
 * loop that would die on AWS dies here too.
 *
 * Every scenario also checks that no ResponseURL or WaitCondition handle URL (or its signature)
 * appears in any execution's input, state data or task parameters (what its history would hold).
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import {
  AnswerBody, answeredOnce, attributesOfEmulatedTask, deploymentsStoppedAfterEach, receivedAt, TASK_ID, waiterStack,
} from './helpers';
import { MAX_PAYLOAD_BYTES } from '../../harness/execution-observer';
import { LocalDeployment } from '../../harness/local-deployment';
import { ProgressModel, TaskScript } from '../../harness/neptune-emulator';
import { ExportDestination, ExportOutputType, GraphExport, GraphExportProps } from '../../src';

const deploy = deploymentsStoppedAfterEach();

/** Well below the quota: an execution that nears 25,000 events is one retry storm away from dying. */
const HISTORY_BUDGET = 20_000;

/** Progress that reaches 99 % within the first 2 % of the export, then stays there until it ends. */
const STUCK_AT_99: ProgressModel = (f) => (f < 0.02 ? (f / 0.02) * 0.99 : 0.99);

/** What every scenario must hold for every execution of the loop. */
function loopStayedWithinLimits(d: LocalDeployment): void {
  for (const execution of d.executions) {
    expect({ name: execution.name, historyEvents: execution.historyEvents, limitReached: execution.historyLimitReached })
      .toEqual({ name: execution.name, historyEvents: expect.any(Number), limitReached: false });
    expect(execution.historyEvents).toBeLessThanOrEqual(HISTORY_BUDGET);
    expect({ name: execution.name, failure: execution.failure?.error }).not.toEqual({ name: execution.name, failure: 'States.DataLimitExceeded' });
    expect({ name: execution.name, secretSightings: execution.secretSightings }).toEqual({ name: execution.name, secretSightings: [] });
  }
  expect(d.executions.filter((e) => e.status === 'RUNNING')).toEqual([]);
}

/** The executions in the order they continued one another; all but the last ended by continuing. */
function chainOf(d: LocalDeployment) {
  const continued = d.executions.slice(0, -1);
  for (const execution of continued) expect({ name: execution.name, status: execution.status }).toEqual({ name: execution.name, status: 'SUCCEEDED' });
  return d.executions;
}

const GRAPH_ID = 'g-0123456789';

/** A stack with one GraphExport of a literal S3 URI (role, key and bucket get the harness's plausible values). */
function graphExportStack(props: Partial<GraphExportProps> = {}): Stack {
  const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
  new GraphExport(stack, 'Export', {
    graphId: GRAPH_ID,
    destination: ExportDestination.fromS3Uri('s3://analytics-exports/graph/'),
    encryptionKey: new kms.Key(stack, 'ExportKey', { enableKeyRotation: true }),
    ...props,
  });
  return stack;
}

/** An export filter (as the construct takes it) of at least `bytes` bytes of JSON once serialized for the service. */
function filterOf(bytes: number): NonNullable<GraphExportProps['exportFilter']> {
  const vertexFilter: Record<string, { properties: Record<string, { outputType: ExportOutputType; sourcePropertyName: string }> }> = {};
  for (let i = 0, size = 0; size < bytes; i++) {
    vertexFilter[`Label${i}`] = { properties: { [`out_${i}`]: { outputType: ExportOutputType.STRING, sourcePropertyName: `sourceProperty${i}` } } };
    size += 100;
  }
  return { vertexFilter };
}

/** The same filter as the service-side PascalCase JSON a CloudFormation event carries. */
function pascalFilterOf(bytes: number): Record<string, unknown> {
  const vertexFilter: Record<string, unknown> = {};
  for (let i = 0; JSON.stringify(vertexFilter).length < bytes; i++) {
    vertexFilter[`Label${i}`] = { Properties: { [`out_${i}`]: { OutputType: 'String', SourcePropertyName: `sourceProperty${i}` } } };
  }
  return { VertexFilter: vertexFilter };
}

/** Writes a figure for the report to stderr (the deployment captures console output while it runs). */
function report(line: string): void {
  process.stderr.write(`[loop-limits] ${line}\n`);
}

describe('(2) long waits continue in new executions before the history quota', () => {
  test('a custom resource polling every second for 55 minutes: several executions, each under 20,000 events, one answer', async () => {
    const everySecond = { minPollInterval: Duration.seconds(1), maxPollInterval: Duration.seconds(1) };
    const d = await deploy(waiterStack({ timeout: Duration.minutes(55), ...everySecond }));
    const script: TaskScript = { taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 55 * 60 - 90, vertices: 4242, edges: 8484 };
    d.emulator.addTask(script);

    const answer = await d.run(d.event('Create'), 110_000);

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    expect(body.Data).toEqual(attributesOfEmulatedTask(d.emulator.task(TASK_ID)!.describe()));
    const chain = chainOf(d);
    expect(chain.length).toBeGreaterThanOrEqual(4);
    loopStayedWithinLimits(d);
    report(`55 min at 1 s: ${chain.length} executions, history events ${chain.map((e) => e.historyEvents).join(', ')}; deployment ${d.historyEvents()}`);
  }, 120_000);

  /** Long-wait mode: the custom resource is answered at once, the WaitCondition signalled at the end, then the Result waiter reads the task. */
  async function longWait(d: LocalDeployment, script: TaskScript, realTimeoutMs: number): Promise<void> {
    d.emulator.addTask(script);
    // The waiter answered when the task is known, and the Result waiter that reads it after the WaitCondition.
    expect(d.waiters()).toHaveLength(2);
    const [waiting, result] = d.waiters();
    expect(waiting.properties.SignalURL).toBeDefined();
    const started = await d.run(d.event('Create', { logicalId: waiting.logicalId }), realTimeoutMs);
    expect(answeredOnce(d, started)).toMatchObject({ Status: 'SUCCESS', Data: { TaskId: TASK_ID } });

    const signals = d.cloudFormation.signals();
    expect(signals).toHaveLength(1);
    expect(signals[0].body).toMatchObject({ Status: 'SUCCESS', UniqueId: TASK_ID });
    const read = await d.run(d.event('Create', { logicalId: result.logicalId, properties: { TaskIdentifier: TASK_ID } }));
    expect(answeredOnce(d, read).Data).toEqual(attributesOfEmulatedTask(d.emulator.task(TASK_ID)!.describe()));
  }

  test('a long wait (11 h 55 min) whose progress sits at 99 % for eleven hours, through throttling: continued executions, one signal', async () => {
    const d = await deploy(waiterStack({ timeout: Duration.minutes(11 * 60 + 55) }));
    const start = d.clock.now();
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.3, between: [start + 3600, start + 4 * 3600] });
    await longWait(d, { taskId: TASK_ID, initializingSeconds: 60, exportingSeconds: 11.5 * 3600, progress: STUCK_AT_99 }, 110_000);

    const chain = chainOf(d);
    loopStayedWithinLimits(d);
    report(`11 h 55 min stuck at 99 %: ${chain.length} executions, history events ${chain.map((e) => e.historyEvents).join(', ')}; deployment ${d.historyEvents()}`);
  }, 120_000);

  test('a long wait polling every second while most reads are throttled: the densest rounds still continue under 20,000 events', async () => {
    const d = await deploy(waiterStack({ timeout: Duration.hours(2), minPollInterval: Duration.seconds(1), maxPollInterval: Duration.seconds(1) }));
    const start = d.clock.now();
    // Most polls need several attempts: the most history events a poll round writes.
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.75, between: [start, start + 2 * 3600] });
    await longWait(d, { taskId: TASK_ID, initializingSeconds: 60, exportingSeconds: 110 * 60 }, 110_000);

    const chain = chainOf(d);
    expect(chain.length).toBeGreaterThanOrEqual(2);
    loopStayedWithinLimits(d);
    report(`2 h at 1 s, 75 % throttled: ${chain.length} executions, history events ${chain.map((e) => e.historyEvents).join(', ')}; deployment ${d.historyEvents()}`);
  }, 120_000);
});

describe('(7) Lambda throttling of the answer', () => {
  const TEN_MINUTES: TaskScript = { taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 570 };

  test('throttled invokes of the answering handler are retried and CloudFormation is answered once', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask(TEN_MINUTES);
    d.lambdaFault({ caller: 'stepFunctions', kind: 'throttle', times: 5 });

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', Data: { TaskId: TASK_ID, Status: 'SUCCEEDED' } });
    expect(d.lambdaFaults.injected).toHaveLength(5);
    loopStayedWithinLimits(d);
  });

  test('an answering invoke that timed out after answering is retried without a second answer', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask(TEN_MINUTES);
    d.lambdaFault({ caller: 'stepFunctions', kind: 'timedOut', times: 1 });

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS' });
    expect(d.cloudFormation.attempts(answer.requestId)).toHaveLength(1);
    expect(d.executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
    loopStayedWithinLimits(d);
  });

  test("CloudFormation's invoke of the handler, throttled: Lambda retries it and the request is answered", async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask(TEN_MINUTES);
    d.lambdaFault({ caller: 'cloudFormation', kind: 'throttle', times: 4 });

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS' });
    expect(d.executions).toHaveLength(1);
    loopStayedWithinLimits(d);
  });
});

describe('(8) results shaped unlike the service model do not kill the loop', () => {
  const camelCase = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(camelCase);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), camelCase(v)]));
  };

  test('StartExportTask returning camelCase taskId: the export is waited for and answered', async () => {
    const d = await deploy(graphExportStack(), {
      transformSdkResult: (action, result) => (action === 'startExportTask' ? camelCase(result) as Record<string, unknown> : result),
    });
    d.emulator.startDefaults = { initializingSeconds: 30, exportingSeconds: 600 };

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    const taskId = d.emulator.calls.find((c) => c.operation === 'StartExportTask')!.taskId!;
    expect(body.Status).toBe('SUCCESS');
    expect(body.PhysicalResourceId.startsWith(taskId)).toBe(true);
    expect(body.Data?.TaskId).toBe(taskId);
    loopStayedWithinLimits(d);
  });

  test('GetExportTask with ExportTaskDetails present but without progress or elapsed time: polled to the end and answered', async () => {
    const d = await deploy(waiterStack(), {
      transformSdkResult: (action, result) => {
        const details = result.ExportTaskDetails as Record<string, unknown> | undefined;
        if (action !== 'getExportTask' || !details) return result;
        const { ProgressPercentage: _progress, TimeElapsedSeconds: _elapsed, ...partial } = details;
        return { ...result, ExportTaskDetails: partial };
      },
    });
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 900, vertices: 77, edges: 99 });

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer)).toMatchObject({
      Status: 'SUCCESS', Data: { TaskId: TASK_ID, Status: 'SUCCEEDED', NumVerticesWritten: '77', NumEdgesWritten: '99', TimeElapsedSeconds: '0' },
    });
    expect(d.executions.map((e) => e.failure?.error)).not.toContain('States.Runtime');
    loopStayedWithinLimits(d);
  });

  test('GetExportTask with an empty ExportTaskDetails: answered all the same', async () => {
    const d = await deploy(waiterStack(), {
      transformSdkResult: (action, result) => (action === 'getExportTask' && result.ExportTaskDetails ? { ...result, ExportTaskDetails: {} } : result),
    });
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 300 });

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', Data: { TaskId: TASK_ID, NumVerticesWritten: '0', TimeElapsedSeconds: '0' } });
    loopStayedWithinLimits(d);
  });
});

describe('(10) a Delete that runs out of Lambda time', () => {
  test('is answered SUCCESS before Lambda ends the invocation', async () => {
    // Six real seconds of Lambda time: the handler keeps four in hand to answer.
    const d = await deploy(graphExportStack({ cancelOnDelete: true }), { functionTimeoutSeconds: 6 });
    d.emulator.startDefaults = { initializingSeconds: 30, exportingSeconds: 600 };
    const created = answeredOnce(d, await d.run(d.event('Create')));
    expect(created.Status).toBe('SUCCESS');
    // Every Neptune Analytics call of the Delete hangs longer than the invocation may run.
    d.emulator.fault({ kind: 'slow', delayMs: 8000 });

    const deleted = await d.run(d.event('Delete', { physicalResourceId: created.PhysicalResourceId }), 30_000);

    expect(answeredOnce(d, deleted)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: created.PhysicalResourceId });
    expect(d.invocations.filter((i) => i.overran)).toEqual([]);
    loopStayedWithinLimits(d);
  }, 40_000);
});

describe('(11) a large export filter never exceeds the state-data quota', () => {
  test('an 85 KB filter is refused with a reason naming its size, or waited for; no execution dies of States.DataLimitExceeded', async () => {
    const d = await deploy(graphExportStack());
    d.emulator.startDefaults = { initializingSeconds: 30, exportingSeconds: 600 };
    const request = d.properties().Export as Record<string, unknown>;
    const filter = pascalFilterOf(85_000);

    const answer = await d.run(d.event('Create', { properties: { Export: { ...request, ExportFilter: filter } } }));

    const body: AnswerBody = answeredOnce(d, answer);
    if (body.Status === 'FAILED') {
      expect(body.Reason).toMatch(/filter/i);
      expect(body.Reason).toMatch(new RegExp(`${Buffer.byteLength(JSON.stringify(filter))} bytes`));
    } else {
      expect(body.Status).toBe('SUCCESS');
    }
    loopStayedWithinLimits(d);
  });

  test('the largest filter the construct accepts is exported and answered, its state data under 256 KiB', async () => {
    const d = await deploy(graphExportStack({ exportFilter: filterOf(60_000) }));
    d.emulator.startDefaults = { initializingSeconds: 30, exportingSeconds: 600 };

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer).Status).toBe('SUCCESS');
    const largest = Math.max(...d.executions.flatMap((e) => Object.values(e.largestPayloadBytes)));
    expect(largest).toBeLessThan(MAX_PAYLOAD_BYTES);
    loopStayedWithinLimits(d);
  });
});

describe('(12) what the answer reports', () => {
  const FIVE_MINUTES: TaskScript = { taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 270 };

  test.each(['epochMilliseconds', 'epochSeconds', 'isoString'] as const)('StartTime given as %s is the task start', async (sdkTimestamps) => {
    const d = await deploy(waiterStack(), { sdkTimestamps });
    d.emulator.addTask(FIVE_MINUTES);

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer).Data?.StartTime).toBe(attributesOfEmulatedTask(d.emulator.task(TASK_ID)!.describe()).StartTime);
    loopStayedWithinLimits(d);
  });

  test('SUCCEEDED without ExportTaskDetails reports TimeElapsedSeconds 0', async () => {
    const d = await deploy(waiterStack(), {
      transformSdkResult: (action, result) => {
        if (action !== 'getExportTask') return result;
        const { ExportTaskDetails: _details, ...rest } = result;
        return rest;
      },
    });
    d.emulator.addTask(FIVE_MINUTES);

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', Data: { TimeElapsedSeconds: '0', NumVerticesWritten: '0', StartTime: '' } });
    loopStayedWithinLimits(d);
  });

  test('a timeout does not blame errors that ended long before the deadline', async () => {
    const d = await deploy(waiterStack({ timeout: Duration.minutes(10) }));
    const start = d.clock.now();
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 4 * 3600 });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', between: [start, start + 120] });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toMatch(/10 minutes/);
    expect(body.Reason).not.toMatch(/Throttl/i);
    expect(receivedAt(answer) - start).toBeGreaterThanOrEqual(600);
    loopStayedWithinLimits(d);
  });

  test('a timeout names the error that lasted until the deadline', async () => {
    const d = await deploy(waiterStack({ timeout: Duration.minutes(10) }));
    const start = d.clock.now();
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 4 * 3600 });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'internal', between: [start + 300, start + 3600] });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toMatch(/InternalServerException/);
    loopStayedWithinLimits(d);
  });
});

