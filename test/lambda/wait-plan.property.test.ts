/**
 * What a Create, Update or rollback waits for (lambda/wait-plan.ts), as a
 * seeded property over random lifecycles of one resource: CloudFormation sends a Create, then
 * Updates to properties drawn from a small pool (so they repeat) and rollbacks to the properties
 * before the last Update, with the physical id the resource has; the test plays the wait loop,
 * which succeeds or fails at random.
 *
 * Whatever the sequence, the task an execution waits for is the requested one (a waiter), a new
 * export of the requested request (a GraphExport), or a task the resource had for that same
 * request; a request for the current or the previous identity always re-reads it.
 */
import {
  CONTEXT, exportRequest, executionNameOf, graphExportEvent, graphExportProperties, Json, loopAnswer, SUCCEEDED_TASK,
  useHandlerEnvironment, WAITER_PROPERTIES, waiterEvent,
} from './fixtures';
import { forEachSeed, Random } from './seeded';
import type { CustomResourceEvent } from '../../harness/cloudformation';
import { handler } from '../../lambda/export-waiter.lambda';
import { exportFingerprint, parsePhysicalId } from '../../lambda/physical-id';
import { ExportFields, Outcome, ResourceProperties } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
/** How often each kind of plan came up, so the property is known to have exercised them all. */
const seen = { rereadCurrent: 0, rereadPrevious: 0, newTask: 0, rollbacks: 0 };

const TASK_POOL = ['t-aaaaaaaaaa', 't-bbbbbbbbbb', 't-cccccccccc'];
const EXPORT_POOL = ['s3://bucket/a/', 's3://bucket/b/', 's3://bucket/c/'].map((destination) => exportRequest({ [ExportFields.DESTINATION]: destination }));

type Kind = 'waiter' | 'graphExport';

interface Resource {
  kind: Kind;
  logicalId: string;
  physicalId: string;
  properties: Json;
  /** The properties before the last successful Update, for a rollback. */
  before?: Json;
  /** Every identity the resource answered, with the fingerprint of the request it was for (GraphExport). */
  identities: Map<string, string | null>;
  newTaskIds: Random;
}

function propertiesFor(kind: Kind, random: Random): Json {
  // Timeouts vary too: an Update that changes only them must not export again.
  const timeout = { [ResourceProperties.TIMEOUT_SECONDS]: random.pick(['600', '1800']) };
  return kind === 'waiter'
    ? { ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: random.pick(TASK_POOL), ...timeout }
    : graphExportProperties(random.pick(EXPORT_POOL), timeout);
}

function eventFor(resource: Resource, type: 'Create' | 'Update', properties: Json, oldProperties?: Json): CustomResourceEvent {
  const options = type === 'Update' ? { physicalResourceId: resource.physicalId, oldProperties, logicalResourceId: resource.logicalId } : { logicalResourceId: resource.logicalId };
  return resource.kind === 'waiter'
    ? waiterEvent(env.receiver, type, properties, options)
    : graphExportEvent(env.receiver, type, properties, options);
}

/** Sends one request, checks what its execution waits for, plays the loop, and returns the answer. */
async function request(resource: Resource, type: 'Create' | 'Update', properties: Json, random: Random, trail: string[]): Promise<Json> {
  const event = eventFor(resource, type, properties, type === 'Update' ? resource.properties : undefined);
  await handler(event, CONTEXT);
  const call = env.sfn.callsOf('StartExecution').find((c) => c.body.name === executionNameOf(event));
  expect(call).toBeDefined();
  const input = JSON.parse(call!.body.input);
  const current = type === 'Update' ? parsePhysicalId(resource.physicalId) : undefined;
  const requested = resource.kind === 'waiter' ? properties[ResourceProperties.TASK_IDENTIFIER] : exportFingerprint(properties[ResourceProperties.EXPORT]);
  const asks = (identity: string | undefined) =>
    identity !== undefined && (resource.kind === 'waiter' ? parsePhysicalId(identity)!.taskId : parsePhysicalId(identity)!.fingerprint) === requested;
  const mustReread = asks(current?.identity) || asks(current?.previous?.identity);
  trail.push(`${type} ${resource.kind === 'waiter' ? requested : `export ${requested}`} on ${resource.physicalId || '(new)'}: `
    + `waits for ${input.taskIdentifier ?? 'a new export'}${input.request.rereadPhysicalId ? ` (re-read ${input.request.rereadPhysicalId})` : ''}`);

  const reread = input.request.rereadPhysicalId as string | null;
  if (reread === null) seen.newTask++;
  else if (reread === resource.physicalId) seen.rereadCurrent++;
  else seen.rereadPrevious++;
  if (resource.kind === 'waiter') {
    expect(input.taskIdentifier).toBe(requested);
  } else if (reread === null) {
    expect(input.taskIdentifier).toBeNull();
    expect(input.resume.export).toEqual(properties[ResourceProperties.EXPORT]);
  } else {
    // Re-reading a task the resource had, for an equal export request: never another export's task.
    expect(input.resume.export).toBeNull();
    const identity = parsePhysicalId(reread)!.identity;
    expect(resource.identities.get(identity)).toBe(requested);
    expect(input.taskIdentifier).toBe(parsePhysicalId(reread)!.taskId);
  }
  if (reread !== null) expect(resource.identities.has(parsePhysicalId(reread)!.identity)).toBe(true);
  expect(reread !== null).toBe(mustReread);

  const taskId: string = input.taskIdentifier ?? `t-${resource.newTaskIds.string('abcdefghijklmnopqrstuvwxyz0123456789', 10)}`;
  const ends = random.chance(0.8)
    ? { outcome: Outcome.TASK_ENDED, task: { ...SUCCEEDED_TASK, TaskId: taskId } }
    : { outcome: Outcome.TASK_ENDED, task: { TaskId: taskId, Status: 'FAILED', StatusReason: 'scripted failure' } };
  await handler(loopAnswer(input, ends, { taskId }));
  env.sfn.finish(executionNameOf(event));
  const answers = env.receiver.answers(event.RequestId);
  expect(answers).toHaveLength(1);
  expect(answers[0].violations).toEqual([]);
  const answer = answers[0].body as Json;
  trail.push(`  -> ${answer.Status} ${answer.PhysicalResourceId}`);

  if (answer.Status === 'SUCCESS') {
    const answered = parsePhysicalId(answer.PhysicalResourceId);
    expect(answered).toBeDefined();
    expect(answered!.taskId).toBe(taskId);
    if (answered!.previous) expect(resource.identities.has(answered!.previous.identity)).toBe(true);
    if (!resource.identities.has(answered!.identity)) {
      resource.identities.set(answered!.identity, resource.kind === 'waiter' ? null : exportFingerprint(properties[ResourceProperties.EXPORT]));
    }
  } else if (type === 'Update') {
    // A failed Update keeps the resource as it was.
    expect(answer.PhysicalResourceId).toBe(resource.physicalId);
  }
  return answer;
}

test('property: an execution waits for the requested task, a new export, or a task the resource had for the same request', async () => {
  const runs = await forEachSeed('re-read planning', 25, 10_000, async (random, seed) => {
    const kind: Kind = random.chance(0.5) ? 'waiter' : 'graphExport';
    const resource: Resource = {
      kind, logicalId: `Resource${seed}`, physicalId: '', properties: propertiesFor(kind, random), identities: new Map(), newTaskIds: random,
    };
    const trail: string[] = [];
    try {
      const created = await request(resource, 'Create', resource.properties, random, trail);
      if (created.Status !== 'SUCCESS') return;
      resource.physicalId = created.PhysicalResourceId;
      for (let step = 1 + random.int(6); step > 0; step--) {
        const rollback = resource.before !== undefined && random.chance(0.4);
        const next = rollback ? resource.before! : propertiesFor(kind, random);
        if (rollback) seen.rollbacks++;
        const answer = await request(resource, 'Update', next, random, trail);
        if (answer.Status !== 'SUCCESS') continue;
        resource.before = rollback ? undefined : resource.properties;
        resource.properties = next;
        resource.physicalId = answer.PhysicalResourceId;
      }
    } catch (error) {
      if (error instanceof Error) error.message = `${error.message}\nLifecycle so far:\n${trail.join('\n')}`;
      throw error;
    }
  });
  expect(runs).toBeGreaterThan(0);
  if (process.env.PROPERTY_SEED === undefined) expect(Object.values(seen).every((n) => n > 0)).toBe(true);
});
