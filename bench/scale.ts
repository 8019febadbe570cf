/**
 * Scale benchmark: CloudFormation resources, template bytes and synth time for N waiters in one
 * stack, built three ways:
 * - this library (`ExportTaskWaiter`);
 * - `custom_resources.Provider` with an `isCompleteHandler`, one provider per waiter (each waiter
 *   brings its own onEvent and isComplete functions, as a construct that wraps a Provider does);
 * - one shared Provider (one pair of user functions, one provider, N CustomResources).
 * The user functions of the Provider stacks are minimal inline Node.js handlers that call
 * GetExportTask, with the same IAM grant as the library, so their template is as small as it gets.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { ExportTaskWaiter } from '../src';

export type Variant = 'library' | 'providerPerWaiter' | 'sharedProvider';
export const VARIANTS: Variant[] = ['library', 'providerPerWaiter', 'sharedProvider'];
export const VARIANT_LABELS: Record<Variant, string> = {
  library: 'this library',
  providerPerWaiter: 'Provider per waiter',
  sharedProvider: 'shared Provider',
};

const IS_COMPLETE_CODE = `
const { NeptuneGraphClient, GetExportTaskCommand } = require('@aws-sdk/client-neptune-graph');
const client = new NeptuneGraphClient({});
exports.handler = async (event) => {
  const task = await client.send(new GetExportTaskCommand({ taskIdentifier: event.ResourceProperties.TaskIdentifier }));
  if (task.status === 'SUCCEEDED') return { IsComplete: true, Data: { Destination: task.destination } };
  if (['FAILED', 'CANCELLED', 'DELETED'].includes(task.status)) throw new Error('export task ' + task.status);
  return { IsComplete: false };
};`;
const ON_EVENT_CODE = 'exports.handler = async (event) => ({ PhysicalResourceId: event.ResourceProperties.TaskIdentifier });';

/** The user side of a Provider-based waiter: onEvent, isComplete and the Provider itself. */
class ProviderWaiterBackend extends Construct {
  public readonly provider: cr.Provider;
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const fn = (name: string, code: string) => new lambda.Function(this, name, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(code),
      timeout: Duration.minutes(1),
    });
    const onEvent = fn('OnEvent', ON_EVENT_CODE);
    const isComplete = fn('IsComplete', IS_COMPLETE_CODE);
    isComplete.addToRolePolicy(new iam.PolicyStatement({
      actions: ['neptune-graph:GetExportTask'],
      resources: [Stack.of(this).formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: '*' })],
    }));
    this.provider = new cr.Provider(this, 'Provider', { onEventHandler: onEvent, isCompleteHandler: isComplete });
  }
}

const taskId = (i: number) => `t-${String(i).padStart(10, '0')}`;

/** Builds the stack with n waiters of one variant. */
export function buildStack(app: App, variant: Variant, n: number): Stack {
  const stack = new Stack(app, `Scale-${variant}-${n}`, { env: { account: '123456789012', region: 'us-east-1' } });
  const shared = variant === 'sharedProvider' ? new ProviderWaiterBackend(stack, 'Backend') : undefined;
  for (let i = 0; i < n; i++) {
    if (variant === 'library') {
      new ExportTaskWaiter(stack, `Waiter${i}`, { taskIdentifier: taskId(i) });
    } else {
      const backend = shared ?? new ProviderWaiterBackend(stack, `Backend${i}`);
      new CustomResource(stack, `Waiter${i}`, {
        serviceToken: backend.provider.serviceToken,
        resourceType: 'Custom::NeptuneGraphExportTaskWaiter',
        properties: { TaskIdentifier: taskId(i) },
      });
    }
  }
  return stack;
}

export interface ScaleMeasurement {
  readonly variant: Variant;
  readonly waiters: number;
  readonly resources: number;
  readonly templateBytes: number;
  /** Median wall time of building the constructs and `app.synth()` (assets staged, template written). */
  readonly synthMs: number;
  /** Every repetition, in order (repetition r of every size ran in the same round). */
  readonly synthSamplesMs: number[];
}

function synthOnce(variant: Variant, n: number, workDir: string) {
  const outdir = fs.mkdtempSync(path.join(workDir, 'cdk.out-'));
  const started = performance.now();
  // The resource limit check is off so that a stack over CloudFormation's 500 resources can still
  // be measured (the report flags it); it is the same for every variant.
  const app = new App({ outdir, analyticsReporting: false, context: { '@aws-cdk/core:stackResourceLimit': 0 } });
  const stack = buildStack(app, variant, n);
  const assembly = app.synth();
  const ms = performance.now() - started;
  const artifact = assembly.getStackByName(stack.stackName);
  const templateBytes = fs.statSync(path.join(assembly.directory, artifact.templateFile)).size;
  const resources = Object.keys(artifact.template.Resources ?? {}).length;
  fs.rmSync(outdir, { recursive: true, force: true });
  return { ms, templateBytes, resources };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Every variant at every size, repetitions interleaved so that drift hits all variants alike, each
 * synth after a garbage collection when the process allows it (bench/run.ts starts it with
 * --expose-gc). The Provider-per-waiter stacks take seconds each: at most 3 repetitions.
 */
export function measureScale(sizes: number[], repetitions: number, workDir = os.tmpdir()): ScaleMeasurement[] {
  fs.mkdirSync(workDir, { recursive: true });
  const gc = (globalThis as { gc?: () => void }).gc;
  // Warm-up: the first synth of a process pays for loading and compiling aws-cdk-lib.
  for (const variant of VARIANTS) synthOnce(variant, 1, workDir);
  const samples = new Map<string, { ms: number[]; templateBytes: number; resources: number }>();
  for (let r = 0; r < repetitions; r++) {
    for (const n of sizes) {
      for (const variant of VARIANTS) {
        if (variant === 'providerPerWaiter' && r >= 3) continue;
        gc?.();
        const { ms, templateBytes, resources } = synthOnce(variant, n, workDir);
        const key = `${variant}/${n}`;
        const entry = samples.get(key) ?? { ms: [], templateBytes, resources };
        entry.ms.push(ms);
        samples.set(key, entry);
      }
    }
  }
  return sizes.flatMap((n) => VARIANTS.map((variant) => {
    const { ms, templateBytes, resources } = samples.get(`${variant}/${n}`)!;
    return { variant, waiters: n, resources, templateBytes, synthMs: median(ms), synthSamplesMs: ms.map((v) => Math.round(v * 100) / 100) };
  }));
}

/**
 * Cost of one more waiter between the smallest and the largest size: the difference of the values
 * over the difference in waiters. For synth time, the median over repetitions of that difference
 * within each repetition (paired, so that a slow moment of the machine cancels out).
 */
export function perAddedWaiter(results: ScaleMeasurement[], variant: Variant, field: 'resources' | 'templateBytes' | 'synthMs'): number {
  const rows = results.filter((r) => r.variant === variant).sort((a, b) => a.waiters - b.waiters);
  const first = rows[0];
  const last = rows[rows.length - 1];
  const added = last.waiters - first.waiters;
  if (field !== 'synthMs') return (last[field] - first[field]) / added;
  return median(last.synthSamplesMs.map((ms, r) => (ms - first.synthSamplesMs[r]) / added));
}

// Worker entry: bench/run.ts measures in a fresh process, away from the polling phase's heap.
if (require.main === module && process.send) {
  process.once('message', ({ sizes, repetitions, workDir }: { sizes: number[]; repetitions: number; workDir: string }) => {
    try {
      const results = measureScale(sizes, repetitions, workDir);
      process.send!({ results }, () => process.exit(0));
    } catch (error) {
      process.send!({ error: String((error as Error).stack ?? error) }, () => process.exit(1));
    }
  });
}
