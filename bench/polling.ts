/**
 * Polling benchmark: one seeded population of exports, five progress models, five strategies.
 *
 * (a) this library: every export is a real deployment in the local harness (harness/): the
 *     synthesized state machine in aws-local-stepfunctions, the shipped handler bundle, the Neptune
 *     Analytics emulator, on a virtual clock. Run in worker processes (see `runLibraryJobs`).
 * (b)-(e) are rules that ignore progress, so they are simulated on the same population, reading the
 *     status from the same emulated tasks at the times their rule polls. (c) is not a port: it is
 *     `waitUntilExportTaskSuccessful` from @aws-sdk/client-neptune-graph itself, run under fake
 *     timers with a client that reads the emulated task.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
// bench/ is not shipped (package-ignored): it may use the project's devDependencies.
import { GetExportTaskCommand, waitUntilExportTaskSuccessful } from '@aws-sdk/client-neptune-graph';
import { install } from '@sinonjs/fake-timers';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { LocalDeployment, seededRandom } from '../harness/local-deployment';
import { NeptuneGraphEmulator, progressModels, VirtualClock } from '../harness/neptune-emulator';
import { ExportTaskWaiter } from '../src';

export const MODELS = {
  linear: { progress: progressModels.linear, noise: 0.02, label: 'linear + 2% noise', short: 'linear', informative: true },
  frontLoaded: { progress: progressModels.frontLoaded, noise: 0, label: 'front-loaded', short: 'front-loaded', informative: true },
  backLoaded: { progress: progressModels.backLoaded, noise: 0, label: 'back-loaded', short: 'back-loaded', informative: true },
  stalledThenJumping: { progress: progressModels.stalledThenJumping, noise: 0, label: 'stalled then jumping', short: 'stalled/jump', informative: false },
  noProgressUntilDone: { progress: progressModels.noProgressUntilDone, noise: 0, label: 'no progress until done', short: 'no progress', informative: false },
} as const;
export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export interface ExportJob {
  readonly model: ModelName;
  readonly index: number;
  readonly taskId: string;
  readonly initializingSeconds: number;
  readonly exportingSeconds: number;
}

/** One export as one strategy saw it. */
export interface Outcome {
  readonly model: ModelName;
  readonly index: number;
  /** Seconds from the start of the wait to the terminal status. */
  readonly durationSeconds: number;
  /** Seconds from the terminal status to CloudFormation's answer (or the waiter's return). */
  readonly latenessSeconds: number;
  readonly getExportTaskCalls: number;
  /** Per deployment; undefined where a rule has no deployment (an in-process algorithm). */
  readonly lambdaInvocations?: number;
  readonly stateTransitions?: number;
  /** Only for (a): Step Functions history events of the deployment (all its executions), and of its largest execution. */
  readonly historyEvents?: number;
  readonly maxExecutionHistoryEvents?: number;
  /** Only for (a): how the library waited. */
  readonly mode?: WaitMode;
}

/**
 * Durations log-uniform from 1 min to 8 h, stratified (one draw per 1/n of the log range) so that a
 * small population still covers the whole range; the same durations under every model.
 */
export function population(perModel: number, seed: number): ExportJob[] {
  const random = seededRandom(seed);
  const shapes = Array.from({ length: perModel }, (_, i) => {
    const total = Math.round(60 * 480 ** ((i + random()) / perModel));
    const initializingSeconds = Math.min(Math.round(0.1 * total), 10 + Math.round(80 * random()));
    return { initializingSeconds, exportingSeconds: total - initializingSeconds };
  });
  return MODEL_NAMES.flatMap((model, m) =>
    shapes.map((shape, index) => ({ model, index, taskId: `t-b${m}${String(index).padStart(8, '0')}`, ...shape })));
}

const taskScript = (job: ExportJob) => ({
  taskId: job.taskId,
  initializingSeconds: job.initializingSeconds,
  exportingSeconds: job.exportingSeconds,
  progress: MODELS[job.model].progress,
  progressNoise: MODELS[job.model].noise,
});

// ---------------------------------------------------------------------------------------------
// (a) The library, in the local harness

/** The two ways the library waits, and the timeout the bench deploys each with. */
export const WAIT_MODES = {
  /** Up to 55 minutes: the custom resource waits; CloudFormation gets the custom-resource answer. */
  customResource: { timeoutSeconds: 55 * 60 },
  /** Up to 11 h 55 min: a WaitCondition waits; CloudFormation gets the WaitCondition signal. */
  longWait: { timeoutSeconds: 11 * 3600 + 55 * 60 },
} as const;
export type WaitMode = keyof typeof WAIT_MODES;
export const modeFor = (job: ExportJob): WaitMode =>
  job.initializingSeconds + job.exportingSeconds <= WAIT_MODES.customResource.timeoutSeconds ? 'customResource' : 'longWait';

function waiterStack(mode: WaitMode): Stack {
  const stack = new Stack(new App(), 'PollingBench', { env: { account: '123456789012', region: 'us-east-1' } });
  new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789', timeout: Duration.seconds(WAIT_MODES[mode].timeoutSeconds) });
  return stack;
}

/**
 * Stands in for the presigned URL of a WaitConditionHandle (the harness has none): records when each
 * signal arrived, by `Date.now()`, which the harness keeps on the virtual clock.
 */
async function startSignalReceiver() {
  const received = new Map<string, { at: number; body: string }>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.set(new URL(req.url ?? '/', 'http://signal').pathname, { at: Date.now(), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-length': 0 }).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    urlFor: (taskId: string) => `${base}/signal/${taskId}?X-Amz-Signature=local`,
    signalFor: (taskId: string) => received.get(`/signal/${taskId}`),
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/**
 * Runs jobs one after the other, each as the Create of a real deployment, in the mode a user would
 * deploy for its length: exports up to 55 minutes with a 55-minute custom-resource wait, longer ones
 * in long-wait mode (timeout 11 h 55 min), answered by the WaitCondition signal.
 */
export async function runLibraryJobs(jobs: ExportJob[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const mode of Object.keys(WAIT_MODES) as WaitMode[]) {
    const mine = jobs.filter((j) => modeFor(j) === mode);
    if (mine.length === 0) continue;
    const d = await LocalDeployment.start(waiterStack(mode));
    const signals = await startSignalReceiver();
    let invocations = 0;
    const invoke = d.invoke.bind(d);
    d.invoke = (event: unknown) => {
      invocations++;
      return invoke(event);
    };
    try {
      for (const job of mine) {
        invocations = 0;
        const firstExecution = d.executions.length;
        const startedAt = d.clock.now();
        d.emulator.addTask(taskScript(job));
        const endsAt = startedAt + job.initializingSeconds + job.exportingSeconds;
        const event = d.event('Create', {
          properties: { TaskIdentifier: job.taskId, ...(mode === 'longWait' ? { SignalURL: signals.urlFor(job.taskId) } : {}) },
          requestId: `bench-${job.taskId}`,
        });
        // Returns once the execution ended (the harness waits until idle), so a signal has arrived.
        const answer = await d.run(event, 300_000);
        // The executions of this deployment: more than one when the loop continued in a new execution.
        const executions = d.executions.slice(firstExecution);
        const execution = executions[executions.length - 1];
        const signal = signals.signalFor(job.taskId);
        const status = mode === 'longWait' ? (signal && (JSON.parse(signal.body) as { Status?: string }).Status) : (answer.body as { Status?: string }).Status;
        if ((answer.body as { Status?: string }).Status !== 'SUCCESS' || status !== 'SUCCESS' || execution.status !== 'SUCCEEDED') {
          throw new Error(`${job.taskId} (${mode}): expected SUCCESS, got ${JSON.stringify(answer.body)} ${signal?.body ?? ''}`);
        }
        const answeredAt = (mode === 'longWait' ? signal!.at : answer.receivedAt) / 1000;
        outcomes.push({
          model: job.model,
          index: job.index,
          durationSeconds: endsAt - startedAt,
          latenessSeconds: answeredAt - endsAt,
          getExportTaskCalls: d.emulator.calls.filter((c) => c.operation === 'GetExportTask' && c.taskId === job.taskId).length,
          lambdaInvocations: invocations,
          stateTransitions: executions.reduce((sum, e) => sum + e.transitions, 0),
          historyEvents: executions.reduce((sum, e) => sum + e.historyEvents, 0),
          maxExecutionHistoryEvents: Math.max(...executions.map((e) => e.historyEvents)),
          mode,
        });
      }
    } finally {
      await d.stop();
      await signals.close();
    }
  }
  return outcomes;
}

// ---------------------------------------------------------------------------------------------
// (b)-(e) Simulated rules, on the same emulated tasks

/** An emulated task per job, queried directly (no HTTP) at the times a rule polls. */
async function withEmulatedTasks<T>(
  jobs: ExportJob[],
  each: (job: ExportJob, statusAt: (t: number) => string, endsAt: number) => Promise<T>,
): Promise<T[]> {
  const clock = new VirtualClock();
  const emulator = await NeptuneGraphEmulator.start({ clock, seed: 1 });
  const results: T[] = [];
  try {
    for (const job of jobs) {
      const startedAt = clock.now();
      const task = emulator.addTask(taskScript(job));
      const statusAt = (t: number) => {
        clock.advance(Math.max(0, startedAt + t - clock.now()));
        return String(task.describe().status);
      };
      results.push(await each(job, statusAt, job.initializingSeconds + job.exportingSeconds));
      clock.advance(Math.max(0, startedAt + 2 * 86400 - clock.now()));
    }
  } finally {
    await emulator.stop();
  }
  return results;
}

/** Polls at 0, interval, 2 interval... (the Provider framework's retry loop, or a fixed waiter). */
async function fixedInterval(
  jobs: ExportJob[],
  interval: number,
  perDeployment?: (polls: number) => { lambdaInvocations: number; stateTransitions: number },
): Promise<Outcome[]> {
  return withEmulatedTasks(jobs, async (job, statusAt, endsAt) => {
    let polls = 0;
    let t = 0;
    for (; ; t += interval) {
      polls++;
      if (statusAt(t) === 'SUCCEEDED') break;
    }
    return {
      model: job.model, index: job.index, durationSeconds: endsAt, latenessSeconds: t - endsAt, getExportTaskCalls: polls, ...perDeployment?.(polls),
    };
  });
}

/**
 * (b) `custom_resources.Provider` with `isCompleteHandler`, defaults: framework onEvent invokes the
 * user's onEvent and starts the waiter state machine, whose single Task (framework isComplete, which
 * invokes the user's isComplete, which calls GetExportTask) runs at once and is retried every 5 s
 * (BackoffRate 1). Each attempt is one state transition (the first entry, then one per retry).
 */
export const providerFramework = (jobs: ExportJob[]) =>
  fixedInterval(jobs, 5, (polls) => ({ lambdaInvocations: 2 + 2 * polls, stateTransitions: polls }));

/** (d) GetExportTask at once, then every 60 s. */
export const fixed60 = (jobs: ExportJob[]) => fixedInterval(jobs, 60);

/** (e) One GetExportTask, exactly when the task ends. */
export const oracle = (jobs: ExportJob[]) =>
  withEmulatedTasks(jobs, async (job, statusAt, endsAt) => {
    if (statusAt(endsAt) !== 'SUCCEEDED') throw new Error(`${job.taskId} not SUCCEEDED at its end`);
    return { model: job.model, index: job.index, durationSeconds: endsAt, latenessSeconds: 0, getExportTaskCalls: 1 };
  });

/**
 * (c) The SDK's own waiter, `waitUntilExportTaskSuccessful` (service defaults minDelay 60 s, maxDelay
 * 28800 s; @smithy/core's runPolling: first call at once, then a delay drawn uniformly from
 * [minDelay, minDelay * 2^(attempt-1)], and maxDelay once attempt > log2(maxDelay/minDelay) + 1).
 * Timers and Date are faked, Math.random is seeded per export (the same draws under every model).
 */
export async function sdkWaiter(jobs: ExportJob[], seed: number): Promise<Outcome[]> {
  return withEmulatedTasks(jobs, async (job, statusAt, endsAt) => {
    const realRandom = Math.random;
    Math.random = seededRandom(seed + job.index);
    const fake = install({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    let polls = 0;
    const client = {
      send: async (command: GetExportTaskCommand) => {
        if (command.input.taskIdentifier !== job.taskId) throw new Error('unexpected task');
        polls++;
        return { status: statusAt(Date.now() / 1000) };
      },
    };
    try {
      let settled = false;
      const waiting = waitUntilExportTaskSuccessful({ client: client as never, maxWaitTime: 2 * 86400 }, { taskIdentifier: job.taskId })
        .finally(() => (settled = true));
      while (!settled) await fake.nextAsync();
      const result = await waiting;
      if (result.state !== 'SUCCESS') throw new Error(`${job.taskId}: SDK waiter ended ${result.state}`);
      return { model: job.model, index: job.index, durationSeconds: endsAt, latenessSeconds: Date.now() / 1000 - endsAt, getExportTaskCalls: polls };
    } finally {
      fake.uninstall();
      Math.random = realRandom;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Summary

export interface Summary {
  readonly exports: number;
  readonly meanLatenessSeconds: number;
  readonly p95LatenessSeconds: number;
  readonly maxLatenessSeconds: number;
  readonly callsPerExportHour: number;
  readonly meanCallsPerExport: number;
  readonly lambdaInvocationsPerDeployment?: number;
  /** Lambda invocations that grow with the number of polls: slope of invocations against calls. */
  readonly lambdaInvocationsPerPoll?: number;
  /** Mean Lambda invocations per deployment, per wait mode. */
  readonly lambdaInvocationsByMode?: Record<string, number>;
  readonly stateTransitionsPerDeployment?: number;
  readonly historyEventsPerDeployment?: number;
  readonly maxExecutionHistoryEvents?: number;
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

export function summarize(outcomes: Outcome[]): Summary {
  const lateness = outcomes.map((o) => o.latenessSeconds);
  const calls = outcomes.map((o) => o.getExportTaskCalls);
  const hours = outcomes.reduce((sum, o) => sum + o.durationSeconds, 0) / 3600;
  const invocations = outcomes.map((o) => o.lambdaInvocations).filter((v): v is number => v !== undefined);
  const transitions = outcomes.map((o) => o.stateTransitions).filter((v): v is number => v !== undefined);
  let perPoll: number | undefined;
  const byMode: Record<string, number[]> = {};
  if (invocations.length === outcomes.length) {
    // Least-squares slope of invocations against calls, within each wait mode (the modes differ by
    // a fixed number of invocations); the largest slope is reported.
    for (const o of outcomes) (byMode[o.mode ?? 'all'] ??= []).push(outcomes.indexOf(o));
    perPoll = Math.max(...Object.values(byMode).map((indexes) => {
      const c = indexes.map((i) => calls[i]);
      const v = indexes.map((i) => invocations[i]);
      const mc = mean(c);
      const mv = mean(v);
      const varc = c.reduce((sum, x) => sum + (x - mc) ** 2, 0);
      return varc === 0 ? 0 : c.reduce((sum, x, k) => sum + (x - mc) * (v[k] - mv), 0) / varc;
    }));
  }
  return {
    exports: outcomes.length,
    meanLatenessSeconds: mean(lateness),
    p95LatenessSeconds: percentile(lateness, 95),
    maxLatenessSeconds: Math.max(...lateness),
    callsPerExportHour: calls.reduce((a, b) => a + b, 0) / hours,
    meanCallsPerExport: mean(calls),
    lambdaInvocationsPerDeployment: invocations.length === outcomes.length ? mean(invocations) : undefined,
    lambdaInvocationsPerPoll: perPoll,
    lambdaInvocationsByMode: invocations.length === outcomes.length
      ? Object.fromEntries(Object.entries(byMode).map(([mode, indexes]) => [mode, mean(indexes.map((i) => invocations[i]))]))
      : undefined,
    stateTransitionsPerDeployment: transitions.length === outcomes.length ? mean(transitions) : undefined,
    historyEventsPerDeployment: outcomes.every((o) => o.historyEvents !== undefined) ? mean(outcomes.map((o) => o.historyEvents!)) : undefined,
    maxExecutionHistoryEvents: outcomes.every((o) => o.maxExecutionHistoryEvents !== undefined)
      ? Math.max(...outcomes.map((o) => o.maxExecutionHistoryEvents!)) : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Worker entry: `fork`ed by bench/run.ts with a list of jobs; answers with the outcomes.

if (require.main === module && process.send) {
  process.once('message', (jobs: ExportJob[]) => {
    runLibraryJobs(jobs).then(
      (outcomes) => process.send!({ results: outcomes }, () => process.exit(0)),
      (error: Error) => process.send!({ error: String(error.stack ?? error) }, () => process.exit(1)),
    );
  });
}
