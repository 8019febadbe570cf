/**
 * lambda/start-wait.ts: a Create or Update keeps its secrets in Parameter Store and starts one
 * execution of the wait loop (which answers later), with everything the loop needs in its input and
 * no secret; the retry rules of StartExecution (lambda/executions.ts) as the handler applies them.
 */
import {
  answerOf, CONTEXT, exportRequest, executionNameOf, graphExportEvent, graphExportProperties, handlerRequests, Json, loopAnswer,
  OTHER_TASK_ID, PARAMETER_PREFIX, requestParameterOf, signaturesIn, STATE_MACHINE_ARN, succeeded, TASK_ID, useHandlerEnvironment,
  waitFor, WAITER_PROPERTIES,
} from './fixtures';
import { CREATE_FAILED_ID } from '../../lambda/common';
import { handler } from '../../lambda/export-waiter.lambda';
import { resourceKey } from '../../lambda/physical-id';
import { Env, ExportFields, MAX_EXPORT_FILTER_BYTES, ResourceProperties } from '../../src/runtime/constants';
import { buildPollingPolicy, initialLoopState } from '../../src/runtime/polling-policy';

const env = useHandlerEnvironment();
const { createEvent, event, answerFor, startCalls, requestParameters, startedInput, finishWait } = handlerRequests(env);

describe('a misconfigured function', () => {
  afterEach(() => {
    // Refused before anything was started or stored.
    expect(startCalls()).toEqual([]);
    expect(requestParameters()).toEqual([]);
  });

  test(`fails when the function has no ${Env.STATE_MACHINE_ARN}`, async () => {
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

  test(`fails when the function has no ${Env.PARAMETER_PREFIX}, naming it`, async () => {
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
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.TIMEOUT_SECONDS]: '600', [ResourceProperties.MIN_POLL_SECONDS]: '10', [ResourceProperties.MAX_POLL_SECONDS]: '120' });
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
      // Only the read of a long-wait export's finished task (ReadsEndedWait) publishes no metrics.
      countsInMetrics: true,
    });
    const raw = startCalls()[0].raw;
    for (const secret of [e.ResponseURL, ...signaturesIn(e.ResponseURL)]) expect(raw).not.toContain(secret);
  });

  test('the read of a long-wait export\'s finished task (ReadsEndedWait) asks the loop not to count its wait in the metrics', async () => {
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.READS_ENDED_WAIT]: 'true' });
    await handler(e, CONTEXT);

    expect(startedInput(e).request.countsInMetrics).toBe(false);
  });

  test('in long-wait mode the handle URL is stored with the ResponseURL, and neither is in the execution input or the log', async () => {
    const handle = env.receiver.waitConditionHandle('ExportWaitHandle');
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.TIMEOUT_SECONDS]: '7200', [ResourceProperties.SIGNAL_URL]: handle });
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
    const e = createEvent({ [ResourceProperties.TASK_IDENTIFIER]: TASK_ID });
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
    const e = event('Update', { ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: OTHER_TASK_ID }, { physicalResourceId: TASK_ID, oldProperties: WAITER_PROPERTIES });
    await handler(e, CONTEXT);

    const input = startedInput(e);
    expect(input.taskIdentifier).toBe(OTHER_TASK_ID);
    expect(input.request).toMatchObject({ failedPhysicalResourceId: TASK_ID, previous: TASK_ID, rereadPhysicalId: null });
  });

  test('an Update stops the execution still waiting for the request it supersedes, and forgets that request', async () => {
    const create = createEvent();
    await handler(create, CONTEXT);
    const update = event('Update', { ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: OTHER_TASK_ID }, { physicalResourceId: TASK_ID, oldProperties: WAITER_PROPERTIES });
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
    const properties = { ...WAITER_PROPERTIES, [ResourceProperties.TIMEOUT_SECONDS]: '7200', [ResourceProperties.SIGNAL_URL]: handle };
    const e = event('Update', { ...properties, [ResourceProperties.TASK_IDENTIFIER]: OTHER_TASK_ID }, { physicalResourceId: TASK_ID, oldProperties: properties });
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
