/**
 * End-to-end through a model of CloudFormation (harness/orchestration.ts): stacks built from the
 * constructs are created, updated and deleted as CloudFormation orchestrates them (dependency order,
 * resources usable only once created, IAM statements effective only once their policy is, the
 * ServiceToken rule, the requests CloudFormation sends on rollback and after a cancelled Create), with
 * the synthesized state machine and the shipped handler bundle against the Neptune Analytics emulator.
 * Each scenario is one of the real-AWS failures of issue 10, or a first deployment.
 */
import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { TASK_ID, waiterStack } from './helpers';
import {
  brokenInvariants,
  emptyStack,
  expectStatus,
  executionsFor,
  exportsStartedFor,
  exportStack,
  GRAPH_EXPORT_RESOURCE_TYPE,
  NINETY_MINUTES,
  onlyOfType,
  orchestratedStacksStoppedAfterEach,
  OTHER_GRAPH_ID,
  runExportsAs,
  startedTaskIds,
  TEN_MINUTES,
  THREE_HOURS,
  TWENTY_MINUTES,
  UNRELATED,
  until,
  WAITER_RESOURCE_TYPE,
} from './orchestration-helpers';
import { reasonOf, statusesOf } from '../../harness/orchestration';
import { ExportTaskWaiter } from '../../src';

const orchestrate = orchestratedStacksStoppedAfterEach();

const FAILED_EXPORT = { ...TEN_MINUTES, outcome: 'FAILED' as const, statusReason: 'Access denied writing to the destination' };

describe('a first deployment', () => {
  test('of one waiter succeeds once its export ends', async () => {
    const stack = await orchestrate(waiterStack());
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });

    const created = await stack.deploy();

    expectStatus(created, 'CREATE_COMPLETE');
    const waiter = onlyOfType(stack, WAITER_RESOURCE_TYPE);
    expect(stack.resource(waiter)?.physicalId).toBe(TASK_ID);
    expect(stack.resource(waiter)?.attributes.Status).toBe('SUCCEEDED');
    expect(created.requests.map((r) => `${r.requestType} ${r.outcome}`)).toEqual(['Create SUCCESS']);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });

  test('of five waiters succeeds, each with its own export', async () => {
    const app = emptyStack();
    const taskIds = [1, 2, 3, 4, 5].map((n) => `t-00000000${String(n).padStart(2, '0')}`);
    taskIds.forEach((taskIdentifier, i) => new ExportTaskWaiter(app, `Waiter${i + 1}`, { taskIdentifier }));
    const stack = await orchestrate(app);
    taskIds.forEach((taskId, i) => stack.deployment.emulator.addTask({ ...TEN_MINUTES, exportingSeconds: 300 + 120 * i, taskId }));

    const created = await stack.deploy();

    expectStatus(created, 'CREATE_COMPLETE');
    const waiters = stack.logicalIdsOfType(WAITER_RESOURCE_TYPE);
    expect(waiters.map((id) => stack.resource(id)?.physicalId).sort()).toEqual(taskIds);
    expect(created.requests.map((r) => r.outcome)).toEqual(Array(5).fill('SUCCESS'));
    expect(brokenInvariants(stack, false)).toEqual([]);
  });

  test('of a GraphExport (role, key and bucket in the stack) starts one export and succeeds with it', async () => {
    const stack = await orchestrate(exportStack());
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;

    const created = await stack.deploy();

    expectStatus(created, 'CREATE_COMPLETE');
    const exported = stack.resource(onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE))!;
    expect(startedTaskIds(stack)).toHaveLength(1);
    expect(exported.physicalId.startsWith(startedTaskIds(stack)[0])).toBe(true);
    expect(exported.attributes).toMatchObject({ Status: 'SUCCEEDED', NumVerticesWritten: '4242' });
    expect(brokenInvariants(stack, false)).toEqual([]);
  });

  test('of a GraphExport with an existing role and key starts one export and succeeds with it', async () => {
    const stack = await orchestrate(exportStack({ existingRole: true }));
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;

    const created = await stack.deploy();

    expectStatus(created, 'CREATE_COMPLETE');
    expect(startedTaskIds(stack)).toHaveLength(1);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });
});

describe('an update of a deployed stack', () => {
  test('that adds a GraphExport with an existing role starts its export only once the loop may (PassRole, StartExportTask)', async () => {
    const stack = await orchestrate(waiterStack());
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');

    const updated = await stack.update(exportStack({ existingRole: true, waiterTaskId: TASK_ID }));

    expectStatus(updated, 'UPDATE_COMPLETE');
    expect(startedTaskIds(stack)).toHaveLength(1);
    expect(stack.resource(onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE))?.attributes.Status).toBe('SUCCEEDED');
    expect(brokenInvariants(stack, false)).toEqual([]);
  });

  test('that adds a GraphExport whose role the stack creates succeeds', async () => {
    const stack = await orchestrate(waiterStack());
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');

    const updated = await stack.update(exportStack({ waiterTaskId: TASK_ID }));

    expectStatus(updated, 'UPDATE_COMPLETE');
    expect(startedTaskIds(stack)).toHaveLength(1);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });

  test.each([
    ['tracing off', () => waiterStack({ tracing: false })],
    ['its own log group', () => waiterStack({}, (app) => ({ logGroup: new logs.LogGroup(app, 'WaiterLogs') }))],
  ])('that gives a deployed waiter %s keeps its ServiceToken and succeeds', async (_change, changed) => {
    const stack = await orchestrate(waiterStack());
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const waiter = onlyOfType(stack, WAITER_RESOURCE_TYPE);

    const updated = await stack.update(changed());

    expect(reasonOf(updated, waiter, 'UPDATE_FAILED')).toBeUndefined();
    expectStatus(updated, 'UPDATE_COMPLETE');
    expect(stack.resource(waiter)?.physicalId).toBe(TASK_ID);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });
});

describe('GraphExport rollbacks (issue 10, item 4) re-read the export they return to and start none', () => {
  test('a failed Update (PARQUET to CSV, whose export FAILED) rolls back to the original export', async () => {
    const stack = await orchestrate(exportStack());
    runExportsAs(stack.deployment.emulator, [TEN_MINUTES, FAILED_EXPORT]);
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    const original = stack.resource(exportId)!;

    const updated = await stack.update(exportStack({ format: 'CSV' }));

    expect(reasonOf(updated, exportId, 'UPDATE_FAILED')).toContain('FAILED');
    expectStatus(updated, 'UPDATE_ROLLBACK_COMPLETE');
    const rollback = updated.requests.filter((r) => r.phase === 'rollback');
    expect(rollback.map((r) => `${r.requestType} ${r.outcome}`)).toEqual(['Update SUCCESS']);
    expect(rollback.map((r) => exportsStartedFor(stack, r))).toEqual([0]);
    expect(startedTaskIds(stack)).toHaveLength(2);
    expect(stack.resource(exportId)?.physicalId).toBe(original.physicalId);
    expect(stack.resource(exportId)?.attributes).toEqual(original.attributes);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });

  test.each([true, false])('an Update that times out (cancelOnDelete %s) rolls back without meeting its own running export', async (cancelOnDelete) => {
    const stack = await orchestrate(exportStack({ cancelOnDelete }));
    runExportsAs(stack.deployment.emulator, [TEN_MINUTES, THREE_HOURS]);
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    const original = stack.resource(exportId)!;

    const updated = await stack.update(exportStack({ format: 'CSV', cancelOnDelete }));

    expect(reasonOf(updated, exportId, 'UPDATE_FAILED')).toBeDefined();
    expectStatus(updated, 'UPDATE_ROLLBACK_COMPLETE');
    expect(updated.requests.filter((r) => r.phase === 'rollback').map((r) => exportsStartedFor(stack, r))).toEqual([0]);
    expect(stack.resource(exportId)?.physicalId).toBe(original.physicalId);
    const [, abandoned] = stack.startedTasks();
    expect(stack.startedTasks()).toHaveLength(2);
    // Left running only when the resource did not ask for cancellation.
    expect(['CANCELLING', 'CANCELLED'].includes(abandoned.status)).toBe(cancelOnDelete);
    expect(brokenInvariants(stack, cancelOnDelete)).toEqual([]);
  });

  test('in long-wait mode, a rolled-back Update (whose export FAILED) returns to the original export', async () => {
    const stack = await orchestrate(exportStack({ timeout: Duration.hours(2) }));
    runExportsAs(stack.deployment.emulator, [NINETY_MINUTES, FAILED_EXPORT]);
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    const original = stack.resource(exportId)!;

    const updated = await stack.update(exportStack({ timeout: Duration.hours(2), format: 'CSV' }));

    expectStatus(updated, 'UPDATE_ROLLBACK_COMPLETE');
    expect(updated.requests.filter((r) => r.phase === 'rollback').map((r) => exportsStartedFor(stack, r))).toEqual([0]);
    expect(startedTaskIds(stack)).toHaveLength(2);
    expect(stack.resource(exportId)?.physicalId).toBe(original.physicalId);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });
});

describe('long-wait mode (issue 10, item 5)', () => {
  test('an Update refused because the graph changed behind the same WaitCondition rolls back', async () => {
    const stack = await orchestrate(exportStack({ timeout: Duration.hours(2), graphIdParameter: true }));
    stack.deployment.emulator.startDefaults = NINETY_MINUTES;
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    const original = stack.resource(exportId)!;

    const updated = await stack.update(stack.currentTemplate, { parameters: { GraphId: OTHER_GRAPH_ID } });

    expect(reasonOf(updated, exportId, 'UPDATE_FAILED')).toContain('cannot wait a second time');
    expectStatus(updated, 'UPDATE_ROLLBACK_COMPLETE');
    expect(startedTaskIds(stack)).toHaveLength(1);
    expect(stack.resource(exportId)?.physicalId).toBe(original.physicalId);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });
});

describe('an Update that keeps the export (issue 10, item 6)', () => {
  test('of a GraphExport whose task was meanwhile DELETED succeeds with the results it had', async () => {
    const stack = await orchestrate(exportStack());
    stack.deployment.emulator.startDefaults = TEN_MINUTES;
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    const original = stack.resource(exportId)!;
    stack.deployment.emulator.task(startedTaskIds(stack)[0])!.markDeleted('Deleted by an administrator');

    const updated = await stack.update(exportStack({ timeout: Duration.minutes(40) }));

    expectStatus(updated, 'UPDATE_COMPLETE');
    expect(startedTaskIds(stack)).toHaveLength(1);
    expect(stack.resource(exportId)?.physicalId).toBe(original.physicalId);
    expect(stack.resource(exportId)?.attributes).toEqual(original.attributes);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });

  test('of a waiter whose task is gone succeeds with the results it had', async () => {
    const stack = await orchestrate(waiterStack());
    const task = stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const waiter = onlyOfType(stack, WAITER_RESOURCE_TYPE);
    const original = stack.resource(waiter)!;
    task.remove();

    const updated = await stack.update(waiterStack({ timeout: Duration.minutes(40) }));

    expectStatus(updated, 'UPDATE_COMPLETE');
    expect(stack.resource(waiter)?.attributes).toEqual(original.attributes);
    expect(brokenInvariants(stack, false)).toEqual([]);
  });
});

describe('a Create that CloudFormation cancels mid-wait (issue 10, item 9)', () => {
  test('because another resource failed: the rollback stops the wait and cancels the export', async () => {
    const stack = await orchestrate(exportStack({ cancelOnDelete: true, unrelated: true }));
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;

    const created = await stack.deploy({ failures: [{ logicalId: UNRELATED, action: 'Create', afterSeconds: 300, reason: 'Topic quota exceeded' }] });

    expectStatus(created, 'ROLLBACK_COMPLETE');
    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    expect(reasonOf(created, exportId, 'CREATE_FAILED')).toBe('Resource creation cancelled');
    const [create, del] = created.requests;
    expect([create.requestType, create.outcome, del.requestType, del.outcome]).toEqual(['Create', 'CANCELLED', 'Delete', 'SUCCESS']);
    expect(del.event.PhysicalResourceId).not.toMatch(/^t-[a-z0-9]{10}/);
    expect(executionsFor(stack, create).map((e) => e.status)).not.toContain('RUNNING');
    await stack.deployment.idle();
    // Nobody waits for the cancelled Create any more: the loop must not answer it, nor export on.
    expect(stack.deployment.cloudFormation.answers(create.event.RequestId)).toEqual([]);
    expect(stack.startedTasks().map((t) => t.status)).toEqual([expect.stringMatching(/^CANCELL(ING|ED)$/)]);
    expect(brokenInvariants(stack, true)).toEqual([]);
  });

  test('because the stack is deleted while it waits: the Delete stops the wait and cancels the export', async () => {
    const stack = await orchestrate(exportStack({ cancelOnDelete: true }));
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;

    const creating = stack.deploy();
    await until(() => stack.startedTasks().some((t) => t.status === 'EXPORTING') || stack.status !== 'IN_PROGRESS', 'the export runs');
    const deleted = await stack.delete();
    const created = await creating;

    expectStatus(deleted, 'DELETE_COMPLETE');
    expect(created.status).toBe('DELETE_COMPLETE');
    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    expect(statusesOf(created, exportId)).toEqual(['CREATE_IN_PROGRESS', 'CREATE_FAILED']);
    const [create] = created.requests;
    expect(create.outcome).toBe('CANCELLED');
    expect(deleted.requests.map((r) => `${r.requestType} ${r.outcome}`)).toEqual(['Delete SUCCESS']);
    expect(executionsFor(stack, create).map((e) => e.status)).not.toContain('RUNNING');
    await stack.deployment.idle();
    expect(stack.deployment.cloudFormation.answers(create.event.RequestId)).toEqual([]);
    expect(stack.startedTasks().map((t) => t.status)).toEqual([expect.stringMatching(/^CANCELL(ING|ED)$/)]);
    expect(brokenInvariants(stack, true)).toEqual([]);
  });
});
