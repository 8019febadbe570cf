/**
 * lambda/delete-resource.ts: a Delete is answered SUCCESS whatever happens (a stack must always be
 * deletable), stops the executions still waiting for the resource's abandoned requests, forgets
 * what was kept for it, and cancels a GraphExport's export only when asked to.
 */
import {
  answerOf, CONTEXT, exportRequest, executionNameOf, graphExportEvent, graphExportProperties, handlerRequests, PARAMETER_PREFIX,
  requestParameterOf, resultsParameterOf, succeeded, TASK_ID, useHandlerEnvironment, waitFor, WAITER_PROPERTIES,
} from './fixtures';
import { CREATE_FAILED_ID } from '../../lambda/common';
import { handler } from '../../lambda/export-waiter.lambda';
import { exportFingerprint } from '../../lambda/physical-id';
import { Env, ResourceProperties } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const { createEvent, event, answerFor, startCalls, requestParameters, finishWait } = handlerRequests(env);

describe('Delete', () => {
  test('answers SUCCESS with the event\'s PhysicalResourceId and starts or stops nothing', async () => {
    const e = event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
    expect(startCalls()).toEqual([]);
    expect(env.sfn.callsOf('StopExecution')).toEqual([]);
  });

  test('answers SUCCESS when the event has no PhysicalResourceId', async () => {
    const e = event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID });
    delete e.PhysicalResourceId;
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).toEqual(expect.any(String));
  });

  test('answers SUCCESS even when the properties are invalid', async () => {
    const e = event('Delete', { [ResourceProperties.TASK_IDENTIFIER]: 'T-BAD', [ResourceProperties.TIMEOUT_SECONDS]: 'abc' }, { physicalResourceId: 'whatever' });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'whatever' });
  });

  test('stops the executions still waiting for earlier requests of the resource, and only those, and forgets their secrets', async () => {
    const create = createEvent();
    await handler(create, CONTEXT);
    // A continuation of the abandoned Create's execution, and an execution of another resource.
    const continuation = env.sfn.addRunning(`${executionNameOf(create)}-1`);
    const other = createEvent(WAITER_PROPERTIES, { logicalResourceId: 'OtherWaiter' });
    await handler(other, CONTEXT);
    expect(requestParameters()).toHaveLength(2);

    const del = event('Delete', WAITER_PROPERTIES, { physicalResourceId: CREATE_FAILED_ID });
    await handler(del, CONTEXT);

    expect(answerFor(del)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: CREATE_FAILED_ID });
    expect(env.sfn.execution(executionNameOf(create)).status).toBe('ABORTED');
    expect(continuation.status).toBe('ABORTED');
    expect(env.sfn.execution(executionNameOf(other)).status).toBe('RUNNING');
    expect(requestParameters()).toEqual([requestParameterOf(other)]);
  });

  test('answers SUCCESS when the executions cannot be listed', async () => {
    env.sfn.fault({ operation: 'ListExecutions', kind: 'error', status: 500, type: 'InternalFailure', message: 'boom' });
    const e = event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
  });

  test('forgets the results kept for its physical id', async () => {
    const create = createEvent();
    await handler(create, CONTEXT);
    await finishWait(create, succeeded(TASK_ID));
    const results = resultsParameterOf(create, TASK_ID);
    expect(env.ssm.parameters.has(results)).toBe(true);

    const del = event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID });
    await handler(del, CONTEXT);

    expect(answerFor(del).Status).toBe('SUCCESS');
    expect(env.ssm.parameters.has(results)).toBe(false);
  });

  test('answers SUCCESS before Lambda ends the invocation when Step Functions does not reply', async () => {
    env.sfn.fault({ operation: 'ListExecutions', kind: 'hold' });
    const e = event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID });
    const started = Date.now();
    await handler(e, { getRemainingTimeInMillis: () => 5_000 });

    expect(Date.now() - started).toBeLessThan(4_000);
    expect(answerFor(e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
    // The late reply must not answer a second time.
    expect(env.sfn.release()).toBe(1);
    await waitFor(() => env.logLines.some((line) => line.includes('Delete: no export to cancel') && line.includes(e.RequestId)));
    expect(env.receiver.attempts(e.RequestId)).toHaveLength(1);
  });

  test(`answers SUCCESS when an unexpected error stops it (no ${Env.PARAMETER_PREFIX})`, async () => {
    env.setEnv(Env.PARAMETER_PREFIX, undefined);
    try {
      const e = event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID });
      await handler(e, CONTEXT);

      expect(answerFor(e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
    } finally {
      env.setEnv(Env.PARAMETER_PREFIX, PARAMETER_PREFIX);
    }
  });
});

describe('Delete of a GraphExport', () => {
  const CANCELLING = { [ResourceProperties.CANCEL_ON_DELETE]: 'true' };

  test(`with ${ResourceProperties.CANCEL_ON_DELETE} cancels the running export of its physical id`, async () => {
    const task = env.addTask({ cancellingSeconds: 0 });
    const fingerprint = exportFingerprint(exportRequest());
    const e = graphExportEvent(env.receiver, 'Delete', graphExportProperties(exportRequest(), CANCELLING), { physicalResourceId: `${task.taskId}:${fingerprint}` });
    await handler(e, CONTEXT);

    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${task.taskId}:${fingerprint}` });
    expect(env.neptune.calls.filter((c) => c.operation === 'CancelExportTask').map((c) => c.taskId)).toEqual([task.taskId]);
    expect(task.status()).toBe('CANCELLED');
  });

  test(`without ${ResourceProperties.CANCEL_ON_DELETE} leaves the export running`, async () => {
    const task = env.addTask();
    const e = graphExportEvent(env.receiver, 'Delete', graphExportProperties(), { physicalResourceId: `${task.taskId}:${exportFingerprint(exportRequest())}` });
    await handler(e, CONTEXT);

    expect(answerOf(env.receiver, e).Status).toBe('SUCCESS');
    expect(env.neptune.calls).toEqual([]);
    expect(task.status()).toBe('INITIALIZING');
  });

  test('of a failed Create cancels nothing', async () => {
    const task = env.addTask();
    const e = graphExportEvent(env.receiver, 'Delete', graphExportProperties(exportRequest(), CANCELLING), { physicalResourceId: CREATE_FAILED_ID });
    await handler(e, CONTEXT);

    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: CREATE_FAILED_ID });
    expect(env.neptune.calls.filter((c) => c.operation === 'CancelExportTask')).toEqual([]);
    expect(task.status()).toBe('INITIALIZING');
  });

  test('of a Create CloudFormation abandoned stops its execution and cancels the matching export it started, not others', async () => {
    const create = graphExportEvent(env.receiver, 'Create', graphExportProperties(exportRequest(), CANCELLING));
    await handler(create, CONTEXT);
    // The abandoned execution had started an export whose id CloudFormation never learnt.
    const started = env.addTask({ cancellingSeconds: 0 });
    const elsewhere = env.addTask({ destination: 's3://another-bucket/exports/' });
    const otherGraph = env.addTask({ graphId: 'g-9999999999' });

    const del = graphExportEvent(env.receiver, 'Delete', graphExportProperties(exportRequest(), CANCELLING), { physicalResourceId: CREATE_FAILED_ID });
    await handler(del, CONTEXT);

    expect(answerOf(env.receiver, del)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: CREATE_FAILED_ID });
    expect(env.sfn.execution(executionNameOf(create)).status).toBe('ABORTED');
    expect(started.status()).toBe('CANCELLED');
    expect(elsewhere.status()).toBe('INITIALIZING');
    expect(otherGraph.status()).toBe('INITIALIZING');
    expect(requestParameters()).toEqual([]);
  });

  test('answers SUCCESS before Lambda ends the invocation when Neptune Analytics does not reply', async () => {
    const task = env.addTask();
    env.neptune.fault({ kind: 'slow', delayMs: 8000, times: 1 });
    const physicalId = `${task.taskId}:${exportFingerprint(exportRequest())}`;
    const e = graphExportEvent(env.receiver, 'Delete', graphExportProperties(exportRequest(), CANCELLING), { physicalResourceId: physicalId });
    const started = Date.now();
    await handler(e, { getRemainingTimeInMillis: () => 5_000 });

    expect(Date.now() - started).toBeLessThan(4_000);
    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
    expect(env.logLines.some((line) => line.includes('Out of time'))).toBe(true);
    // The invocation's work goes on once the slow reply arrives (Lambda would freeze it): let it end
    // here, where its endpoints still exist, and check it answers no second time.
    const results = resultsParameterOf(e, physicalId);
    await waitFor(() => env.ssm.calls.some((call) => call.operation === 'DeleteParameter' && call.name === results), 15_000);
    expect(env.receiver.attempts(e.RequestId)).toHaveLength(1);
  });
});
