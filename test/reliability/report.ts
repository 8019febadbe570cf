/**
 * `npm run reliability`: runs the reliability suite and prints its figures as a table, then the
 * cdk-nag findings; exits non-zero when any figure is not as required.
 *
 *   npx projen bundle && npx ts-node --transpile-only test/reliability/report.ts [--seed N] [--waiters N] [--only <name>]
 *
 * Output goes through process.stdout.write: the harness captures console.log while a deployment runs.
 */
import { nagFigures } from './nag';
import { problemsOf, runSuite, ScenarioFigures } from './suite';

const out = (text = '') => process.stdout.write(`${text}\n`);

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

const COLUMNS: Array<{ title: string; width: number; value: (f: ScenarioFigures) => string }> = [
  { title: 'scenario', width: 44, value: (f) => f.name },
  { title: 'requests', width: 8, value: (f) => String(f.requests) },
  { title: 'answered once', width: 13, value: (f) => `${f.answeredOnce}/${f.answerable}` },
  { title: 'wrong', width: 5, value: (f) => String(f.wrongOutcomes) },
  { title: 'unanswered', width: 10, value: (f) => String(f.unanswered) },
  { title: 'twice+', width: 6, value: (f) => String(f.duplicates) },
  { title: 'leaks', width: 5, value: (f) => String(f.secretsLeaked) },
  { title: 'violations', width: 10, value: (f) => String(f.violations) },
  { title: 'checks', width: 6, value: (f) => String(f.failedChecks) },
  { title: 'worst ready->answer', width: 19, value: (f) => (f.worstLatencySeconds === undefined ? '-' : `${f.worstLatencySeconds.toFixed(1)} s`) },
  { title: 'real', width: 7, value: (f) => `${(f.realMs / 1000).toFixed(1)} s` },
];

function row(cells: string[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(COLUMNS[i].width) : cell.padStart(COLUMNS[i].width))).join('  ');
}

async function main(): Promise<number> {
  const seed = Number(argument('seed') ?? 7);
  const waiters = Number(argument('waiters') ?? 100);
  const only = argument('only');
  out(`Reliability suite: the synthesized state machine and the shipped handler bundle against the Neptune Analytics emulator (load seed ${seed}, ${waiters} waiters)`);
  out();
  const header = row(COLUMNS.map((c) => c.title));
  out(header);
  out('-'.repeat(header.length));
  const result = await runSuite({
    seed,
    waiters,
    only: only ? [only] : undefined,
    onScenario: (figures) => out(row(COLUMNS.map((c) => c.value(figures)))),
  });
  out('-'.repeat(header.length));
  out(row(COLUMNS.map((c) => c.value(result.total))));
  out();
  out('answered once: requests whose answer must get through, answered exactly once (the others meet a ResponseURL');
  out('  that refuses everything, or carry none: those must not crash anything, and are checked by the scenario).');
  out('wrong: answered with another status, reason, physical id or attributes than the emulator script implies.');
  out('leaks: lines of the handler log, of stdout/stderr, or answer values (Reason, PhysicalResourceId, Data) that');
  out('  contain an issued ResponseURL or its signature. checks: other checks of the scenario that failed.');
  out('worst ready->answer: virtual seconds from the moment the outcome could be known (the task ended, the deadline');
  out('  passed, the request arrived) to CloudFormation receiving the answer.');
  out(`Captured ${result.capturedLines} lines of process output and ${result.unhandledRejections.length} unhandled rejections while the suite ran.`);

  out();
  out('cdk-nag (AwsSolutions + Serverless), unsuppressed findings:');
  const nag = nagFigures();
  for (const n of nag) {
    out(`  ${n.stack.padEnd(Math.max(...nag.map((m) => m.stack.length)))} errors ${String(n.errors.length).padStart(3)}   warnings ${String(n.warnings.length).padStart(3)}`);
    for (const finding of [...n.errors, ...n.warnings]) out(`    ${finding}`);
  }

  const problems = problemsOf(result);
  const nagProblems = nag.flatMap((n) => [...n.errors, ...n.warnings].map((f) => `cdk-nag (${n.stack}): ${f}`));
  out();
  if (problems.length + nagProblems.length === 0) {
    out(`All figures as required (${(result.realMs / 1000).toFixed(1)} s).`);
    return 0;
  }
  out(`${problems.length + nagProblems.length} problems:`);
  for (const problem of [...problems, ...nagProblems]) out(`  - ${problem}`);
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
