/**
 * `npm run demo [-- --scenario <name>]`: deploys one of the example apps on this machine and shows
 * the deployment wait for a Neptune Analytics export.
 *
 * Most scenarios deploy examples/export-pipeline: CloudFormation creates its GraphExport, whose wait
 * loop starts the export (StartExportTask) and polls it until it ends. `passed-in` and `not-found`
 * deploy examples/pipeline-task-id: a pipeline step started the export and passed its task id as a
 * stack parameter, and an ExportTaskWaiter waits for that task.
 *
 * The state machine and the handler bundle are exactly what `cdk synth` and `npx projen bundle`
 * produce; Neptune Analytics, Step Functions and CloudFormation are the local stand-ins of
 * harness/. Time is virtual: the export runs for tens of minutes of virtual time, paced to a
 * few real seconds so that its progress can be watched.
 */
import * as fs from 'node:fs';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { ExportTaskWaiter, GraphExport } from '../src';
import { ExportPipelineStack } from './export-pipeline/stack';
import { ExportTaskWaitStack } from './pipeline-task-id/stack';
import { RecordedAnswer, RecordedSignal } from '../harness/cloudformation';
import { HANDLER_BUNDLE, LocalDeployment } from '../harness/local-deployment';
import { EmulatedTask, FaultRule, TaskScript } from '../harness/neptune-emulator';
import { Template } from '../harness/template';

/** Where the demo writes: process.stdout, or a collector in tests. */
export interface Output {
  readonly isTTY?: boolean;
  /** Terminal width, to keep the progress bar on one line. */
  readonly columns?: number;
  write(text: string): unknown;
}

export interface RunOptions {
  /** @default process.stdout */
  readonly out?: Output;
  /** Real seconds the export's virtual time is paced to (0: as fast as possible). @default 4 */
  readonly realSeconds?: number;
}

export interface ScenarioResult {
  readonly scenario: string;
  /** Whether the scenario behaved as expected. */
  readonly ok: boolean;
  /** What went wrong, when not ok. */
  readonly problems: string[];
  /** The export task waited for (started by the GraphExport, or passed in), if it exists. */
  readonly taskId?: string;
  readonly create: CloudFormationAnswer;
  readonly delete: CloudFormationAnswer;
  readonly startExportTaskCalls: number;
  readonly getExportTaskCalls: number;
  readonly throttledCalls: number;
  readonly stateTransitions: number;
  /** Answer time minus the time the task ended, in virtual seconds (undefined if it never ended). */
  readonly latenessSeconds?: number;
  /** Long-wait mode: the WaitCondition signal (the custom resource was answered when the task was known). */
  readonly signal?: SignalBody;
  /** Long-wait mode: the attributes as the template reads them out of the WaitCondition's Data. */
  readonly attributes?: Record<string, string>;
}

interface SignalBody {
  Status?: string;
  UniqueId?: string;
  Data?: string;
  Reason?: string;
}

interface CloudFormationAnswer {
  Status?: string;
  Reason?: string;
  PhysicalResourceId?: string;
  Data?: Record<string, string>;
}

/**
 * 'graph-export': examples/export-pipeline, whose GraphExport starts the export and waits for it.
 * 'task-id-parameter': examples/pipeline-task-id, an ExportTaskWaiter on the task id a pipeline step
 * passed in as the ExportTaskId parameter.
 */
type Example = 'graph-export' | 'task-id-parameter';

interface Scenario {
  readonly description: string;
  readonly example: Example;
  /**
   * How the export task runs in the emulated service. With 'graph-export' it is the task the loop's
   * StartExportTask creates (its graph, role, key and destination come from the request); with
   * 'task-id-parameter' it exists before the deployment (none: the id names no task).
   */
  readonly task?: TaskScript;
  readonly faults?: FaultRule[];
  /** The construct's timeout. @default the example's (50 minutes) */
  readonly timeout?: Duration;
  readonly expect: { status: 'SUCCESS' | 'FAILED'; reason?: RegExp; minThrottled?: number };
}

/** The task id the pipeline step passes in (task-id-parameter scenarios). */
const PASSED_IN_TASK_ID = 't-demo12345a';
const EXPORT: TaskScript = {
  initializingSeconds: 90,
  exportingSeconds: 25 * 60,
  vertices: 1_250_000,
  edges: 4_800_000,
};
/** What a pipeline step's StartExportTask asked for (the GraphExport scenarios take these from the stack). */
const STARTED_BY_PIPELINE: TaskScript = {
  ...EXPORT,
  taskId: PASSED_IN_TASK_ID,
  graphId: 'g-0123456789',
  format: 'PARQUET',
  parquetType: 'COLUMNAR',
  destination: 's3://pipeline-exports-123456789012/exports/',
  kmsKeyIdentifier: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  roleArn: 'arn:aws:iam::123456789012:role/PipelineExportRole',
};

export const SCENARIOS: Record<string, Scenario> = {
  'success': {
    description: 'a GraphExport starts a 25-minute export that succeeds',
    example: 'graph-export',
    task: EXPORT,
    expect: { status: 'SUCCESS' },
  },
  'failed': {
    description: 'a GraphExport starts an export that fails at 62 %',
    example: 'graph-export',
    task: { ...EXPORT, outcome: 'FAILED', progress: (f) => 0.62 * f, statusReason: 'Access denied writing to the destination: check the export role' },
    expect: { status: 'FAILED', reason: /ended with status FAILED: Access denied/ },
  },
  'cancelled': {
    description: 'a GraphExport starts an export that someone cancels after 10 minutes',
    example: 'graph-export',
    task: { ...EXPORT, cancelAfterSeconds: 600, cancellingSeconds: 90 },
    expect: { status: 'FAILED', reason: /ended with status CANCELLED/ },
  },
  'throttled': {
    description: 'a GraphExport starts a 25-minute export, and 60 % of GetExportTask calls are throttled (HTTP 429)',
    example: 'graph-export',
    task: EXPORT,
    faults: [{ operation: 'GetExportTask', kind: 'throttle', probability: 0.6 }],
    expect: { status: 'SUCCESS', minThrottled: 5 },
  },
  'timeout': {
    description: 'a GraphExport whose timeout is 10 minutes starts a 3-hour export',
    example: 'graph-export',
    task: { ...EXPORT, exportingSeconds: 3 * 3600 },
    timeout: Duration.minutes(10),
    expect: { status: 'FAILED', reason: /did not finish within 10 minutes/ },
  },
  'long-export': {
    description: 'a GraphExport whose timeout is 6 hours starts a 5-hour export (long-wait mode: a WaitCondition waits)',
    example: 'graph-export',
    task: { ...EXPORT, initializingSeconds: 300, exportingSeconds: 5 * 3600 - 300, vertices: 48_000_000, edges: 310_000_000 },
    timeout: Duration.hours(6),
    expect: { status: 'SUCCESS' },
  },
  'passed-in': {
    description: `a pipeline step started a 25-minute export and passed its task id (${PASSED_IN_TASK_ID}) to an ExportTaskWaiter`,
    example: 'task-id-parameter',
    task: STARTED_BY_PIPELINE,
    expect: { status: 'SUCCESS' },
  },
  'not-found': {
    description: `the task id passed to an ExportTaskWaiter (${PASSED_IN_TASK_ID}) names no export task`,
    example: 'task-id-parameter',
    expect: { status: 'FAILED', reason: /ResourceNotFoundException/ },
  },
};

interface DeployedExample {
  readonly stack: Stack;
  /** The GraphExport or the ExportTaskWaiter. */
  readonly construct: GraphExport | ExportTaskWaiter;
  /** What CloudFormation sends in the Create event beyond the template's own (resolved) properties. */
  readonly createProperties: Record<string, unknown>;
  /** How the deployment is introduced, once the logical id of the construct is known. */
  intro(logicalId: string): string;
}

function exampleOf(scenario: Scenario): DeployedExample {
  if (scenario.example === 'graph-export') {
    const stack = new ExportPipelineStack(new App(), 'ExportPipeline', { exportTimeout: scenario.timeout });
    return {
      stack,
      construct: stack.graphExport,
      createProperties: {},
      intro: (logicalId) => `CloudFormation creates ${logicalId} (Custom::NeptuneGraphExport, the GraphExport of examples/export-pipeline): `
        + 'its wait loop calls StartExportTask, then polls GetExportTask until the export ends.\n\n',
    };
  }
  const stack = new ExportTaskWaitStack(new App(), 'ExportTaskWait', { timeout: scenario.timeout });
  return {
    stack,
    construct: stack.waiter,
    // A parameter without a default: CloudFormation substitutes the value the pipeline passed.
    createProperties: { TaskIdentifier: PASSED_IN_TASK_ID },
    intro: (logicalId) => `A pipeline step called StartExportTask and deployed examples/pipeline-task-id with ExportTaskId=${PASSED_IN_TASK_ID}; `
      + `CloudFormation creates ${logicalId} (Custom::NeptuneGraphExportTaskWaiter), which polls GetExportTask until that export ends.\n\n`,
  };
}

export async function runScenario(name: string, options: RunOptions = {}): Promise<ScenarioResult> {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`Unknown scenario "${name}": choose one of ${Object.keys(SCENARIOS).join(', ')}`);
  const out = options.out ?? process.stdout;
  const realSeconds = options.realSeconds ?? 4;

  const example = exampleOf(scenario);
  const virtualSeconds = expectedVirtualSeconds(scenario);
  const d = await LocalDeployment.start(example.stack, { realMsPerVirtualSecond: (realSeconds * 1000) / virtualSeconds });
  try {
    const waiterId = d.waiters()[0].logicalId;
    const t0 = d.clock.now();
    const startedElsewhere = scenario.example === 'task-id-parameter';
    if (startedElsewhere && scenario.task) d.emulator.addTask(scenario.task);
    if (!startedElsewhere) d.emulator.startDefaults = scenario.task ?? {};
    scenario.faults?.forEach((rule) => d.emulator.fault(rule));
    // The task waited for: the one passed in, or the one the GraphExport's StartExportTask created.
    const task = (): EmulatedTask | undefined => {
      if (startedElsewhere) return d.emulator.task(PASSED_IN_TASK_ID);
      const started = startExportTaskCalls(d).find((call) => call.taskId !== undefined);
      return started ? d.emulator.task(started.taskId!) : undefined;
    };

    out.write(`Scenario ${name}: ${scenario.description}.\n`);
    out.write(example.intro(waiterId));

    const snapshot = () => ({
      elapsed: d.clock.now() - t0,
      task: task()?.describe(),
      polls: getExportTaskCalls(d).length,
      // Before its StartExportTask a GraphExport has no task yet; a task id passed in names none.
      noTask: startedElsewhere ? 'NO SUCH TASK' : 'NOT STARTED',
    });
    // CloudFormation resolves the properties' Refs and Fn::GetAtts before it sends the event (in
    // long-wait mode also Ref of the WaitConditionHandle: its presigned URL).
    const event = d.event('Create', { properties: example.createProperties });
    const timeoutMs = realSeconds * 1000 + 30_000;
    let create: RecordedAnswer;
    let signal: RecordedSignal | undefined;
    let attributes: Record<string, string> | undefined;
    if (!example.construct.longWait) {
      const progress = new ProgressView(out, snapshot);
      try {
        create = await d.run(event, timeoutMs);
      } finally {
        progress.stop();
      }
    } else {
      const condition = d.waitConditions()[0];
      await d.invoke(event);
      create = await d.cloudFormation.answerFor(event.RequestId, timeoutMs);
      const timeoutSeconds = Number(d.waiters()[0].properties.TimeoutSeconds);
      out.write(`Long-wait mode (timeout ${clock(timeoutSeconds)}): CloudFormation got the answer for ${waiterId} at t+${clock(create.receivedAt / 1000 - t0)}, `
        + `as soon as the task was known, and moved on to the WaitCondition ${condition.logicalId} `
        + `(Timeout ${String(condition.properties.Timeout)} s), which waits for the loop's signal.\n`);
      printAnswer(out, 'Create (the custom resource)', create.body as CloudFormationAnswer);
      const progress = new ProgressView(out, snapshot, 'the WaitCondition has its signal');
      try {
        signal = await d.cloudFormation.signalFor(condition.handleLogicalId, timeoutMs);
        await d.idle();
      } finally {
        progress.stop();
      }
      const body = signal.body as SignalBody;
      printSignal(out, condition.logicalId, body, signal.receivedAt / 1000 - t0);
      if (body.Status === 'SUCCESS') {
        // Then CloudFormation creates the waiter that reads the finished task; its answer carries the attributes.
        const result = d.waiters().find((w) => w.logicalId !== waiterId)!;
        const read = await d.run(d.event('Create', { logicalId: result.logicalId, properties: { TaskIdentifier: body.UniqueId } }), timeoutMs);
        const readBody = read.body as CloudFormationAnswer;
        out.write(`CloudFormation then created ${result.logicalId} (${result.type}), which read the finished task once:\n`);
        printAnswer(out, 'Create (the result)', readBody);
        attributes = readBody.Data ?? {};
        printDownstream(out, d, result.logicalId, attributes);
      }
    }
    const createBody = create.body as CloudFormationAnswer;
    if (!signal) {
      printAnswer(out, 'Create', createBody);
      if (createBody.Status === 'SUCCESS') printDownstream(out, d, waiterId, createBody.Data ?? {});
    }

    const deleted = await d.run(d.event('Delete', {
      properties: example.createProperties,
      physicalResourceId: createBody.PhysicalResourceId ?? task()?.taskId ?? PASSED_IN_TASK_ID,
    }));
    const deleteBody = deleted.body as CloudFormationAnswer;
    printAnswer(out, 'Delete', deleteBody);

    const calls = getExportTaskCalls(d);
    const throttled = calls.filter((call) => call.httpStatus === 429).length;
    const transitions = d.executions.reduce((sum, execution) => sum + execution.transitions, 0);
    // A task passed in started with the demo; a GraphExport's when its StartExportTask arrived.
    const taskStart = startedElsewhere ? t0 : startExportTaskCalls(d).find((call) => call.taskId !== undefined)?.at;
    const taskEnd = scenario.task && taskStart !== undefined ? taskStart + taskEndOffset(scenario.task) : undefined;
    const answeredAt = (signal ?? create).receivedAt / 1000;
    const lateness = taskEnd !== undefined && taskEnd <= answeredAt ? answeredAt - taskEnd : undefined;
    const starts = startExportTaskCalls(d).length;
    out.write(`Summary: ${startedElsewhere ? '' : `${plural(starts, 'StartExportTask call')}, `}`
      + `${plural(calls.length, 'GetExportTask call')} (${throttled} throttled), ${plural(transitions, 'state transition')}, `
      + `lateness ${lateness === undefined ? 'n/a (the task had not ended)' : `${round(lateness)} s (virtual: ${signal ? 'signal' : 'answer'} time minus task end)`}.\n`);

    const problems = [
      ...(signal
        ? checkLongWait(scenario, createBody, signal.body as SignalBody, attributes ?? {}, create.receivedAt / 1000 - t0)
        : check(scenario, createBody, throttled)),
      ...(startedElsewhere || starts === 1 ? [] : [`expected the GraphExport to start one export, it called StartExportTask ${starts} times`]),
      ...(deleteBody.Status === 'SUCCESS' ? [] : [`Delete answered ${deleteBody.Status}`]),
      ...d.cloudFormation.violations.map((violation) => `CloudFormation contract: ${violation}`),
    ];
    const ok = problems.length === 0;
    out.write(ok
      ? `Scenario ${name} behaved as expected (${scenario.expect.status}).\n`
      : `Scenario ${name} did NOT behave as expected:\n${problems.map((p) => `  - ${p}\n`).join('')}`);
    return {
      scenario: name,
      ok,
      problems,
      taskId: task()?.taskId,
      create: createBody,
      delete: deleteBody,
      startExportTaskCalls: starts,
      getExportTaskCalls: calls.length,
      throttledCalls: throttled,
      stateTransitions: transitions,
      latenessSeconds: lateness,
      ...(signal ? { signal: signal.body as SignalBody, attributes } : {}),
    };
  } finally {
    await d.stop();
  }
}

function check(scenario: Scenario, answer: CloudFormationAnswer, throttled: number): string[] {
  const { status, reason, minThrottled } = scenario.expect;
  const problems: string[] = [];
  if (answer.Status !== status) problems.push(`expected ${status}, CloudFormation got ${answer.Status}: ${answer.Reason ?? ''}`);
  if (reason && !reason.test(answer.Reason ?? '')) problems.push(`expected a reason matching ${reason}, got "${answer.Reason ?? ''}"`);
  if (minThrottled !== undefined && throttled < minThrottled) problems.push(`expected at least ${minThrottled} throttled calls, got ${throttled}`);
  if (status === 'SUCCESS' && scenario.task && answer.Data?.NumVerticesWritten !== String(scenario.task.vertices)) {
    problems.push(`expected ${scenario.task.vertices} vertices, got ${answer.Data?.NumVerticesWritten}`);
  }
  return problems;
}

/** Long-wait mode: the custom resource answered SUCCESS at once, then the signal carried the outcome. */
function checkLongWait(
  scenario: Scenario, answer: CloudFormationAnswer, signal: SignalBody, attributes: Record<string, string>, answeredAfter: number,
): string[] {
  const problems: string[] = [];
  if (answer.Status !== 'SUCCESS') problems.push(`expected the custom resource to be answered SUCCESS, got ${answer.Status}: ${answer.Reason ?? ''}`);
  if (answeredAfter > 5) problems.push(`expected the custom resource to be answered at the start, it was ${round(answeredAfter)} s later`);
  const expected = scenario.expect.status === 'SUCCESS' ? 'SUCCESS' : 'FAILURE';
  if (signal.Status !== expected) problems.push(`expected a ${expected} signal, got ${signal.Status}: ${signal.Reason ?? ''}`);
  if (scenario.expect.reason && !scenario.expect.reason.test(signal.Reason ?? '')) problems.push(`expected a reason matching ${scenario.expect.reason}, got "${signal.Reason ?? ''}"`);
  if (expected === 'SUCCESS' && scenario.task && attributes.NumVerticesWritten !== String(scenario.task.vertices)) {
    problems.push(`expected ${scenario.task.vertices} vertices, got ${attributes.NumVerticesWritten}`);
  }
  return problems;
}

/** Every attribute of the waiter, evaluated from the template's expression and the signals received. */
/** When the scripted task reaches a terminal status, in seconds after it started. */
function taskEndOffset(task: TaskScript): number {
  if (task.cancelAfterSeconds !== undefined) return task.cancelAfterSeconds + (task.cancellingSeconds ?? 60);
  return (task.initializingSeconds ?? 0) + (task.exportingSeconds ?? 0);
}

/** Roughly how much virtual time the scenario takes, to pace it to the requested real time. */
function expectedVirtualSeconds(scenario: Scenario): number {
  const timeout = scenario.timeout?.toSeconds();
  const end = scenario.task ? taskEndOffset(scenario.task) : 1;
  return Math.max(1, Math.min(end, timeout ?? Infinity));
}

const getExportTaskCalls = (d: LocalDeployment) => d.emulator.calls.filter((call) => call.operation === 'GetExportTask');
const startExportTaskCalls = (d: LocalDeployment) => d.emulator.calls.filter((call) => call.operation === 'StartExportTask');

// ---------------------------------------------------------------------------------------------
// Output

interface Snapshot {
  elapsed: number;
  task?: Record<string, unknown>;
  polls: number;
  /** What the status column shows while there is no task. */
  noTask: string;
}

/** A progress bar redrawn in place on a terminal; a line per 10 % or status change otherwise. */
class ProgressView {
  private readonly timer: NodeJS.Timeout;
  private lastLine = '';

  constructor(private readonly out: Output, private readonly snapshot: () => Snapshot, private readonly ended = 'CloudFormation has its answer') {
    this.timer = setInterval(() => this.render(), 100);
  }

  public stop(): void {
    clearInterval(this.timer);
    this.render(true);
    if (this.out.isTTY) this.out.write('\n');
    this.out.write('\n');
  }

  private render(final = false): void {
    const { elapsed, task, polls, noTask } = this.snapshot();
    const details = task?.exportTaskDetails as Record<string, number | undefined> | undefined;
    const status = String(task?.status ?? noTask);
    const percent = details?.progressPercentage ?? 0;
    const counts = details
      ? `${(details.numVerticesWritten ?? 0).toLocaleString('en-US')} vertices, ${(details.numEdgesWritten ?? 0).toLocaleString('en-US')} edges`
      : 'no progress reported yet';
    const calls = plural(polls, 'GetExportTask call');
    if (this.out.isTTY) {
      const filled = Math.round(percent / 5);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(20 - filled)}`;
      const line = `  ${status.padEnd(12)} ${bar} ${String(percent).padStart(3)}%  ${counts}  t+${clock(elapsed)}  ${plural(polls, 'poll')}`;
      this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns ?? 200) - 1)}`);
      return;
    }
    const key = `${status} ${Math.floor(percent / 10)}`;
    if (key !== this.lastLine || final) {
      this.lastLine = key;
      const answered = final ? `; ${this.ended}` : '';
      this.out.write(`  ${clock(elapsed)}  ${status.padEnd(12)} ${String(percent).padStart(3)}%  ${counts}  (${calls}${answered})\n`);
    }
  }
}

function printAnswer(out: Output, request: string, answer: CloudFormationAnswer): void {
  out.write(`CloudFormation received the answer to ${request}:\n`);
  table(out, [
    ['Status', answer.Status ?? '-'],
    ['Reason', answer.Reason ?? '-'],
    ['PhysicalResourceId', answer.PhysicalResourceId ?? '-'],
  ]);
  if (answer.Data && Object.keys(answer.Data).length > 0) {
    out.write('Attributes (Fn::GetAtt):\n');
    table(out, Object.entries(answer.Data).map(([key, value]) => [key, value === '' ? '""' : value]));
  }
  out.write('\n');
}

function printSignal(out: Output, conditionId: string, signal: SignalBody, at: number): void {
  out.write(`The WaitCondition ${conditionId} received the loop's signal at t+${clock(at)}:\n`);
  table(out, [
    ['Status', signal.Status ?? '-'],
    ['UniqueId', signal.UniqueId ?? '-'],
    ['Reason', signal.Reason ?? '-'],
    ['Data', signal.Data === undefined ? '-' : `${signal.Data.length} characters, "|" between the attribute values`],
  ]);
  out.write('\n');
}

/** The example's outputs and SSM parameter, as CloudFormation resolves them from the attributes. */
function printDownstream(out: Output, d: LocalDeployment, waiterId: string, data: Record<string, string>): void {
  const fromWaiter = (value: unknown) => {
    const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
    return getAtt && getAtt[0] === waiterId ? data[getAtt[1]] : undefined;
  };
  const template = d.template as Template & { Outputs?: Record<string, { Value: unknown }> };
  const rows: Array<[string, string]> = [];
  for (const [name, output] of Object.entries(template.Outputs ?? {})) {
    const value = fromWaiter(output.Value);
    if (value !== undefined) rows.push([`Output ${name}`, value]);
  }
  for (const resource of Object.values(template.Resources)) {
    const value = resource.Type === 'AWS::SSM::Parameter' ? fromWaiter(resource.Properties?.Value) : undefined;
    if (value !== undefined) rows.push([`SSM ${String(resource.Properties?.Name)}`, value]);
  }
  out.write('Downstream, created now that the export succeeded:\n');
  table(out, rows);
  out.write('\n');
}

function table(out: Output, rows: Array<[string, string]>): void {
  const width = Math.max(...rows.map(([key]) => key.length));
  for (const [key, value] of rows) out.write(`  ${key.padEnd(width)}  ${value}\n`);
}

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

const round = (n: number) => Math.round(n * 10) / 10;
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------
// Command line

export function parseScenario(args: string[]): string {
  let scenario = 'success';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--scenario') {
      if (i + 1 >= args.length) throw new Error(`--scenario needs a value: ${Object.keys(SCENARIOS).join(', ')}`);
      scenario = args[++i];
    } else if (args[i].startsWith('--scenario=')) {
      scenario = args[i].slice('--scenario='.length);
    } else {
      throw new Error(`Unexpected argument "${args[i]}". Usage: npm run demo -- [--scenario <${Object.keys(SCENARIOS).join('|')}>]`);
    }
  }
  if (!SCENARIOS[scenario]) throw new Error(`Unknown scenario "${scenario}". Valid scenarios: ${Object.keys(SCENARIOS).join(', ')}`);
  return scenario;
}

async function main(): Promise<number> {
  // The local SDK clients would warn that Node 20 support ends: noise for this demo.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let scenario: string;
  try {
    scenario = parseScenario(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  if (!fs.existsSync(HANDLER_BUNDLE)) {
    process.stderr.write(`The handler bundle ${HANDLER_BUNDLE} is missing: run \`npx projen bundle\` first.\n`);
    return 1;
  }
  const result = await runScenario(scenario);
  return result.ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
