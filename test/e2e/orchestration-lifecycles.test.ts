/**
 * Seeded random lifecycles of a stack with a GraphExport, through the model of CloudFormation
 * (harness/orchestration.ts): Create, Updates and Delete, exports that succeed, fail or outlast
 * their timeout, an unrelated resource of the stack that fails while exports run, a task deleted
 * behind the stack's back, and a Delete that arrives while the stack is still being created. After
 * every lifecycle the invariants of `brokenInvariants` must hold: no *_FAILED stack status, no failed
 * Delete, every request answered exactly once, no export that nobody asked for (a rollback re-reads,
 * never re-exports), no export left running that cancelOnDelete should have cancelled.
 *
 * A failure prints its seed. `ORCHESTRATION_SEED=<seed>` replays that one lifecycle;
 * `ORCHESTRATION_LIFECYCLES=<n>` runs n lifecycles (default 6) from seed 1.
 */
import { Duration } from 'aws-cdk-lib';
import {
  brokenInvariants, exportStack, ExportVersion, GRAPH_EXPORT_RESOURCE_TYPE, orchestratedStacksStoppedAfterEach, runExportsAs, UNRELATED, until,
} from './orchestration-helpers';
import { seededRandom } from '../../harness/local-deployment';
import { TaskScript } from '../../harness/neptune-emulator';
import { describeOperation, OperationOptions, OrchestratedStack, StackOperation } from '../../harness/orchestration';

const orchestrate = orchestratedStacksStoppedAfterEach();

const replay = process.env.ORCHESTRATION_SEED;
const seeds = replay !== undefined
  ? [Number(replay)]
  : Array.from({ length: Number(process.env.ORCHESTRATION_LIFECYCLES ?? 6) }, (_, i) => i + 1);

type Step =
  | { kind: 'update'; version: ExportVersion; options: OperationOptions }
  | { kind: 'deleteTask' };

interface Lifecycle {
  readonly first: ExportVersion;
  readonly createOptions: OperationOptions;
  /** The stack is deleted while its creation still waits for the export. */
  readonly deleteWhileCreating: boolean;
  readonly steps: Step[];
  /** How the n-th export started runs. */
  readonly exports: TaskScript[];
  readonly cancelOnDelete: boolean;
}

/** A lifecycle drawn from a seed: every choice comes from one seeded generator, in a fixed order. */
function lifecycleOf(seed: number): Lifecycle {
  const random = seededRandom(seed);
  const chance = (p: number) => random() < p;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const between = (low: number, high: number) => Math.round(low + random() * (high - low));
  const cancelOnDelete = chance(0.5);
  let label = 0;
  const version = (): ExportVersion => ({
    format: pick(['PARQUET', 'CSV'] as const),
    // Long-wait mode (over 55 minutes) now and then: it costs more polling.
    timeout: chance(0.2) ? Duration.minutes(80) : Duration.minutes(pick([30, 45])),
    cancelOnDelete,
    unrelated: `topic-${label}`,
  });
  const unrelatedFails = (action: 'Create' | 'Update') => (chance(0.2)
    ? [{ logicalId: UNRELATED, action, afterSeconds: between(10, 1500), reason: 'Topic quota exceeded' }]
    : []);
  const exports: TaskScript[] = Array.from({ length: 12 }, () => {
    const roll = random();
    const minutes = between(3, 25);
    const base: TaskScript = { initializingSeconds: 30, exportingSeconds: minutes * 60 - 30, cancellingSeconds: 0 };
    if (roll < 0.75) return base;
    if (roll < 0.92) return { ...base, outcome: 'FAILED', statusReason: 'Access denied writing to the destination' };
    // Outlasts any timeout of these versions.
    return { ...base, exportingSeconds: 4 * 3600 };
  });
  const first = version();
  const createOptions = { failures: unrelatedFails('Create') };
  const deleteWhileCreating = chance(0.15);
  const steps: Step[] = [];
  for (let i = between(1, 3); i > 0; i--) {
    if (chance(0.15)) steps.push({ kind: 'deleteTask' });
    const changeTopic = chance(0.4);
    if (changeTopic) label++;
    const next = chance(0.3) ? { ...first, timeout: Duration.minutes(pick([35, 50])) } : version();
    steps.push({ kind: 'update', version: { ...next, unrelated: `topic-${label}` }, options: { failures: changeTopic ? unrelatedFails('Update') : [] } });
  }
  return { first, createOptions, deleteWhileCreating, steps, exports, cancelOnDelete };
}

function describeLifecycle(lifecycle: Lifecycle): string {
  const version = (v: ExportVersion) => `${v.format} ${v.timeout?.toMinutes()} min, ${String(v.unrelated)}`;
  return [
    `cancelOnDelete ${lifecycle.cancelOnDelete}; create ${version(lifecycle.first)}`
      + `${lifecycle.createOptions.failures?.length ? ' (Unrelated fails)' : ''}${lifecycle.deleteWhileCreating ? ', deleted while creating' : ''}`,
    ...lifecycle.steps.map((s) => (s.kind === 'deleteTask' ? 'the current task is deleted'
      : `update to ${version(s.version)}${s.options.failures?.length ? ' (Unrelated fails)' : ''}`)),
    `exports: ${lifecycle.exports.map((e) => `${e.outcome ?? 'SUCCEEDED'}/${Math.round(((e.initializingSeconds ?? 0) + (e.exportingSeconds ?? 0)) / 60)}m`).join(' ')}`,
  ].join('\n');
}

/** An operation, and whether nothing could make it fail: no injected failure, and every export it started succeeded. */
interface Observed {
  readonly op: StackOperation;
  readonly injectedFailure: boolean;
  readonly startedTasks: string[];
}

async function live(seed: number, lifecycle: Lifecycle): Promise<{ stack: OrchestratedStack; observed: Observed[] }> {
  const stack = await orchestrate(exportStack(lifecycle.first), { seed });
  runExportsAs(stack.deployment.emulator, lifecycle.exports);
  const observed: Observed[] = [];
  const run = async (options: OperationOptions, operation: () => Promise<StackOperation>) => {
    const before = stack.startedTasks().length;
    const op = await operation();
    const startedTasks = stack.startedTasks().slice(before).map((t) => t.taskId);
    observed.push({ op, injectedFailure: (options.failures ?? []).length > 0, startedTasks });
  };
  if (lifecycle.deleteWhileCreating) {
    const creating = stack.deploy(lifecycle.createOptions);
    await until(() => stack.startedTasks().length > 0 || stack.status !== 'IN_PROGRESS', 'an export started');
    await run({}, () => stack.delete());
    observed.push({ op: await creating, injectedFailure: true, startedTasks: [] });
    return { stack, observed };
  }
  await run(lifecycle.createOptions, () => stack.deploy(lifecycle.createOptions));
  for (const step of lifecycle.steps) {
    if (!['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE'].includes(stack.status)) break;
    if (step.kind === 'deleteTask') {
      const exportId = stack.logicalIdsOfType(GRAPH_EXPORT_RESOURCE_TYPE)[0];
      const taskId = stack.resource(exportId)?.physicalId.slice(0, 12) ?? '';
      stack.deployment.emulator.task(taskId)?.markDeleted('Deleted by an administrator');
      continue;
    }
    await run(step.options, () => stack.update(exportStack(step.version), step.options));
  }
  if (stack.status !== 'NOT_CREATED') await run({}, () => stack.delete());
  return { stack, observed };
}

/** Operations that nothing could make fail, yet did not complete. */
function needlessFailures(stack: OrchestratedStack, observed: Observed[]): string[] {
  const status = new Map(stack.startedTasks().map((t) => [t.taskId, t.status]));
  return observed
    .filter(({ op, injectedFailure, startedTasks }) => !injectedFailure && startedTasks.every((id) => status.get(id) === 'SUCCEEDED')
      && !['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'DELETE_COMPLETE'].includes(op.status))
    .map(({ op }) => `${op.kind} ended ${op.status} though nothing failed`);
}

describe('random lifecycles keep the invariants', () => {
  test.each(seeds)('seed %i', async (seed) => {
    const lifecycle = lifecycleOf(seed);
    const { stack, observed } = await live(seed, lifecycle);
    await stack.deployment.idle();

    const broken = [...brokenInvariants(stack, lifecycle.cancelOnDelete), ...needlessFailures(stack, observed)];
    if (process.env.ORCHESTRATION_VERBOSE) process.stdout.write(`\nseed ${seed}: ${observed.map((o) => o.op.status).join(' -> ')}\n`);
    if (broken.length > 0) {
      throw new Error([
        `Seed ${seed} broke invariants (replay: ORCHESTRATION_SEED=${seed}):`,
        ...broken.map((b) => `  - ${b}`),
        describeLifecycle(lifecycle),
        ...observed.map((o) => describeOperation(o.op)),
      ].join('\n'));
    }
    expect(broken).toEqual([]);
  });
});
