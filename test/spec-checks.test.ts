/**
 * Every template the project synthesizes (test/spec/catalogue.ts) against AWS's machine-readable
 * specifications: CloudFormation's resource database, the Service Authorization Reference, the
 * Amazon States Language and the Neptune Analytics API model. A failure lists every finding once,
 * with the templates it occurs in and the specification entry that shows it.
 */
import { Finding, formatFindings, specFindings, specVersions } from './spec';
import { CATALOGUE } from './spec/catalogue';

interface Checked {
  readonly template: string;
  readonly findings: Finding[];
}

/**
 * Findings in src/ that wait on a product change, each with the change it needs. Every other
 * finding fails the check, and so does an entry here that no longer occurs (then delete it).
 */
let checked: Checked[] = [];

beforeAll(async () => {
  checked = [];
  for (const entry of CATALOGUE) {
    for (const { stackName, template } of await entry.templates()) {
      checked.push({ template: `${entry.name} (${stackName})`, findings: specFindings(template) });
    }
  }
});

/** One paragraph per distinct finding, followed by the templates it occurs in. */
function report(results: Checked[]): string {
  const byFinding = new Map<string, { finding: Finding; templates: string[] }>();
  for (const { template, findings } of results) {
    for (const finding of findings) {
      const key = `${finding.rule} ${finding.resource} ${finding.path} ${finding.message}`;
      const seen = byFinding.get(key) ?? { finding, templates: [] };
      seen.templates.push(template);
      byFinding.set(key, seen);
    }
  }
  return [...byFinding.values()]
    .map(({ finding, templates }) => `${formatFindings([finding])}\n    in: ${templates.join('; ')}`)
    .join('\n\n');
}

test('the catalogue covers both constructs, every example app and the integration test app', () => {
  const names = checked.map((c) => c.template);
  expect(names.filter((n) => n.startsWith('ExportTaskWaiter:')).length).toBeGreaterThanOrEqual(5);
  expect(names.filter((n) => n.startsWith('GraphExport:')).length).toBeGreaterThanOrEqual(7);
  expect(names).toEqual(expect.arrayContaining([
    'example app: export-pipeline (ExportPipeline)',
    'example app: export-pipeline (ExportConsumer)',
    'example app: pipeline-task-id (ExportTaskWait)',
    'example app: aws-custom-resource-export (StartedExport)',
    'integration test app: test/integ.export-waiter.ts (NeptuneGraphExportWaiterInteg)',
    'integration test app: test/integ.export-waiter.ts (ExportTaskWaiterIntegDefaultTestDeployAssert387691CD)',
  ]));
});

test('every synthesized template agrees with the CloudFormation, IAM, States Language and Neptune Analytics specifications', () => {
  const failing = checked.filter((c) => c.findings.length > 0);
  if (failing.length === 0) return;
  const count = failing.reduce((n, c) => n + c.findings.length, 0);
  const versions = Object.entries(specVersions()).map(([name, version]) => `${name}@${version}`).join(', ');
  throw new Error(
    `${count} findings in ${failing.length} of ${checked.length} templates (specs: ${versions}):\n\n${report(failing)}`,
  );
});
