/**
 * The reliability suite (test/reliability/): faults, load and hostile input against the whole local
 * deployment. `npm run reliability` prints the same figures as a table. (Under Jest an unhandled
 * rejection fails the run by itself; the suite's own listener counts them for `npm run reliability`.)
 */
import { leaksIn, problemsOf, runSuite, SuiteResult } from './reliability/suite';

let result: SuiteResult;

beforeAll(async () => {
  result = await runSuite();
}, 240_000);

test('every figure is as required (the list names each problem)', () => {
  expect(problemsOf(result)).toEqual([]);
});

test('every request whose answer can get through is answered exactly once', () => {
  const { total } = result;
  expect(total.requests).toBeGreaterThanOrEqual(150);
  expect(total.answeredOnce).toBe(total.answerable);
  expect(total.unanswered).toBe(0);
  expect(total.duplicates).toBe(0);
});

test('no wrong outcome, no contract violation, no failed check', () => {
  expect(result.total.wrongOutcomes).toBe(0);
  expect(result.total.violations).toBe(0);
  expect(result.total.failedChecks).toBe(0);
});

test('no ResponseURL or signature in any log line, process output or answer value, and no unhandled rejection', () => {
  expect(result.total.secretsLeaked).toBe(0);
  expect(result.leaks).toEqual([]);
  expect(result.unhandledRejections).toEqual([]);
  // The check looked at something: the handler logged, and the scenarios issued URLs.
  expect(result.scenarios.reduce((n, s) => n + s.logs.length, 0)).toBeGreaterThan(500);
  expect(result.scenarios.reduce((n, s) => n + s.secrets.length, 0)).toBeGreaterThan(200);
});

test('the leak check finds a ResponseURL or a signature anywhere in a line, and never repeats it', () => {
  const [url, signature] = result.scenarios.find((s) => s.secrets.length >= 2)!.secrets;
  const lines = [`PUT ${url} failed`, `{"error":"bad X-Amz-Signature=${signature}"}`, 'nothing to see'];
  const leaks = leaksIn('planted', 'handler log', lines, [url, signature]);
  expect(leaks.map((l) => l.excerpt)).toEqual(['PUT <secret> failed', '{"error":"bad X-Amz-Signature=<secret>"}']);
});

test('100 waiters ran concurrently in one deployment', () => {
  const load = result.figures.find((f) => /^100 waiters at once/.test(f.name));
  expect(load).toMatchObject({ requests: 100, answeredOnce: 100, wrongOutcomes: 0 });
});
