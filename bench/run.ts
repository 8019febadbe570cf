/**
 * `npm run bench`: polling, scale and cold-start figures of this library against the usual ways to
 * wait, measured in one run. Prints the tables and a PASS/MISS line per target, and writes
 * bench/results.json and docs/polling-lateness-vs-calls.svg. Seeded: the polling figures are the
 * same on every run; times (synth, cold start) are medians of repetitions on this machine.
 * See docs/performance.md for what each figure includes.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderChart } from './chart';
import { ColdStartMeasurement, measureColdStart } from './cold-start';
import {
  ExportJob, fixed60, MODEL_NAMES, ModelName, MODELS, oracle, Outcome, population,
  providerFramework, sdkWaiter, summarize, Summary, WAIT_MODES,
} from './polling';
import { perAddedWaiter, ScaleMeasurement, VARIANT_LABELS, VARIANTS } from './scale';
import { FALLBACK_INTERVAL_SECONDS, GROWTH_CAP_DIVISOR, PACE_FRACTION, STALL_PERCENTS } from '../src/runtime/polling-policy';

const ROOT = path.join(__dirname, '..');
const CONFIG = {
  seed: 20240601,
  exportsPerModel: Number(process.env.BENCH_EXPORTS_PER_MODEL ?? 60),
  workers: Math.max(1, Math.min(2, os.cpus().length)),
  scaleSizes: [1, 10, 100],
  synthRepetitions: 11,
  coldStartProcesses: 21,
};

const STRATEGIES = {
  library: { label: 'this library (harness)', short: 'library', color: '#1565c0' },
  providerFramework: { label: 'Provider framework, 5 s', short: 'Provider 5 s', color: '#c62828' },
  sdkWaiter: { label: 'SDK waitUntilExportTaskSuccessful', short: 'SDK waiter', color: '#ef6c00' },
  fixed60: { label: 'fixed 60 s', short: 'fixed 60 s', color: '#6a1b9a' },
  oracle: { label: 'oracle (one call at the end)', short: 'oracle', color: '#2e7d32' },
} as const;
type Strategy = keyof typeof STRATEGIES;
const STRATEGY_NAMES = Object.keys(STRATEGIES) as Strategy[];

const out = (line = '') => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const pad = (s: string | number, n: number) => String(s).padStart(n);
const padEnd = (s: string, n: number) => s.padEnd(n);

// ---------------------------------------------------------------------------------------------
// Work in fresh processes: (a) is CPU-bound (two workers share it), and synth times are measured
// away from the polling phase's heap. Each worker module answers one message with `{ results }`.

function inWorker<T>(module: string, message: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = fork(path.join(__dirname, module), [], {
      execArgv: ['-r', 'ts-node/register/transpile-only', '--expose-gc'],
      env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, 'tsconfig.json'), NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let answered = false;
    worker.once('message', (m: { results?: T; error?: string }) => {
      answered = true;
      if (m.results) resolve(m.results);
      else reject(new Error(`${module} failed: ${m.error}`));
    });
    worker.once('exit', (code) => !answered && reject(new Error(`${module} exited with ${code}`)));
    worker.send(message as never);
  });
}

function runLibraryInWorkers(jobs: ExportJob[]): Promise<Outcome[]> {
  // Longest first, dealt round-robin, so that the workers finish at about the same time.
  const sorted = [...jobs].sort((a, b) => b.exportingSeconds - a.exportingSeconds);
  const shares = Array.from({ length: CONFIG.workers }, (_, w) => sorted.filter((_j, i) => i % CONFIG.workers === w));
  return Promise.all(shares.map((share) => inWorker<Outcome[]>('polling.ts', share))).then((parts) => parts.flat());
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = performance.now();
  const tmp = path.join(ROOT, '.tmp', 'bench');
  fs.mkdirSync(tmp, { recursive: true });
  process.env.TMPDIR = tmp;

  // 1. Polling
  const jobs = population(CONFIG.exportsPerModel, CONFIG.seed);
  note(`polling: ${jobs.length} deployments of the library in ${CONFIG.workers} worker(s)...`);
  let t = performance.now();
  const outcomes: Record<Strategy, Outcome[]> = {
    library: await runLibraryInWorkers(jobs),
    providerFramework: await providerFramework(jobs),
    sdkWaiter: await sdkWaiter(jobs, CONFIG.seed),
    fixed60: await fixed60(jobs),
    oracle: await oracle(jobs),
  };
  const pollingMs = performance.now() - t;
  const summaries = {} as Record<ModelName, Record<Strategy, Summary>>;
  for (const model of MODEL_NAMES) {
    summaries[model] = {} as Record<Strategy, Summary>;
    for (const s of STRATEGY_NAMES) summaries[model][s] = summarize(outcomes[s].filter((o) => o.model === model));
  }
  const allLibrary = summarize(outcomes.library);

  // 2. Scale
  note('scale: synthesizing stacks...');
  t = performance.now();
  const scale = await inWorker<ScaleMeasurement[]>('scale.ts', { sizes: CONFIG.scaleSizes, repetitions: CONFIG.synthRepetitions, workDir: path.join(tmp, 'synth') });
  const scaleMs = performance.now() - t;

  // 3. Cold start
  note('cold start: fresh node processes...');
  t = performance.now();
  const cold = await measureColdStart(CONFIG.coldStartProcesses, tmp);
  const coldMs = performance.now() - t;

  // ---- Report
  const durations = jobs.filter((j) => j.model === MODEL_NAMES[0]).map((j) => j.initializingSeconds + j.exportingSeconds);
  const longWaits = outcomes.library.filter((o) => o.mode === 'longWait').length;
  out('=== Polling ===');
  out(`Population: ${CONFIG.exportsPerModel} exports per progress model (seed ${CONFIG.seed}), durations log-uniform 1 min - 8 h ` +
    `(here ${round(Math.min(...durations) / 60)} min - ${round(Math.max(...durations) / 3600, 2)} h, ` +
    `${round(durations.reduce((a, b) => a + b, 0) / 3600)} export-hours per model), the same durations under every model.`);
  out(`(a) ${outcomes.library.length} real deployments in the local harness (synthesized state machine + shipped handler bundle + emulator):`);
  out(`    ${outcomes.library.length - longWaits} exports of up to 55 min: custom-resource wait (timeout ${WAIT_MODES.customResource.timeoutSeconds} s), lateness to the custom-resource answer;`);
  out(`    ${longWaits} longer: long-wait mode (timeout ${WAIT_MODES.longWait.timeoutSeconds} s), lateness to the WaitCondition signal (local receiver for the handle URL).`);
  out('(b)-(e) simulated on the same emulated tasks; (c) is the SDK\'s own waiter code under fake timers, seeded Math.random.');
  out(`Policy constants: PACE_FRACTION=${PACE_FRACTION} GROWTH_CAP_DIVISOR=${GROWTH_CAP_DIVISOR} FALLBACK_INTERVAL_SECONDS=${FALLBACK_INTERVAL_SECONDS} STALL_PERCENTS=${STALL_PERCENTS}`);
  out();
  const header = `${padEnd('strategy', 36)}${pad('mean late s', 12)}${pad('p95 late s', 11)}${pad('max late s', 11)}${pad('calls/h', 9)}${pad('x 60s', 7)}${pad('Lambda/dep', 11)}${pad('per poll', 9)}${pad('SFN tr/dep', 11)}${pad('hist/dep', 9)}${pad('max/exec', 9)}`;
  for (const model of MODEL_NAMES) {
    out(`--- ${MODELS[model].label} (${MODELS[model].informative ? 'informative' : 'uninformative'})`);
    out(header);
    const base = summaries[model].fixed60.callsPerExportHour;
    for (const s of STRATEGY_NAMES) {
      const r = summaries[model][s];
      out(`${padEnd(STRATEGIES[s].label, 36)}${pad(round(r.meanLatenessSeconds), 12)}${pad(round(r.p95LatenessSeconds), 11)}${pad(round(r.maxLatenessSeconds), 11)}` +
        `${pad(round(r.callsPerExportHour), 9)}${pad(round(r.callsPerExportHour / base, 2), 7)}` +
        `${pad(r.lambdaInvocationsByMode ? Object.values(r.lambdaInvocationsByMode).map((v) => round(v)).join('|') : '-', 11)}` +
        `${pad(r.lambdaInvocationsPerPoll === undefined ? '-' : round(r.lambdaInvocationsPerPoll, 2), 9)}` +
        `${pad(r.stateTransitionsPerDeployment === undefined ? '-' : round(r.stateTransitionsPerDeployment), 11)}` +
        `${pad(r.historyEventsPerDeployment === undefined ? '-' : round(r.historyEventsPerDeployment), 9)}` +
        `${pad(r.maxExecutionHistoryEvents === undefined ? '-' : r.maxExecutionHistoryEvents, 9)}`);
    }
  }
  out('(Lambda/dep for the library: custom-resource wait | long-wait mode. "-": an algorithm without a deployment of its own.');
  out(' Provider: per deployment 2 + 2 per poll Lambda invocations, 1 transition per poll.');
  out(` With its default totalTimeout (30 min) it fails ${durations.filter((d) => d > 1800).length} of ${durations.length} exports; no custom resource can wait past 1 h: ${durations.filter((d) => d > 3600).length} of ${durations.length}.)`);
  out();

  out('=== Scale (one stack, N waiters) ===');
  out(`${padEnd('variant', 22)}${pad('N', 5)}${pad('resources', 11)}${pad('template B', 12)}${pad('synth ms', 10)}`);
  for (const r of scale) {
    out(`${padEnd(VARIANT_LABELS[r.variant], 22)}${pad(r.waiters, 5)}${pad(r.resources, 11)}${pad(r.templateBytes, 12)}${pad(round(r.synthMs), 10)}` +
      (r.resources > 500 ? '  (over CloudFormation\'s 500-resource limit)' : ''));
  }
  out('per added waiter:');
  for (const v of VARIANTS) {
    out(`  ${padEnd(VARIANT_LABELS[v], 20)} resources ${round(perAddedWaiter(scale, v, 'resources'), 2)}, template ${round(perAddedWaiter(scale, v, 'templateBytes'))} B, synth ${round(perAddedWaiter(scale, v, 'synthMs'), 3)} ms`);
  }
  out(`(synth: median of ${CONFIG.synthRepetitions} repetitions (3 for Provider per waiter) of constructing the stack and app.synth(), assets staged;`);
  out(' per added waiter: median over repetitions of (N=100 - N=1) / 99)');
  out();

  out('=== Cold start (Delete, fresh node process) ===');
  const coldLabels = { library: 'this library', libraryUnminified: 'library unminified *', providerFramework: 'Provider onEvent' };
  out(`${padEnd('handler', 20)}${pad('asset B', 9)}${pad('zipped B', 10)}${pad('load ms', 9)}${pad('init ms', 9)}${pad('process ms', 12)}  what the Delete did`);
  for (const c of cold) {
    out(`${padEnd(coldLabels[c.name], 20)}${pad(c.assetBytes, 9)}${pad(c.assetDeflatedBytes, 10)}${pad(round(c.loadMs), 9)}${pad(round(c.initMs), 9)}${pad(round(c.processWallMs), 12)}  ` +
      `${c.calls.answers} answers, ${c.calls.invokes} Lambda invokes, ${c.calls.startExecutions} StartExecution over ${c.processes} processes`);
  }
  out(`(medians of ${CONFIG.coldStartProcesses} processes each; init = require + first invocation until its promise settles;`);
  out(' zipped = each file deflated at level 9; * what-if only: the same handler built without esbuild --minify, not what ships)');
  out();

  // ---- Targets
  const targets: Array<{ target: string; met: boolean; detail: string }> = [];
  const check = (target: string, met: boolean, detail: string) => targets.push({ target, met, detail });
  for (const model of MODEL_NAMES.filter((m) => MODELS[m].informative)) {
    const r = summaries[model].library;
    check(`${model}: mean lateness <= 5 s`, r.meanLatenessSeconds <= 5, `${round(r.meanLatenessSeconds, 2)} s`);
    check(`${model}: p95 lateness <= 15 s`, r.p95LatenessSeconds <= 15, `${round(r.p95LatenessSeconds, 2)} s`);
    check(`${model}: <= 72 calls per export-hour`, r.callsPerExportHour <= 72, `${round(r.callsPerExportHour)} calls/h`);
    check(`${model}: zero Lambda invocations per poll`, r.lambdaInvocationsPerPoll === 0,
      `${round(r.lambdaInvocationsPerPoll ?? NaN, 3)} per poll (per deployment: ${Object.entries(r.lambdaInvocationsByMode ?? {}).map(([m, v]) => `${round(v, 2)} ${m}`).join(', ')})`);
  }
  for (const model of MODEL_NAMES) {
    const r = summaries[model].library;
    check(`${model}: no execution over 20,000 history events`, (r.maxExecutionHistoryEvents ?? Infinity) <= 20_000,
      `largest ${r.maxExecutionHistoryEvents}, mean per deployment ${round(r.historyEventsPerDeployment ?? NaN)}`);
  }
  for (const model of MODEL_NAMES.filter((m) => !MODELS[m].informative)) {
    const r = summaries[model].library;
    const f = summaries[model].fixed60;
    check(`${model}: mean lateness <= fixed 60 s waiter's`, r.meanLatenessSeconds <= f.meanLatenessSeconds,
      `${round(r.meanLatenessSeconds, 2)} s vs ${round(f.meanLatenessSeconds, 2)} s`);
    check(`${model}: calls <= 2 x fixed 60 s waiter's`, r.callsPerExportHour <= 2 * f.callsPerExportHour,
      `${round(r.callsPerExportHour)} vs 2 x ${round(f.callsPerExportHour)} calls/h`);
  }
  const lib = scale.filter((r) => r.variant === 'library');
  const constants = new Set(lib.map((r) => r.resources - r.waiters));
  const constant = [...constants][0];
  check('scale: resources = N + constant, constant <= 10', constants.size === 1 && constant <= 10,
    lib.map((r) => `N=${r.waiters}: ${r.resources}`).join(', ') + ` (constant ${[...constants].join('/')})`);
  for (const field of ['synthMs', 'templateBytes'] as const) {
    const mine = perAddedWaiter(scale, 'library', field);
    const theirs = perAddedWaiter(scale, 'sharedProvider', field);
    check(`scale: ${field === 'synthMs' ? 'synth time' : 'template bytes'} per added waiter <= shared Provider's`, mine <= theirs,
      `${round(mine, 3)} vs ${round(theirs, 3)} ${field === 'synthMs' ? 'ms' : 'B'}`);
  }
  const [mineCold, theirsCold] = [cold.find((c) => c.name === 'library')!, cold.find((c) => c.name === 'providerFramework')!];
  check('cold start: bundle bytes <= Provider onEvent asset', mineCold.assetBytes <= theirsCold.assetBytes, `${mineCold.assetBytes} vs ${theirsCold.assetBytes} B`);
  check('cold start: init time <= Provider onEvent', mineCold.initMs <= theirsCold.initMs, `${round(mineCold.initMs)} vs ${round(theirsCold.initMs)} ms`);

  out('=== Targets ===');
  for (const r of targets) out(`${r.met ? 'PASS' : 'MISS'}  ${r.target}: ${r.detail}`);
  out();

  // ---- Files
  const svg = renderChart(
    MODEL_NAMES.flatMap((model) => STRATEGY_NAMES.map((s) => ({
      strategy: s, model, callsPerHour: summaries[model][s].callsPerExportHour, meanLatenessSeconds: summaries[model][s].meanLatenessSeconds,
    }))),
    {
      title: 'Mean lateness against GetExportTask calls, per strategy and progress model',
      series: STRATEGY_NAMES.map((s) => ({ strategy: s, label: STRATEGIES[s].short, color: STRATEGIES[s].color })),
      models: MODEL_NAMES.map((m) => ({ model: m, label: MODELS[m].label, short: MODELS[m].short })),
      floorSeconds: 0.1,
      target: { maxLatenessSeconds: 5, maxCallsPerHour: 72, label: 'target (informative models)' },
      footnote: `${CONFIG.exportsPerModel} exports per model, 1 min - 8 h, seed ${CONFIG.seed}.\n` +
        'Provider, SDK waiter, fixed 60 s and oracle\nignore progress: one point for every model.\n' +
        'Oracle lateness is 0, drawn at 0.1 s.\nLibrary: real deployments in the harness.\nRules (b)-(e): simulated on the same tasks.',
    },
  );
  fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'docs', 'polling-lateness-vs-calls.svg'), svg);

  const totalMs = performance.now() - started;
  const results = {
    config: { ...CONFIG, policy: { PACE_FRACTION, GROWTH_CAP_DIVISOR, FALLBACK_INTERVAL_SECONDS, STALL_PERCENTS } },
    environment: { node: process.version, platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length },
    runtimeSeconds: { polling: round(pollingMs / 1000), scale: round(scaleMs / 1000), coldStart: round(coldMs / 1000), total: round(totalMs / 1000) },
    polling: {
      strategies: STRATEGIES,
      models: MODELS,
      summaries,
      libraryAllModels: allLibrary,
      exports: jobs.filter((j) => j.model === MODEL_NAMES[0])
        .map((j) => ({ index: j.index, initializingSeconds: j.initializingSeconds, exportingSeconds: j.exportingSeconds })),
      libraryOutcomes: [...outcomes.library].sort((a, b) => MODEL_NAMES.indexOf(a.model) - MODEL_NAMES.indexOf(b.model) || a.index - b.index),
    },
    scale: scale as ScaleMeasurement[],
    coldStart: cold as ColdStartMeasurement[],
    targets,
  };
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  out(`Wrote bench/results.json and docs/polling-lateness-vs-calls.svg. Runtime: polling ${round(pollingMs / 1000)} s, ` +
    `scale ${round(scaleMs / 1000)} s, cold start ${round(coldMs / 1000)} s, total ${round(totalMs / 1000)} s.`);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
