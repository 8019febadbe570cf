/**
 * The WaitForExportTask fragment end to end: the nightly-export example's state machine exactly as
 * `cdk synth` emits it, run by the harness (harness/user-state-machine.ts) on virtual time against
 * the Neptune Analytics emulator, with the Step Functions quotas enforced by the execution observer.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NightlyExportStack } from '../../examples/nightly-export/stack';
import { MAX_HISTORY_EVENTS } from '../../harness/execution-observer';
import { ProgressModel, progressModels, TaskScript } from '../../harness/neptune-emulator';
import { UserExecution, UserStateMachine } from '../../harness/user-state-machine';
import { ExportTaskErrors, ExportTaskSource, WaitForExportTask } from '../../src';
import { FRAGMENT_HISTORY_EVENTS, MAX_FRAGMENT_ROUNDS, WORST_EVENTS_PER_ROUND } from '../../src/private/wait-budget';
import { forEachSeed } from '../lambda/seeded';

const GRAPH_ID = 'g-0123456789';
const TASK_ID = 't-0123456789';
const GET = 'ExportGraph: GetExportTask';
const STUCK_AT_99: ProgressModel = (f) => (f < 0.02 ? (f / 0.02) * 0.99 : 0.99);

const running: UserStateMachine[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((machine) => machine.stop()));
});

interface Announced { readonly messages: unknown[] }

/** The nightly example as synthesized, its downstream step recorded. */
async function nightly(props: ConstructorParameters<typeof NightlyExportStack>[2] = {}, seed = 1): Promise<UserStateMachine & Announced> {
  const stack = new NightlyExportStack(new App(), 'NightlyGraphExport', { env: { account: '123456789012', region: 'us-east-1' }, ...props });
  const messages: unknown[] = [];
  const machine = await UserStateMachine.start(stack, {
    parameters: { GraphId: GRAPH_ID },
    // The optimized lambda:invoke integration: the function's answer under Payload.
    tasks: { PublishLatestExport: async (input) => { messages.push(input); return { StatusCode: 200, Payload: { latest: 's3://exports/nightly/latest.json' } }; } },
    seed,
  });
  running.push(machine);
  return Object.assign(machine, { messages });
}

/** A user's machine that waits for a task id it is given. */
async function waitingFor(props: Partial<ConstructorParameters<typeof WaitForExportTask>[2]> = {}): Promise<UserStateMachine> {
  const stack = new Stack(new App(), 'Waits', { env: { account: '123456789012', region: 'us-east-1' } });
  const wait = new WaitForExportTask(stack, 'ExportGraph', { task: ExportTaskSource.fromTaskId(sfn.JsonPath.stringAt('$.taskId')), ...props });
  new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(wait.next(new sfn.Succeed(stack, 'Done'))) });
  const machine = await UserStateMachine.start(stack);
  running.push(machine);
  return machine;
}

const rounds = (execution: UserExecution) => execution.path.filter((state) => state === GET).length;

function report(line: string): void {
  process.stderr.write(`[wait-for-export-task] ${line}\n`);
}

describe('the nightly export example', () => {
  test('starts the export under the night\'s prefix, waits for it, and hands its fields to the next step', async () => {
    const machine = await nightly();
    machine.emulator.startDefaults = { initializingSeconds: 60, exportingSeconds: 2 * 3600, vertices: 4242, edges: 8484 };

    const execution = await machine.run({}, 'night-2026-11-29');

    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
    const start = machine.emulator.calls.find((call) => call.operation === 'StartExportTask')!;
    const request = machine.emulator.requestOf(start) as Record<string, unknown>;
    expect(request).toMatchObject({ graphIdentifier: GRAPH_ID, format: 'PARQUET', destination: expect.stringMatching(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/nightly\/night-2026-11-29\/$/) });
    const taskId = String(execution.output!.exportTask && (execution.output!.exportTask as Record<string, unknown>).exportTaskId);
    expect(execution.output!.exportTask).toEqual({
      exportTaskId: taskId,
      graphId: GRAPH_ID,
      status: 'SUCCEEDED',
      statusReason: null,
      format: 'PARQUET',
      parquetType: null,
      destination: request.destination,
      kmsKeyIdentifier: request.kmsKeyIdentifier,
      roleArn: request.roleArn,
      startTime: expect.any(String),
      timeElapsedSeconds: expect.any(Number),
      numVerticesWritten: 4242,
      numEdgesWritten: 8484,
    });
    expect(machine.messages).toEqual([expect.objectContaining({ Payload: execution.output!.exportTask })]);
    expect(execution.output!.published).toEqual({ latest: 's3://exports/nightly/latest.json' });
    // The progress-aware policy polls a two-hour export a few dozen times, not every five seconds.
    expect(rounds(execution)).toBeLessThan(60);
    report(`2 h export: ${rounds(execution)} polls, ${execution.historyEvents} history events, ${(execution.historyEvents / rounds(execution)).toFixed(1)} per poll`);
  }, 60_000);

  test('fails with NeptuneGraphExport.TaskFailed naming the task and the reason when the export FAILED, and publishes nothing', async () => {
    const machine = await nightly();
    machine.emulator.startDefaults = { initializingSeconds: 60, exportingSeconds: 1800, outcome: 'FAILED', statusReason: 'The export role cannot write to the bucket' };

    const execution = await machine.run();

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe(ExportTaskErrors.TASK_FAILED);
    expect(execution.cause).toMatch(/^Export task t-[a-z0-9]{10} ended FAILED: The export role cannot write to the bucket$/);
    expect(machine.messages).toEqual([]);
  }, 60_000);

  test('rides out throttled reads and still succeeds', async () => {
    const machine = await nightly();
    machine.emulator.startDefaults = { initializingSeconds: 60, exportingSeconds: 3600 };
    const start = machine.clock.now();
    machine.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.5, between: [start, start + 3 * 3600] });

    const execution = await machine.run();

    expect(execution.status).toBe('SUCCEEDED');
    expect(machine.emulator.calls.filter((call) => call.operation === 'GetExportTask' && call.errorType === 'ThrottlingException').length).toBeGreaterThan(0);
    expect((execution.output!.exportTask as Record<string, unknown>).status).toBe('SUCCEEDED');
  }, 60_000);

  test('fails with NeptuneGraphExport.StartFailed when StartExportTask is refused', async () => {
    const machine = await nightly();
    machine.emulator.fault({ operation: 'StartExportTask', kind: 'validation', message: 'Graph is not available' });

    const execution = await machine.run();

    expect(execution.error).toBe(ExportTaskErrors.START_FAILED);
    expect(execution.cause).toContain('Graph is not available');
    expect(machine.emulator.calls.filter((call) => call.operation === 'GetExportTask')).toEqual([]);
  }, 60_000);
});

describe('waiting for a task id from the state', () => {
  test('fails with NeptuneGraphExport.ReadFailed at once when the task does not exist', async () => {
    const machine = await waitingFor();

    const execution = await machine.run({ taskId: TASK_ID });

    expect(execution.error).toBe(ExportTaskErrors.READ_FAILED);
    expect(execution.cause).toContain(`GetExportTask of ${TASK_ID} failed`);
    expect(machine.emulator.calls.filter((call) => call.operation === 'GetExportTask')).toHaveLength(1);
  }, 60_000);

  test('fails with NeptuneGraphExport.TimedOut once the timeout has passed, after a last poll at the deadline', async () => {
    const machine = await waitingFor({ timeout: Duration.minutes(30) });
    machine.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 60, exportingSeconds: 3 * 3600 });
    const start = machine.clock.now();

    const execution = await machine.run({ taskId: TASK_ID });

    expect(execution.error).toBe(ExportTaskErrors.TIMED_OUT);
    expect(execution.cause).toContain(`Export task ${TASK_ID} did not end within the timeout`);
    const polls = machine.emulator.calls.filter((call) => call.operation === 'GetExportTask');
    // The waits add up to the timeout exactly; calls take no virtual time here.
    expect(polls[polls.length - 1].at - start).toBe(30 * 60);
  }, 60_000);

  test('a task that sits at 99 % for the whole of a 12-hour timeout, its reads 75 % throttled, stays within the fragment\'s history budget', async () => {
    const machine = await waitingFor({ timeout: Duration.hours(12) });
    machine.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 60, exportingSeconds: 13 * 3600, progress: STUCK_AT_99 });
    const start = machine.clock.now();
    machine.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.75, between: [start, start + 13 * 3600] });

    const execution = await machine.run({ taskId: TASK_ID });

    expect(execution.error).toBe(ExportTaskErrors.TIMED_OUT);
    expect(execution.historyLimitReached).toBe(false);
    expect(execution.historyEvents).toBeLessThanOrEqual(FRAGMENT_HISTORY_EVENTS);
    expect(rounds(execution)).toBeLessThanOrEqual(MAX_FRAGMENT_ROUNDS);
    expect(execution.historyEvents / rounds(execution)).toBeLessThanOrEqual(WORST_EVENTS_PER_ROUND);
    report(`12 h at 99 %, 75 % throttled: ${rounds(execution)} polls, ${execution.historyEvents} history events `
      + `(${(execution.historyEvents / rounds(execution)).toFixed(1)} per poll; budget ${FRAGMENT_HISTORY_EVENTS} of ${MAX_HISTORY_EVENTS})`);
  }, 120_000);

  test('a long export (5 h, most of it at 99 %) within a 6-hour timeout succeeds within the bound', async () => {
    const machine = await waitingFor({ timeout: Duration.hours(6) });
    const script: TaskScript = { taskId: TASK_ID, initializingSeconds: 60, exportingSeconds: 5 * 3600, progress: STUCK_AT_99, vertices: 1, edges: 2 };
    machine.emulator.addTask(script);

    const execution = await machine.run({ taskId: TASK_ID });

    expect(execution.status).toBe('SUCCEEDED');
    expect((execution.output!.exportTask as Record<string, unknown>).numEdgesWritten).toBe(2);
    expect(execution.historyEvents).toBeLessThanOrEqual(FRAGMENT_HISTORY_EVENTS);
    report(`5 h at 99 %: ${rounds(execution)} polls, ${execution.historyEvents} history events (${(execution.historyEvents / rounds(execution)).toFixed(1)} per poll)`);
  }, 120_000);
});

describe('seeded generated exports', () => {
  const TIMEOUTS = [20 * 60, 3600, 3 * 3600, 6 * 3600];
  const OUTCOMES = ['SUCCEEDED', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED'] as const;
  const MODELS = Object.keys(progressModels) as Array<keyof typeof progressModels>;

  test('every generated export ends as its task did (or times out when it outlasts the wait), within the history budget', async () => {
    const runs = await forEachSeed('generated exports', 8, 7000, async (random) => {
      const timeout = random.pick(TIMEOUTS);
      const script: TaskScript = {
        taskId: TASK_ID,
        initializingSeconds: 30 + random.int(300),
        exportingSeconds: Math.round(timeout * (0.05 + random.next() * 2)),
        progress: progressModels[random.pick(MODELS)],
        outcome: random.pick(OUTCOMES),
        vertices: random.int(10_000),
        edges: random.int(10_000),
      };
      const throttled = random.next() * 0.4;
      const machine = await waitingFor({ timeout: Duration.seconds(timeout) });
      machine.emulator.addTask(script);
      const start = machine.clock.now();
      machine.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: throttled, between: [start, start + 3 * timeout] });

      const execution = await machine.run({ taskId: TASK_ID });

      const end = script.initializingSeconds! + script.exportingSeconds!;
      const described = {
        timeout, end, outcome: script.outcome, throttled, status: execution.status, error: execution.error, cause: execution.cause,
      };
      const endedAsTask = script.outcome === 'SUCCEEDED'
        ? execution.status === 'SUCCEEDED' && (execution.output!.exportTask as Record<string, unknown>).numVerticesWritten === script.vertices
        : execution.error === ExportTaskErrors.TASK_FAILED && (execution.cause ?? '').includes(`ended ${script.outcome}`);
      const timedOut = execution.error === ExportTaskErrors.TIMED_OUT;
      if (end <= 0.8 * timeout) expect({ ...described, endedAsTask }).toMatchObject({ endedAsTask: true });
      else if (end >= 2 * timeout) expect({ ...described, timedOut }).toMatchObject({ timedOut: true });
      else expect({ ...described, either: endedAsTask || timedOut }).toMatchObject({ either: true });
      expect(execution.historyEvents).toBeLessThanOrEqual(FRAGMENT_HISTORY_EVENTS);
      expect(rounds(execution)).toBeLessThanOrEqual(MAX_FRAGMENT_ROUNDS);
      await machine.stop();
      running.splice(running.indexOf(machine), 1);
    });
    expect(runs).toBeGreaterThan(0);
  }, 300_000);
});
