/**
 * The custom-resource handler (lambda/export-waiter.lambda.ts) as CloudFormation drives it, with
 * real HTTP everywhere: answers go to the CloudFormation stand-in, which checks each against the
 * custom-resource contract; the handler's own AWS SDK clients reach a local Step Functions endpoint,
 * the Parameter Store emulator and the Neptune Analytics emulator (test/lambda/fixtures.ts).
 * The wait loop's side (answers from the loop) is in test/lambda/loop-answers.test.ts.
 */
import {
  answerOf, CONTEXT, exportRequest, executionNameOf, graphExportEvent, graphExportProperties, Json, loopAnswer,
  PARAMETER_PREFIX, requestParameterOf, resultsParameterOf, signaturesIn, STATE_MACHINE_ARN, SUCCEEDED_TASK, TASK_ID,
  useHandlerEnvironment, waitFor, WAITER_PROPERTIES, waiterEvent,
} from './lambda/fixtures';
import type { CustomResourceEvent, EventOptions, RequestType } from '../harness/cloudformation';
import { CREATE_FAILED_ID } from '../lambda/common';
import { handler } from '../lambda/export-waiter.lambda';
import { exportFingerprint, resourceKey } from '../lambda/physical-id';
import { Env, ExportFields, MAX_EXPORT_FILTER_BYTES, Outcome, ParameterPaths, ResourceProperties } from '../src/runtime/constants';
import { buildPollingPolicy, initialLoopState } from '../src/runtime/polling-policy';

const env = useHandlerEnvironment();
const OTHER_TASK_ID = 't-abcdefghij';
const THIRD_TASK_ID = 't-3333333333';

const createEvent = (properties: Json = WAITER_PROPERTIES, options: EventOptions = {}) => waiterEvent(env.receiver, 'Create', properties, options);
const event = (type: RequestType, properties: Json, options: EventOptions = {}) => waiterEvent(env.receiver, type, properties, options);
const answerFor = (e: CustomResourceEvent) => answerOf(env.receiver, e);
const startCalls = () => env.sfn.callsOf('StartExecution');
const requestParameters = () => [...env.ssm.parameters.keys()].filter((name) => name.startsWith(`${PARAMETER_PREFIX}/${ParameterPaths.REQUESTS}/`));

/** The input of the execution the handler started for a request. */
function startedInput(e: CustomResourceEvent): Json {
  const call = [...startCalls()].reverse().find((c) => c.body.name === executionNameOf(e));
  if (!call) throw new Error(`no StartExecution for request ${e.RequestId}`);
  return JSON.parse(call.body.input);
}

/** Plays the wait loop for a request whose execution the handler started: it answers, then ends. */
async function finishWait(e: CustomResourceEvent, answer: Json, taskId?: string): Promise<Json> {
  const input = startedInput(e);
  await handler(loopAnswer(input, answer, taskId ? { taskId } : {}));
  env.sfn.finish(executionNameOf(e));
  return answerFor(e);
}

const succeeded = (taskId: string) => ({ outcome: Outcome.TASK_ENDED, task: { ...SUCCEEDED_TASK, TaskId: taskId } });

// ---------------------------------------------------------------------------------------------

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
    const e = event('Delete', { TaskIdentifier: 'T-BAD', TimeoutSeconds: 'abc' }, { physicalResourceId: 'whatever' });
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

  test('answers SUCCESS when an unexpected error stops it (no PARAMETER_PREFIX)', async () => {
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

  test('with CancelOnDelete cancels the running export of its physical id', async () => {
    const task = env.addTask({ cancellingSeconds: 0 });
    const fingerprint = exportFingerprint(exportRequest());
    const e = graphExportEvent(env.receiver, 'Delete', graphExportProperties(exportRequest(), CANCELLING), { physicalResourceId: `${task.taskId}:${fingerprint}` });
    await handler(e, CONTEXT);

    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${task.taskId}:${fingerprint}` });
    expect(env.neptune.calls.filter((c) => c.operation === 'CancelExportTask').map((c) => c.taskId)).toEqual([task.taskId]);
    expect(task.status()).toBe('CANCELLED');
  });

  test('without CancelOnDelete leaves the export running', async () => {
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
    env.neptune.fault({ kind: 'slow', delayMs: 8000 });
    const physicalId = `${task.taskId}:${exportFingerprint(exportRequest())}`;
    const e = graphExportEvent(env.receiver, 'Delete', graphExportProperties(exportRequest(), CANCELLING), { physicalResourceId: physicalId });
    const started = Date.now();
    await handler(e, { getRemainingTimeInMillis: () => 5_000 });

    expect(Date.now() - started).toBeLessThan(4_000);
    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
    expect(env.logLines.some((line) => line.includes('Out of time'))).toBe(true);
  });
});

describe('invalid requests', () => {
  afterEach(() => {
    // Refused before anything was started or stored.
    expect(startCalls()).toEqual([]);
    expect(requestParameters()).toEqual([]);
  });

  test('fails when RequestType is unknown, naming it', async () => {
    const e = { ...createEvent(), RequestType: 'Upsert' };
    await handler(e, CONTEXT);

    const answer = answerFor(e as unknown as CustomResourceEvent);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('Unknown RequestType "Upsert"');
  });

  test.each([
    ['missing', undefined, 'got undefined'],
    ['a string', 'x', 'got "x"'],
    ['an array', [], 'got []'],
    ['null', null, 'got null'],
  ])('fails when ResourceProperties is %s', async (_name, properties, shown) => {
    const e: Json = createEvent();
    e.ResourceProperties = properties;
    await handler(e, CONTEXT);

    const answer = answerFor(e as CustomResourceEvent);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('ResourceProperties');
    expect(answer.Reason).toContain(shown);
  });

  test.each([
    ['T-BAD', '"T-BAD"'],
    ['t-123', '"t-123"'],
    ['', '""'],
    [42, '42'],
    [undefined, 'undefined'],
  ])('fails when TaskIdentifier is %j', async (taskIdentifier, shown) => {
    const e = createEvent({ ...WAITER_PROPERTIES, TaskIdentifier: taskIdentifier });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(new RegExp(`^TaskIdentifier .*got ${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });

  test.each([
    ['99999', '"99999"'],
    ['abc', '"abc"'],
    [59, '59'],
    ['59', '"59"'],
    ['1800.5', '"1800.5"'],
    [-1, '-1'],
  ])('fails when TimeoutSeconds is %j', async (timeoutSeconds, shown) => {
    const e = createEvent({ ...WAITER_PROPERTIES, TimeoutSeconds: timeoutSeconds });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain(`TimeoutSeconds must be a whole number of seconds from 60 to 3300, got ${shown}`);
  });

  test.each([
    ['MinPollIntervalSeconds', '0'],
    ['MaxPollIntervalSeconds', '7200'],
  ])('fails when %s is out of range', async (property, value) => {
    const e = createEvent({ ...WAITER_PROPERTIES, [property]: value });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain(`${property} must be a whole number of seconds from 1 to 3600, got "${value}"`);
  });

  test('fails when MinPollIntervalSeconds exceeds MaxPollIntervalSeconds', async () => {
    const e = createEvent({ ...WAITER_PROPERTIES, MinPollIntervalSeconds: '120', MaxPollIntervalSeconds: '60' });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe('MinPollIntervalSeconds (120 s) must not exceed MaxPollIntervalSeconds (60 s)');
  });

  test.each(['StackId', 'RequestId', 'LogicalResourceId'])('fails when %s is blank: the answer could not be matched to the request', async (field) => {
    const e: Json = createEvent();
    const requestId = e.RequestId;
    e[field] = '  ';
    await handler(e, CONTEXT);

    // The stand-in finds the request by its ResponseURL; the body echoes the blank field as sent.
    const attempts = env.receiver.attempts(requestId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(`${field} must be the non-empty string CloudFormation sends`) });
  });

  test('fails a Create with the physical id that the Delete after it treats as nothing to clean up', async () => {
    const e = createEvent({ ...WAITER_PROPERTIES, TaskIdentifier: 'T-BAD' });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: CREATE_FAILED_ID });
  });

  test('fails an Update with invalid properties and keeps the old physical id', async () => {
    const e = event('Update', { ...WAITER_PROPERTIES, TimeoutSeconds: '99999' }, { physicalResourceId: 't-oldoldold1', oldProperties: WAITER_PROPERTIES });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 't-oldoldold1' });
  });

  test('fails when the function has no WAIT_LOOP_STATE_MACHINE_ARN', async () => {
    env.setEnv(Env.STATE_MACHINE_ARN, undefined);
    try {
      const e = createEvent();
      await handler(e, CONTEXT);

      const answer = answerFor(e);
      expect(answer.Status).toBe('FAILED');
      expect(answer.Reason).toContain(Env.STATE_MACHINE_ARN);
    } finally {
      env.setEnv(Env.STATE_MACHINE_ARN, STATE_MACHINE_ARN);
    }
  });

  test('fails when the function has no PARAMETER_PREFIX, naming it', async () => {
    env.setEnv(Env.PARAMETER_PREFIX, undefined);
    try {
      const e = createEvent();
      await handler(e, CONTEXT);

      const answer = answerFor(e);
      expect(answer.Status).toBe('FAILED');
      expect(answer.Reason).toContain(Env.PARAMETER_PREFIX);
    } finally {
      env.setEnv(Env.PARAMETER_PREFIX, PARAMETER_PREFIX);
    }
  });

  test('fails a GraphExport whose export request is invalid, naming the field', async () => {
    const e = graphExportEvent(env.receiver, 'Create', graphExportProperties(exportRequest({ [ExportFields.FORMAT]: 'XML' })));
    await handler(e, CONTEXT);

    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'FAILED', Reason: 'Export.Format must be PARQUET or CSV, got "XML"', PhysicalResourceId: CREATE_FAILED_ID });
  });
});

describe('Create and Update start the wait loop', () => {
  test('Create stores the ResponseURL in Parameter Store, then starts exactly one execution, and does not answer yet', async () => {
    env.sfn.fault({ operation: 'StartExecution', kind: 'hold' });
    const e = createEvent();
    const handled = handler(e, CONTEXT);
    await waitFor(() => startCalls().length === 1);

    // When StartExecution arrives, the secrets are in place for the loop to answer with.
    expect(env.ssm.valuesUnder(`${PARAMETER_PREFIX}/`)).toEqual({ [requestParameterOf(e)]: JSON.stringify({ ResponseURL: e.ResponseURL }) });
    env.sfn.release();
    await handled;

    expect(startCalls()).toHaveLength(1);
    expect(startCalls()[0].body).toMatchObject({ stateMachineArn: STATE_MACHINE_ARN, name: executionNameOf(e) });
    expect(env.sfn.execution(executionNameOf(e)).status).toBe('RUNNING');
    expect(env.receiver.attempts(e.RequestId)).toEqual([]);
  });

  test('the execution input holds the task, timeout, policy, loop state and request, and no secret', async () => {
    const e = createEvent({ ...WAITER_PROPERTIES, TimeoutSeconds: '600', MinPollIntervalSeconds: '10', MaxPollIntervalSeconds: '120' });
    const before = Date.now();
    await handler(e, CONTEXT);
    const after = Date.now();

    const input = startedInput(e);
    expect(Object.keys(input).sort()).toEqual(['executionBase', 'policy', 'request', 'resume', 'taskIdentifier', 'timeoutSeconds']);
    expect(input).toMatchObject({ taskIdentifier: TASK_ID, timeoutSeconds: 600, executionBase: executionNameOf(e) });
    const deadline = new Date(input.resume.deadline);
    expect(deadline.getTime()).toBeGreaterThanOrEqual(before + 600_000);
    expect(deadline.getTime()).toBeLessThanOrEqual(after + 600_000);
    const policy = buildPollingPolicy({ minIntervalSeconds: 10, maxIntervalSeconds: 120, deadline });
    expect(input.policy).toEqual(policy);
    // A waiter starts no export and, within 55 minutes, needs no WaitCondition.
    expect(input.resume).toEqual(initialLoopState({
      taskId: TASK_ID, startExportTask: null, longWait: false, cancelOnTimeout: false, deadline, policy,
    }));
    expect(input.request).toEqual({
      parameterName: requestParameterOf(e),
      StackId: e.StackId,
      RequestId: e.RequestId,
      LogicalResourceId: e.LogicalResourceId,
      fingerprint: null,
      previous: null,
      rereadPhysicalId: null,
      // A failed Create reports the task the loop waited for; only an Update keeps an old id.
      failedPhysicalResourceId: null,
    });
    const raw = startCalls()[0].raw;
    for (const secret of [e.ResponseURL, ...signaturesIn(e.ResponseURL)]) expect(raw).not.toContain(secret);
  });

  test('in long-wait mode the handle URL is stored with the ResponseURL, and neither is in the execution input or the log', async () => {
    const handle = env.receiver.waitConditionHandle('ExportWaitHandle');
    const e = createEvent({ ...WAITER_PROPERTIES, TimeoutSeconds: '7200', [ResourceProperties.SIGNAL_URL]: handle });
    await handler(e, CONTEXT);

    const stored = JSON.parse(env.ssm.parameters.get(requestParameterOf(e))!.value);
    expect(stored).toEqual({ ResponseURL: e.ResponseURL, SignalURL: handle });
    const input = startedInput(e);
    expect(input.resume).toMatchObject({ longWait: true, taskId: TASK_ID });
    const raw = startCalls()[0].raw;
    for (const secret of [e.ResponseURL, handle, ...signaturesIn(e.ResponseURL), ...signaturesIn(handle)]) {
      expect(raw).not.toContain(secret);
      expect(env.logLines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });

  test('properties left out get the defaults: 30 minutes, 5 s and 15 minutes', async () => {
    const e = createEvent({ TaskIdentifier: TASK_ID });
    await handler(e, CONTEXT);

    const input = startedInput(e);
    expect(input.timeoutSeconds).toBe(1800);
    expect(input.policy.minIntervalSeconds).toBe(5);
    expect(Math.max(...input.policy.waitSeconds)).toBe(900);
  });

  test('executions are named <resource key>-<request id>: the same request gets the same name, another request another one', async () => {
    const e = createEvent();
    await handler(e, CONTEXT);
    await handler(e, CONTEXT);
    await handler(createEvent(), CONTEXT);

    const names = startCalls().map((c) => c.body.name);
    expect(names).toHaveLength(3);
    expect(names[1]).toBe(names[0]);
    expect(names[2]).not.toBe(names[0]);
    expect(names[0]).toBe(`${resourceKey(e.StackId, e.LogicalResourceId)}-${e.RequestId.replace(/-/g, '_')}`);
    for (const name of names) expect(name).toMatch(/^[0-9a-f]{16}-[A-Za-z0-9_]{1,55}$/);
  });

  test('a request id with characters Step Functions refuses in names still starts an execution', async () => {
    const e = createEvent(WAITER_PROPERTIES, { requestId: 'req/with spaces:and.dots-and-ünïcode'.repeat(4) });
    await handler(e, CONTEXT);

    const [name] = startCalls().map((c) => c.body.name);
    expect(name).toMatch(/^[0-9a-f]{16}-[A-Za-z0-9_]+$/);
    expect(name.length).toBeLessThanOrEqual(72);
    expect(env.sfn.execution(name).status).toBe('RUNNING');
  });

  test('an Update that fails later keeps the old physical id', async () => {
    const e = event('Update', { ...WAITER_PROPERTIES, TaskIdentifier: OTHER_TASK_ID }, { physicalResourceId: TASK_ID, oldProperties: WAITER_PROPERTIES });
    await handler(e, CONTEXT);

    const input = startedInput(e);
    expect(input.taskIdentifier).toBe(OTHER_TASK_ID);
    expect(input.request).toMatchObject({ failedPhysicalResourceId: TASK_ID, previous: TASK_ID, rereadPhysicalId: null });
  });

  test('an Update stops the execution still waiting for the request it supersedes, and forgets that request', async () => {
    const create = createEvent();
    await handler(create, CONTEXT);
    const update = event('Update', { ...WAITER_PROPERTIES, TaskIdentifier: OTHER_TASK_ID }, { physicalResourceId: TASK_ID, oldProperties: WAITER_PROPERTIES });
    await handler(update, CONTEXT);
    // CloudFormation redelivers the Update: its own execution is not superseded.
    await handler(update, CONTEXT);

    expect(env.sfn.execution(executionNameOf(create))).toMatchObject({ status: 'ABORTED', stopped: { error: 'Superseded' } });
    expect(env.sfn.execution(executionNameOf(update)).status).toBe('RUNNING');
    expect(requestParameters()).toEqual([requestParameterOf(update)]);
  });

  test('an Update of a GraphExport with CancelOnDelete cancels the export the superseded request started', async () => {
    const cancelling = { [ResourceProperties.CANCEL_ON_DELETE]: 'true' };
    const oldProperties = graphExportProperties(exportRequest(), cancelling);
    const create = graphExportEvent(env.receiver, 'Create', oldProperties);
    await handler(create, CONTEXT);
    const startedByCreate = env.addTask({ cancellingSeconds: 0 });
    const newRequest = exportRequest({ [ExportFields.DESTINATION]: 's3://emulated-export-bucket/v2/' });
    const update = graphExportEvent(env.receiver, 'Update', graphExportProperties(newRequest, cancelling), { physicalResourceId: CREATE_FAILED_ID, oldProperties });
    await handler(update, CONTEXT);

    expect(env.sfn.execution(executionNameOf(create)).status).toBe('ABORTED');
    expect(startedByCreate.status()).toBe('CANCELLED');
    expect(startedInput(update).resume.export).toEqual(newRequest);
  });

  test('ExecutionAlreadyExists means a redelivery: no answer and no throw', async () => {
    const e = createEvent();
    await handler(e, CONTEXT);
    // The redelivered request has another deadline, so Step Functions refuses the name.
    await new Promise((done) => setTimeout(done, 2));
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();

    expect(startCalls()).toHaveLength(2);
    expect(env.sfn.executions).toHaveLength(1);
    expect(env.receiver.attempts(e.RequestId)).toEqual([]);
  });

  test('a WaitCondition cannot wait a second time: an Update to another task behind the same handle fails', async () => {
    const handle = env.receiver.waitConditionHandle('SameHandle');
    const properties = { ...WAITER_PROPERTIES, TimeoutSeconds: '7200', [ResourceProperties.SIGNAL_URL]: handle };
    const e = event('Update', { ...properties, TaskIdentifier: OTHER_TASK_ID }, { physicalResourceId: TASK_ID, oldProperties: properties });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: TASK_ID, Reason: expect.stringContaining('cannot wait a second time') });
    expect(startCalls()).toEqual([]);
  });

  /** An export filter of about `bytes` bytes of JSON, valid label by label. */
  function filterOf(bytes: number): Json {
    const labels: Json = {};
    for (let i = 0; JSON.stringify({ VertexFilter: labels }).length < bytes; i++) {
      labels[`label_${i}_${'x'.repeat(100)}`] = { Properties: { [`p${i}`]: { OutputType: 'String', SourcePropertyName: `source_${i}` } } };
    }
    return { VertexFilter: labels };
  }

  test('the largest export filter it accepts still fits in an execution input', async () => {
    const filter = filterOf(MAX_EXPORT_FILTER_BYTES - 200);
    const e = graphExportEvent(env.receiver, 'Create', graphExportProperties(exportRequest({ [ExportFields.EXPORT_FILTER]: filter })));
    await handler(e, CONTEXT);

    expect(env.receiver.attempts(e.RequestId)).toEqual([]);
    expect(startedInput(e).resume.export[ExportFields.EXPORT_FILTER]).toEqual(filter);
    expect(Buffer.byteLength(startCalls()[0].body.input)).toBeLessThanOrEqual(256 * 1024);
  });

  test('a larger export filter fails the request, saying so', async () => {
    const e = graphExportEvent(env.receiver, 'Create', graphExportProperties(exportRequest({ [ExportFields.EXPORT_FILTER]: filterOf(MAX_EXPORT_FILTER_BYTES + 100) })));
    await handler(e, CONTEXT);

    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(`more than the ${MAX_EXPORT_FILTER_BYTES} the waiter accepts`) });
    expect(startCalls()).toEqual([]);
  });
});

describe('StartExecution failures', () => {
  test('a refusal (4xx) fails the request with the error\'s name and message, without retrying', async () => {
    env.sfn.fault({ operation: 'StartExecution', kind: 'error', status: 400, type: 'AccessDeniedException', message: 'User is not authorized to perform: states:StartExecution' });
    const e = createEvent();
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('AccessDeniedException');
    expect(answer.Reason).toContain('User is not authorized to perform: states:StartExecution');
    expect(startCalls()).toHaveLength(1);
  });

  test('fails with the URLs removed when a StartExecution error quotes one', async () => {
    const url = env.raw.url();
    env.sfn.fault({ operation: 'StartExecution', kind: 'error', status: 400, type: 'InvalidExecutionInput', message: `Input mentions ${url}` });
    const e = createEvent();
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Reason).toContain('InvalidExecutionInput');
    expect(answer.Reason).not.toContain(url);
    expect(answer.Reason).not.toContain(signaturesIn(url)[0]);
  });

  test.each([
    ['a 500', { kind: 'error', status: 500, type: 'InternalFailure', message: 'try again' }],
    ['throttling', { kind: 'error', status: 400, type: 'ThrottlingException', message: 'Rate exceeded' }],
    ['a call that never arrived', { kind: 'dropBefore' }],
    ['a call that started the execution but got no reply', { kind: 'dropAfter' }],
  ] as const)('%s is tried again with the same name and input: one execution, no answer from the handler', async (_name, fault) => {
    env.sfn.fault({ operation: 'StartExecution', times: 1, ...fault });
    const e = createEvent();
    await handler(e, CONTEXT);

    const calls = startCalls();
    expect(calls).toHaveLength(2);
    expect(calls[1].raw).toBe(calls[0].raw);
    expect(env.sfn.executions.map((x) => x.name)).toEqual([executionNameOf(e)]);
    expect(env.receiver.attempts(e.RequestId)).toEqual([]);
  });

  test('gives up trying again while it still has time to answer, and fails the request with the last error', async () => {
    env.sfn.fault({ operation: 'StartExecution', kind: 'error', status: 503, type: 'ServiceUnavailable', message: 'Service is down' });
    const e = createEvent();
    // 13 s left: the answer is due in 9 s, and one more attempt may take 8 s.
    await handler(e, { getRemainingTimeInMillis: () => 13_000 });

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('Service is down');
    expect(answer.Reason).not.toContain('ran out of time');
    expect(startCalls().length).toBeGreaterThanOrEqual(2);
  });

  test('answers FAILED before Lambda ends the invocation when StartExecution hangs, and only once', async () => {
    env.sfn.fault({ operation: 'StartExecution', kind: 'hold' });
    const e = createEvent();
    await handler(e, { getRemainingTimeInMillis: () => 4_300 });

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('ran out of time');
    // The late failure of the call must not answer a second time.
    expect(env.sfn.release({ status: 400, type: 'AccessDeniedException', message: 'late' })).toBe(1);
    await waitFor(() => env.logLines.some((line) => line.includes('"message":"Request failed"') && line.includes(e.RequestId)));
    expect(env.receiver.attempts(e.RequestId)).toHaveLength(1);
  });

  test('an execution that StartExecution started after the out-of-time answer finds nobody to answer', async () => {
    // Step Functions got the call but replied late: the execution runs, though the request was answered FAILED.
    env.sfn.fault({ operation: 'StartExecution', kind: 'hold' });
    const e = createEvent();
    await handler(e, { getRemainingTimeInMillis: () => 4_300 });
    expect(answerFor(e)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: CREATE_FAILED_ID });
    env.sfn.release();
    await waitFor(() => env.sfn.executions.length === 1);

    // The loop of that execution answers when the task ends.
    await handler(loopAnswer(startedInput(e), succeeded(TASK_ID)));

    expect(env.receiver.attempts(e.RequestId)).toHaveLength(1);
    expect(requestParameters()).toEqual([]);
  });

  test('a request it answered FAILED itself leaves no ResponseURL behind in Parameter Store', async () => {
    env.sfn.fault({ operation: 'StartExecution', kind: 'error', status: 400, type: 'AccessDeniedException', message: 'denied' });
    const e = createEvent();
    await handler(e, CONTEXT);

    expect(answerFor(e).Status).toBe('FAILED');
    expect(requestParameters()).toEqual([]);
  });

  test('a redelivered Create that arrives after the answer leaves no ResponseURL behind in Parameter Store', async () => {
    const e = createEvent();
    await handler(e, CONTEXT);
    await finishWait(e, succeeded(TASK_ID));
    expect(requestParameters()).toEqual([]);

    await handler(e, CONTEXT);

    expect(env.receiver.attempts(e.RequestId)).toHaveLength(1);
    expect(requestParameters()).toEqual([]);
  });

  test('a Parameter Store that keeps failing fails the request before any execution starts', async () => {
    env.ssm.fault({ operation: 'PutParameter', kind: 'internal' });
    const e = createEvent();
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('InternalServerError');
    expect(startCalls()).toEqual([]);
  });
});

describe('re-reading: an Update or rollback that asks for a task the resource has or had', () => {
  /** Runs one request to its answer, playing the loop with a successful task, and returns the answer. */
  async function run(e: CustomResourceEvent, newTaskId?: string): Promise<{ input: Json; answer: Json }> {
    await handler(e, CONTEXT);
    const input = startedInput(e);
    const taskId = input.taskIdentifier ?? newTaskId;
    const answer = await finishWait(e, succeeded(taskId), taskId);
    return { input, answer };
  }

  const waiter = (taskId: string) => ({ ...WAITER_PROPERTIES, TaskIdentifier: taskId });
  const update = (taskId: string, physicalId: string, oldTaskId: string) =>
    event('Update', waiter(taskId), { physicalResourceId: physicalId, oldProperties: waiter(oldTaskId) });

  test('a waiter Update that keeps its task re-reads it and answers the same physical id', async () => {
    const { input, answer } = await run(event('Update', { ...waiter(TASK_ID), TimeoutSeconds: '900' }, { physicalResourceId: TASK_ID, oldProperties: waiter(TASK_ID) }));

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
    const { input, answer } = await run(event('Update', { ...waiter(OTHER_TASK_ID), MaxPollIntervalSeconds: '60' }, { physicalResourceId: physicalId, oldProperties: waiter(OTHER_TASK_ID) }));

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

    const again = event('Update', { ...waiter(TASK_ID), TimeoutSeconds: '900' }, { physicalResourceId: TASK_ID, oldProperties: waiter(TASK_ID) });
    await handler(again, CONTEXT);
    const gone = { outcome: Outcome.CALL_FAILED, error: { Error: 'NeptuneGraph.ResourceNotFoundException', Cause: 'Export task not found' } };
    const answer = await finishWait(again, gone);

    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID, Data: create.answer.Data });
  });

  test('a re-read without kept results fails as the loop reported', async () => {
    const again = event('Update', { ...waiter(TASK_ID), TimeoutSeconds: '900' }, { physicalResourceId: TASK_ID, oldProperties: waiter(TASK_ID) });
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

describe('events nobody can be answered', () => {
  test('an event without a ResponseURL is logged and ignored', async () => {
    const e: Json = createEvent();
    delete e.ResponseURL;
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();

    expect(env.sfn.calls).toEqual([]);
    expect(env.receiver.attempts(e.RequestId)).toEqual([]);
    expect(env.logLines.some((line) => line.includes('nobody to answer'))).toBe(true);
  });

  test.each([
    ['null', null],
    ['a string', 'x'],
    ['an array', []],
    ['a number', 42],
    ['undefined', undefined],
    ['an empty object', {}],
  ])('%s as the event does not throw', async (_name, e) => {
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    expect(env.sfn.calls).toEqual([]);
    expect(env.ssm.calls).toEqual([]);
  });
});

describe('the handler never throws on a CloudFormation event', () => {
  test.each(['ResourceProperties', 'RequestType'])('a %s getter that throws still gets a FAILED answer', async (property) => {
    const e = createEvent();
    Object.defineProperty(e, property, {
      get() {
        throw new Error('unreadable');
      },
    });
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('unreadable');
    expect(startCalls()).toEqual([]);
  });

  test.each(['RequestId', 'StackId', 'PhysicalResourceId', 'ResponseURL', 'neptuneGraphExportWaiterAnswer'])(
    'a %s getter that throws does not make the handler throw',
    async (property) => {
      const e = createEvent();
      Object.defineProperty(e, property, {
        get() {
          throw new Error('unreadable');
        },
      });
      await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    },
  );

  test.each(['not a url', 'ftp://example.com/answer', 'http://', '/relative/path?X-Amz-Signature=abc'])(
    'a ResponseURL %j that is not a usable URL does not make the handler throw',
    async (responseUrl) => {
      env.secrets.push(responseUrl);
      const e = { ...event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID }), ResponseURL: responseUrl };
      await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    },
  );

  test('a ResponseURL that refuses every answer does not make the handler throw', async () => {
    env.raw.statuses = [500, 500, 500];
    const e = { ...event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID }), ResponseURL: env.raw.url() };
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    expect(env.raw.requests).toHaveLength(3);
  });

  test('a 100 kB property value is refused in well under a second, quoted short', async () => {
    // Redacting URLs from a log line must not backtrack over a long run of letters.
    const e = createEvent({ ...WAITER_PROPERTIES, TaskIdentifier: `t-${'a'.repeat(100_000)}://` });
    const started = Date.now();
    await handler(e, CONTEXT);

    expect(Date.now() - started).toBeLessThan(1_000);
    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason.length).toBeLessThan(400);
  });
});

describe('logs', () => {
  test('the handler logged, and no line contains a ResponseURL or its signature', () => {
    // Runs last: by now every test above has invoked the handler with ResponseURLs.
    expect(env.logLines.length).toBeGreaterThan(20);
    expect(env.receiver.secrets.length).toBeGreaterThan(10);
    expect(env.leakingLines()).toEqual([]);
  });
});
