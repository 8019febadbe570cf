/**
 * Runs the reliability scenarios one after another (each owns the process while it runs: the
 * harness fakes `Date` and captures the console) and adds up their figures. Around the whole run
 * it also captures everything written to stdout and stderr and every unhandled rejection, and then
 * looks for every issued ResponseURL and signature in all of it: the handler's log, the process
 * output, and every Reason, PhysicalResourceId and Data value CloudFormation was sent.
 */
import './fast-validation';
import { Scenario, ScenarioResult } from './scenario';
import { ScenarioOptions, scenarios as allScenarios } from './scenarios';

export interface ScenarioFigures {
  readonly name: string;
  readonly description: string;
  readonly requests: number;
  /** Requests that must get an answer through. */
  readonly answerable: number;
  readonly answeredOnce: number;
  readonly wrongOutcomes: number;
  /** Requests that must get an answer through and got none. */
  readonly unanswered: number;
  /** Requests answered more than once. */
  readonly duplicates: number;
  readonly secretsLeaked: number;
  readonly violations: number;
  readonly failedChecks: number;
  /** Worst virtual seconds from the moment the outcome was known to the answer. */
  readonly worstLatencySeconds?: number;
  readonly realMs: number;
}

export interface Leak {
  readonly scenario: string;
  readonly where: 'handler log' | 'stdout' | 'stderr' | 'answer value';
  /** The offending text, with the secret itself cut out. */
  readonly excerpt: string;
}

export interface SuiteResult {
  readonly scenarios: ScenarioResult[];
  readonly figures: ScenarioFigures[];
  readonly total: ScenarioFigures;
  readonly leaks: Leak[];
  readonly unhandledRejections: string[];
  /** Lines written to stdout and stderr while the suite ran (none of them shown). */
  readonly capturedLines: number;
  readonly realMs: number;
}

export interface SuiteOptions extends ScenarioOptions {
  /** Only scenarios whose name contains one of these. */
  readonly only?: readonly string[];
  /** Called after each scenario (for progress output; the capture is off while it runs). */
  readonly onScenario?: (figures: ScenarioFigures, result: ScenarioResult) => void;
}

type Write = typeof process.stdout.write;

export async function runSuite(options: SuiteOptions = {}): Promise<SuiteResult> {
  const began = performance.now();
  const list = allScenarios(options).filter((s) => !options.only || options.only.some((o) => s.name.includes(o)));
  const results: ScenarioResult[] = [];
  const output = new Map<string, { stdout: string[]; stderr: string[] }>();
  const unhandledRejections: string[] = [];
  let current = '';
  const onRejection = (reason: unknown) => {
    unhandledRejections.push(`${current}: ${reason instanceof Error ? reason.stack ?? reason.message : String(reason)}`);
  };
  process.on('unhandledRejection', onRejection);
  try {
    for (const s of list) {
      current = s.name;
      const captured = { stdout: [] as string[], stderr: [] as string[] };
      output.set(s.name, captured);
      const result = await capture(captured, () => runOne(s));
      results.push(result);
      options.onScenario?.(figuresOf(result, []), result);
    }
  } finally {
    process.off('unhandledRejection', onRejection);
  }

  // Every scenario's output is searched for every scenario's secrets.
  const secrets = [...new Set(results.flatMap((r) => r.secrets))];
  const leaks: Leak[] = [];
  for (const r of results) {
    const captured = output.get(r.name)!;
    leaks.push(
      ...leaksIn(r.name, 'handler log', r.logs, secrets),
      ...leaksIn(r.name, 'stdout', captured.stdout, secrets),
      ...leaksIn(r.name, 'stderr', captured.stderr, secrets),
      ...leaksIn(r.name, 'answer value', r.answerValues, secrets),
    );
  }
  const figures = results.map((r) => figuresOf(r, leaks.filter((l) => l.scenario === r.name)));
  const sum = (key: keyof ScenarioFigures) => figures.reduce((n, f) => n + (f[key] as number), 0);
  const latencies = figures.map((f) => f.worstLatencySeconds).filter((l): l is number => l !== undefined);
  const realMs = performance.now() - began;
  const total: ScenarioFigures = {
    name: 'total',
    description: `${figures.length} scenarios`,
    requests: sum('requests'),
    answerable: sum('answerable'),
    answeredOnce: sum('answeredOnce'),
    wrongOutcomes: sum('wrongOutcomes'),
    unanswered: sum('unanswered'),
    duplicates: sum('duplicates'),
    secretsLeaked: leaks.length,
    violations: sum('violations'),
    failedChecks: sum('failedChecks') + unhandledRejections.length,
    worstLatencySeconds: latencies.length > 0 ? Math.max(...latencies) : undefined,
    realMs,
  };
  const capturedLines = [...output.values()].reduce((n, o) => n + o.stdout.length + o.stderr.length, 0);
  return { scenarios: results, figures, total, leaks, unhandledRejections, capturedLines, realMs };
}

/** The texts that contain a secret, each with the secret cut out. Secrets under 16 characters are not looked for. */
export function leaksIn(scenario: string, where: Leak['where'], texts: readonly string[], secrets: readonly string[]): Leak[] {
  const searched = secrets.filter((secret) => secret.length >= 16);
  const leaks: Leak[] = [];
  for (const text of texts) {
    const found = searched.filter((secret) => text.includes(secret));
    if (found.length === 0) continue;
    let excerpt = text;
    for (const secret of found) excerpt = excerpt.split(secret).join('<secret>');
    leaks.push({ scenario, where, excerpt: excerpt.slice(0, 300) });
  }
  return leaks;
}

async function runOne(s: Scenario): Promise<ScenarioResult> {
  const began = performance.now();
  try {
    // Real time of the whole scenario: synthesis and start of the deployment included.
    return { ...(await s.run()), realMs: performance.now() - began };
  } catch (error) {
    // A scenario that cannot even run (the harness failed to start...) is a failed check, not a crash.
    return {
      name: s.name,
      description: s.description,
      requests: [],
      violations: [],
      failedChecks: [`the scenario crashed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`],
      logs: [],
      secrets: [],
      answerValues: [],
      realMs: performance.now() - began,
    };
  }
}

/** Runs `body` with everything written to stdout and stderr captured (line by line) instead of shown. */
async function capture<T>(into: { stdout: string[]; stderr: string[] }, body: () => Promise<T>): Promise<T> {
  const original = { stdout: process.stdout.write, stderr: process.stderr.write };
  const grab = (lines: string[]): Write => ((chunk: unknown, encodingOrDone?: unknown, done?: unknown) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    lines.push(...text.split('\n').filter((line) => line !== ''));
    const callback = typeof encodingOrDone === 'function' ? encodingOrDone : done;
    if (typeof callback === 'function') process.nextTick(callback as () => void);
    return true;
  }) as Write;
  process.stdout.write = grab(into.stdout);
  process.stderr.write = grab(into.stderr);
  try {
    return await body();
  } finally {
    process.stdout.write = original.stdout;
    process.stderr.write = original.stderr;
  }
}

function figuresOf(r: ScenarioResult, leaks: Leak[]): ScenarioFigures {
  const answerable = r.requests.filter((q) => q.expected !== 'NO_ANSWER');
  const latencies = r.requests.map((q) => q.latencySeconds).filter((l): l is number => l !== undefined);
  return {
    name: r.name,
    description: r.description,
    requests: r.requests.length,
    answerable: answerable.length,
    answeredOnce: answerable.filter((q) => q.accepted === 1).length,
    wrongOutcomes: r.requests.filter((q) => q.wrong.length > 0).length,
    unanswered: answerable.filter((q) => q.accepted === 0).length,
    duplicates: r.requests.filter((q) => q.accepted > 1).length,
    secretsLeaked: leaks.length,
    violations: r.violations.length,
    failedChecks: r.failedChecks.length,
    worstLatencySeconds: latencies.length > 0 ? Math.max(...latencies) : undefined,
    realMs: r.realMs,
  };
}

/** Every figure as required: each problem found, as a line a person can act on. */
export function problemsOf(result: SuiteResult): string[] {
  const problems: string[] = [];
  for (const r of result.scenarios) {
    for (const q of r.requests) {
      const expectedAnswers = q.expected === 'NO_ANSWER' ? 0 : 1;
      if (q.accepted !== expectedAnswers) problems.push(`${r.name} / ${q.label}: ${q.accepted} accepted answers, expected ${expectedAnswers}`);
      for (const w of q.wrong) problems.push(`${r.name} / ${q.label}: ${w}`);
    }
    for (const v of r.violations) problems.push(`${r.name}: contract violation: ${v.slice(0, 300)}`);
    for (const c of r.failedChecks) problems.push(`${r.name}: ${c.slice(0, 600)}`);
  }
  for (const leak of result.leaks) problems.push(`${leak.scenario}: secret in the ${leak.where}: ${leak.excerpt}`);
  for (const rejection of result.unhandledRejections) problems.push(`unhandled rejection in ${rejection.slice(0, 600)}`);
  return problems;
}
