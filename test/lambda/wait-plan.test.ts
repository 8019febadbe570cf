/**
 * lambda/wait-plan.ts, by example: what an Update or a rollback waits for, and the physical id it
 * answers. The same rules over random lifecycles are in wait-plan.property.test.ts.
 */
import {
  CONTEXT, exportRequest, graphExportEvent, graphExportProperties, handlerRequests, Json, OTHER_TASK_ID, succeeded, TASK_ID,
  THIRD_TASK_ID, useHandlerEnvironment, WAITER_PROPERTIES,
} from './fixtures';
import type { CustomResourceEvent } from '../../harness/cloudformation';
import { handler } from '../../lambda/export-waiter.lambda';
import { exportFingerprint } from '../../lambda/physical-id';
import { ExportFields, Outcome, ResourceProperties } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const { createEvent, event, startedInput, finishWait } = handlerRequests(env);

describe('re-reading: an Update or rollback that asks for a task the resource has or had', () => {
  /** Runs one request to its answer, playing the loop with a successful task, and returns the answer. */
  async function run(e: CustomResourceEvent, newTaskId?: string): Promise<{ input: Json; answer: Json }> {
    await handler(e, CONTEXT);
    const input = startedInput(e);
    const taskId = input.taskIdentifier ?? newTaskId;
    const answer = await finishWait(e, succeeded(taskId), taskId);
    return { input, answer };
  }

  const waiter = (taskId: string) => ({ ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: taskId });
  const update = (taskId: string, physicalId: string, oldTaskId: string) =>
    event('Update', waiter(taskId), { physicalResourceId: physicalId, oldProperties: waiter(oldTaskId) });

  test('a waiter Update that keeps its task re-reads it and answers the same physical id', async () => {
    const { input, answer } = await run(event('Update', { ...waiter(TASK_ID), [ResourceProperties.TIMEOUT_SECONDS]: '900' }, { physicalResourceId: TASK_ID, oldProperties: waiter(TASK_ID) }));

    expect(input.taskIdentifier).toBe(TASK_ID);
    expect(input.request).toMatchObject({ rereadPhysicalId: TASK_ID, previous: null });
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
  });

  test('a waiter Update to another task keeps the identity it replaces, and its rollback re-reads that one', async () => {
    const forward = await run(update(OTHER_TASK_ID, TASK_ID, TASK_ID));
    expect(forward.input.request).toMatchObject({ rereadPhysicalId: null, previous: TASK_ID });
    expect(forward.answer.PhysicalResourceId).toBe(`${OTHER_TASK_ID};${TASK_ID}`);

    const rollback = await run(update(TASK_ID, forward.answer.PhysicalResourceId, OTHER_TASK_ID));
    expect(rollback.input).toMatchObject({ taskIdentifier: TASK_ID, request: { rereadPhysicalId: TASK_ID } });
    expect(rollback.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID, Data: { TaskId: TASK_ID } });
  });

  test('a waiter Update that asks again for its current task after moving re-reads it, keeping the id it had', async () => {
    const physicalId = `${OTHER_TASK_ID};${TASK_ID}`;
    const { input, answer } = await run(event('Update', { ...waiter(OTHER_TASK_ID), [ResourceProperties.MAX_POLL_SECONDS]: '60' }, { physicalResourceId: physicalId, oldProperties: waiter(OTHER_TASK_ID) }));

    expect(input.request).toMatchObject({ rereadPhysicalId: physicalId });
    expect(answer.PhysicalResourceId).toBe(physicalId);
  });

  test('a waiter Update to a third task keeps only the identity it replaces', async () => {
    const { input, answer } = await run(update(THIRD_TASK_ID, `${OTHER_TASK_ID};${TASK_ID}`, OTHER_TASK_ID));

    expect(input.request).toMatchObject({ rereadPhysicalId: null, previous: OTHER_TASK_ID });
    expect(answer.PhysicalResourceId).toBe(`${THIRD_TASK_ID};${OTHER_TASK_ID}`);
  });

  test('a GraphExport exports on Create, and an Update that changes only the timeout re-reads its task instead of exporting again', async () => {
    const request = exportRequest();
    const create = await run(graphExportEvent(env.receiver, 'Create', graphExportProperties(request)), OTHER_TASK_ID);
    const fingerprint = exportFingerprint(request);
    expect(create.input).toMatchObject({ taskIdentifier: null, request: { fingerprint, previous: null }, resume: { export: request, taskId: null } });
    expect(create.answer.PhysicalResourceId).toBe(`${OTHER_TASK_ID}:${fingerprint}`);

    // The same request with its keys in another order is the same export.
    const reordered = Object.fromEntries(Object.entries(request).reverse());
    const again = await run(graphExportEvent(env.receiver, 'Update', graphExportProperties(reordered, { [ResourceProperties.TIMEOUT_SECONDS]: '600' }), {
      physicalResourceId: create.answer.PhysicalResourceId, oldProperties: graphExportProperties(request),
    }));
    expect(again.input).toMatchObject({
      taskIdentifier: OTHER_TASK_ID, resume: { export: null }, request: { rereadPhysicalId: create.answer.PhysicalResourceId },
    });
    expect(again.answer.PhysicalResourceId).toBe(create.answer.PhysicalResourceId);
  });

  test('a GraphExport Update that changes the export exports again, and its rollback re-reads the first export', async () => {
    const first = exportRequest();
    const second = exportRequest({ [ExportFields.DESTINATION]: 's3://emulated-export-bucket/v2/' });
    const firstId = `${OTHER_TASK_ID}:${exportFingerprint(first)}`;
    const forward = await run(graphExportEvent(env.receiver, 'Update', graphExportProperties(second), {
      physicalResourceId: firstId, oldProperties: graphExportProperties(first),
    }), THIRD_TASK_ID);
    expect(forward.input).toMatchObject({ taskIdentifier: null, resume: { export: second }, request: { previous: firstId, rereadPhysicalId: null } });
    expect(forward.answer.PhysicalResourceId).toBe(`${THIRD_TASK_ID}:${exportFingerprint(second)};${firstId}`);
    expect(forward.answer.PhysicalResourceId.startsWith(THIRD_TASK_ID)).toBe(true);

    const rollback = await run(graphExportEvent(env.receiver, 'Update', graphExportProperties(first), {
      physicalResourceId: forward.answer.PhysicalResourceId, oldProperties: graphExportProperties(second),
    }));
    expect(rollback.input).toMatchObject({ taskIdentifier: OTHER_TASK_ID, resume: { export: null }, request: { rereadPhysicalId: firstId } });
    expect(rollback.answer.PhysicalResourceId).toBe(firstId);
  });

  test('a re-read of a task the service no longer knows answers with the results kept when it first succeeded', async () => {
    const create = await run(createEvent());
    expect(create.answer.Status).toBe('SUCCESS');

    const again = event('Update', { ...waiter(TASK_ID), [ResourceProperties.TIMEOUT_SECONDS]: '900' }, { physicalResourceId: TASK_ID, oldProperties: waiter(TASK_ID) });
    await handler(again, CONTEXT);
    const gone = { outcome: Outcome.CALL_FAILED, error: { Error: 'NeptuneGraph.ResourceNotFoundException', Cause: 'Export task not found' } };
    const answer = await finishWait(again, gone);

    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID, Data: create.answer.Data });
  });

  test('a re-read without kept results fails as the loop reported', async () => {
    const again = event('Update', { ...waiter(TASK_ID), [ResourceProperties.TIMEOUT_SECONDS]: '900' }, { physicalResourceId: TASK_ID, oldProperties: waiter(TASK_ID) });
    await handler(again, CONTEXT);
    const gone = { outcome: Outcome.CALL_FAILED, error: { Error: 'NeptuneGraph.ResourceNotFoundException', Cause: 'Export task not found' } };
    const answer = await finishWait(again, gone);

    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: TASK_ID, Reason: expect.stringContaining('ResourceNotFoundException') });
  });

  test('a move to a new task never answers with results kept for another one', async () => {
    await run(createEvent());
    const moved = update(OTHER_TASK_ID, TASK_ID, TASK_ID);
    await handler(moved, CONTEXT);
    const answer = await finishWait(moved, { outcome: Outcome.TASK_ENDED, task: { TaskId: OTHER_TASK_ID, Status: 'FAILED', StatusReason: 'bucket gone' } });

    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: TASK_ID, Reason: expect.stringContaining('bucket gone') });
  });
});
