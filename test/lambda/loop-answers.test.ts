/**
 * lambda/loop-answers.ts: the wait loop invokes the handler with what it saw, and the handler
 * answers CloudFormation (or signals the WaitCondition in long-wait mode) with the secrets it kept in
 * Parameter Store. Every request is first started through the handler, as CloudFormation would.
 */
import {
  answerOf, CONTEXT, exportRequest, executionNameOf, graphExportEvent, graphExportProperties, Json, loopAnswer,
  PARAMETER_PREFIX, requestParameterOf, resultsParameterOf, signaturesIn, SUCCEEDED_TASK, TASK_ID, useHandlerEnvironment,
  WAITER_PROPERTIES, waiterEvent,
} from './fixtures';
import type { CustomResourceEvent, EventOptions } from '../../harness/cloudformation';
import { MAX_ANSWER_BYTES } from '../../lambda/cloudformation-response';
import { CREATE_FAILED_ID } from '../../lambda/common';
import { handler } from '../../lambda/export-waiter.lambda';
import { serializeSignal } from '../../lambda/loop-answers';
import { exportFingerprint } from '../../lambda/physical-id';
import { ANSWER_MARKER, ANSWER_NOT_DELIVERED, ResourceAttributes, Outcome, ResourceProperties } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const ATTRIBUTE_NAMES = Object.values(ResourceAttributes);

const answerFor = (e: CustomResourceEvent) => answerOf(env.receiver, e);

/** Starts the wait for a waiter Create (or another event) through the handler; returns the execution input. */
async function startWait(e: CustomResourceEvent = waiterEvent(env.receiver, 'Create')): Promise<{ event: CustomResourceEvent; input: Json }> {
  await handler(e, CONTEXT);
  const call = env.sfn.callsOf('StartExecution').find((c) => c.body.name === executionNameOf(e));
  if (!call) throw new Error(`the handler started no execution for ${e.RequestId}: ${env.logLines.slice(-3).join('\n')}`);
  return { event: e, input: JSON.parse(call.body.input) };
}

async function answerAfter(answer: Json, options: { event?: CustomResourceEvent; extra?: Json } = {}): Promise<Json> {
  const { event, input } = await startWait(options.event);
  await handler(loopAnswer(input, answer, options.extra));
  return answerFor(event);
}

const update = (properties: Json, options: EventOptions) => waiterEvent(env.receiver, 'Update', properties, options);

/**
 * Runs `work` with timers that jump ahead while it waits for I/O: the SDK's backoff between attempts
 * (seconds of full jitter per retry when throttled) then costs no real time.
 */
async function withFastTimers<T>(work: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'performance', 'hrtime'] });
  try {
    let settled = false;
    const running = work().finally(() => {
      settled = true;
    });
    running.catch(() => undefined);
    while (!settled) {
      await new Promise((done) => setImmediate(done));
      jest.advanceTimersByTime(50);
    }
    return await running;
  } finally {
    jest.useRealTimers();
  }
}

describe('the wait ended', () => {
  test('SUCCEEDED answers SUCCESS with the 12 attributes as strings, forgets the ResponseURL and keeps the results', async () => {
    const { event, input } = await startWait();
    expect(env.ssm.parameters.has(requestParameterOf(event))).toBe(true);
    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }));

    const answer = answerFor(event);
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
    expect(answer.Data).toEqual({
      TaskId: TASK_ID,
      GraphId: 'g-0123456789',
      Status: 'SUCCEEDED',
      Format: 'PARQUET',
      ParquetType: 'COLUMNAR',
      Destination: 's3://my-bucket/exports/',
      KmsKeyIdentifier: SUCCEEDED_TASK.KmsKeyIdentifier,
      RoleArn: SUCCEEDED_TASK.RoleArn,
      NumVerticesWritten: '1200000',
      NumEdgesWritten: '5400000',
      TimeElapsedSeconds: '754',
      StartTime: '2025-01-01T00:00:00.000Z',
    });
    expect(env.ssm.parameters.has(requestParameterOf(event))).toBe(false);
    expect(JSON.parse(env.ssm.parameters.get(resultsParameterOf(event, TASK_ID))!.value)).toEqual(answer.Data);
  });

  test('SUCCEEDED without optional fields answers every attribute, empty or zero', async () => {
    const task = { TaskId: TASK_ID, GraphId: 'g-0123456789', Status: 'SUCCEEDED', Format: 'CSV', Destination: 's3://b/', KmsKeyIdentifier: 'k', RoleArn: 'r' };
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task });

    expect(Object.keys(answer.Data).sort()).toEqual([...ATTRIBUTE_NAMES].sort());
    expect(answer.Data).toMatchObject({ ParquetType: '', NumVerticesWritten: '0', NumEdgesWritten: '0', TimeElapsedSeconds: '0', StartTime: '' });
    for (const value of Object.values(answer.Data)) expect(typeof value).toBe('string');
  });

  test('SUCCEEDED reads camelCase task fields too', async () => {
    const task = {
      taskId: TASK_ID,
      graphId: 'g-0123456789',
      status: 'SUCCEEDED',
      format: 'PARQUET',
      parquetType: 'COLUMNAR',
      destination: 's3://b/',
      kmsKeyIdentifier: 'k',
      roleArn: 'r',
      exportTaskDetails: { startTime: 1735689600, timeElapsedSeconds: 12, progressPercentage: 100, numVerticesWritten: 3, numEdgesWritten: 4 },
    };
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task });

    expect(answer).toMatchObject({
      Status: 'SUCCESS',
      Data: { TaskId: TASK_ID, Status: 'SUCCEEDED', ParquetType: 'COLUMNAR', NumVerticesWritten: '3', NumEdgesWritten: '4', TimeElapsedSeconds: '12', StartTime: '2025-01-01T00:00:00.000Z' },
    });
  });

  test.each([
    ['epoch seconds', '2025-01-01T00:00:00.000Z', 1735689600],
    ['epoch seconds with a fraction', '2025-01-01T00:00:00.250Z', 1735689600.25],
    ['epoch milliseconds', '2025-01-01T00:00:00.123Z', 1735689600123],
    ['epoch seconds as text', '2025-01-01T00:00:00.000Z', '1735689600'],
    ['epoch milliseconds as text', '2025-01-01T00:00:00.123Z', '1735689600123'],
    ['an ISO timestamp', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00Z'],
    ['text that is no time', '', 'yesterday'],
    ['null', '', null],
  ])('a StartTime in %s answers %j', async (_name, expected, startTime) => {
    const task = { ...SUCCEEDED_TASK, ExportTaskDetails: { ...SUCCEEDED_TASK.ExportTaskDetails, StartTime: startTime } };
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task });

    expect(answer.Data.StartTime).toBe(expected);
  });

  test.each(['FAILED', 'CANCELLED', 'DELETED'])('%s answers FAILED with the task id, status and status reason, keeping no results', async (status) => {
    const e = update(WAITER_PROPERTIES, { physicalResourceId: 't-oldoldold1', oldProperties: { ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: 't-oldoldold1' } });
    const task = { TaskId: TASK_ID, Status: status, StatusReason: 'The role cannot write to the bucket' };
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task }, { event: e });

    expect(answer.Status).toBe('FAILED');
    // A failed Update keeps the resource it had.
    expect(answer.PhysicalResourceId).toBe('t-oldoldold1');
    expect(answer.Reason).toBe(`Export task ${TASK_ID} ended with status ${status}: The role cannot write to the bucket`);
    expect(answer.Data).toBeUndefined();
    expect(env.ssm.valuesUnder(PARAMETER_PREFIX)).toEqual({});
  });

  test('a failed Create reports the task it waited for, so the Delete of the rollback can find it', async () => {
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task: { Status: 'FAILED' } });

    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: TASK_ID, Reason: `Export task ${TASK_ID} ended with status FAILED: the service gave no reason` });
  });

  test('a failed GraphExport Create reports the export it started, with its fingerprint', async () => {
    const e = graphExportEvent(env.receiver, 'Create', graphExportProperties());
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task: { TaskId: 't-startedhere', Status: 'FAILED' } }, { event: e, extra: { taskId: 't-startedhere' } });

    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: `t-startedhere:${exportFingerprint(exportRequest())}` });
  });

  test('a GraphExport whose StartExportTask failed answers FAILED in the service\'s words, with no task to clean up', async () => {
    const e = graphExportEvent(env.receiver, 'Create', graphExportProperties());
    const error = { Error: 'NeptuneGraph.ConflictException', Cause: 'Another export task is running on graph g-0123456789' };
    const answer = await answerAfter({ outcome: Outcome.START_FAILED, error }, { event: e, extra: { taskId: null } });

    expect(answer).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: CREATE_FAILED_ID,
      Reason: 'StartExportTask failed: NeptuneGraph.ConflictException: Another export task is running on graph g-0123456789',
    });
  });

  test('TIMED_OUT answers FAILED: did not finish within 30 minutes, with the last status, progress and error', async () => {
    const task = { Status: 'EXPORTING', ExportTaskDetails: { ProgressPercentage: 42, TimeElapsedSeconds: 1790 } };
    const answer = await answerAfter({ outcome: Outcome.TIMED_OUT, task, error: { Error: 'NeptuneGraph.ThrottlingException', Cause: 'Rate exceeded' } });

    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe(`Export task ${TASK_ID} did not finish within 30 minutes (last status EXPORTING, 42%); last error: NeptuneGraph.ThrottlingException: Rate exceeded`);
  });

  test('CALL_FAILED answers FAILED with the error name and cause', async () => {
    const error = { Error: 'NeptuneGraph.ResourceNotFoundException', Cause: 'Export task t-0123456789 not found' };
    const answer = await answerAfter({ outcome: Outcome.CALL_FAILED, error });

    expect(answer).toMatchObject({
      Status: 'FAILED', Reason: `GetExportTask failed for export task ${TASK_ID}: NeptuneGraph.ResourceNotFoundException: Export task t-0123456789 not found`,
    });
  });

  test.each([
    ['no fields at all', {}],
    ['a camelCase status only', { status: 'FAILED' }],
    ['a status that is not text', { Status: 3 }],
  ])('a task with %s answers FAILED: GetExportTask returned no status', async (_name, task) => {
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task });

    expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(`GetExportTask returned no status for export task ${TASK_ID}`) });
  });

  test('an unknown outcome answers FAILED, naming it', async () => {
    const answer = await answerAfter({ outcome: 'SOMETHING_ELSE' });

    expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('"SOMETHING_ELSE"') });
  });

  test('a re-read answers with the physical id it re-read, and on success keeps the results for it', async () => {
    const physicalId = `t-abcdefghij;${TASK_ID}`;
    const e = update({ ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: 't-abcdefghij' }, { physicalResourceId: physicalId, oldProperties: { ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: 't-abcdefghij' } });
    const answer = await answerAfter({ outcome: Outcome.TASK_ENDED, task: { ...SUCCEEDED_TASK, TaskId: 't-abcdefghij' } }, { event: e });

    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
    expect(env.ssm.parameters.has(resultsParameterOf(e, 't-abcdefghij'))).toBe(true);
  });
});

describe('exactly once', () => {
  test('a second answer for the same request (a retried invoke) finds nobody waiting: no answer, no throw, logged', async () => {
    const { event, input } = await startWait();
    const payload = loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK });
    await handler(payload);
    await expect(handler(payload)).resolves.toBeUndefined();

    expect(env.receiver.attempts(event.RequestId)).toHaveLength(1);
    expect(env.logLines.some((line) => line.includes('Nobody waits for this request any more'))).toBe(true);
  });

  test('an answer for a request whose parameter is gone (a superseded request) is not delivered', async () => {
    const { event, input } = await startWait();
    env.ssm.parameters.delete(requestParameterOf(event));
    await expect(handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }))).resolves.toBeUndefined();

    expect(env.receiver.attempts(event.RequestId)).toEqual([]);
  });

  test('an answer that names no request is logged and ignored', async () => {
    const attemptsBefore = env.receiver.attempts().length;
    await expect(handler({ [ANSWER_MARKER]: { answer: { outcome: Outcome.TIMED_OUT }, request: {} } })).resolves.toBeUndefined();
    await expect(handler({ [ANSWER_MARKER]: { answer: { outcome: Outcome.TIMED_OUT } } })).resolves.toBeUndefined();

    expect(env.receiver.attempts()).toHaveLength(attemptsBefore);
    expect(env.logLines.some((line) => line.includes('without naming the request'))).toBe(true);
  });
});

describe('Parameter Store at answer time', () => {
  test('throttled until the SDK gives up: AnswerNotDelivered is thrown (the loop retries), nothing is answered or forgotten', async () => {
    const { event, input } = await startWait();
    env.ssm.fault({ operation: 'GetParameter', kind: 'throttle' });
    const answering = () => handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }));
    const error = await withFastTimers(() => answering().then(() => undefined, (e: Error) => e));

    expect(error).toMatchObject({ name: ANSWER_NOT_DELIVERED, message: expect.stringContaining('ThrottlingException') });
    expect(env.receiver.attempts(event.RequestId)).toEqual([]);
    expect(env.ssm.parameters.has(requestParameterOf(event))).toBe(true);
    expect(env.ssm.calls.filter((c) => c.operation === 'GetParameter').length).toBeGreaterThan(1);

    // The loop's retry, once Parameter Store recovers, answers.
    env.ssm.clearFaults();
    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }));
    expect(answerFor(event).Status).toBe('SUCCESS');
  });

  test('throttled a few times: the SDK rides it out and the answer goes out once', async () => {
    const { event, input } = await startWait();
    env.ssm.fault({ operation: 'GetParameter', kind: 'throttle', times: 3 });
    await withFastTimers(() => handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK })));

    expect(answerFor(event).Status).toBe('SUCCESS');
    expect(env.ssm.parameters.has(requestParameterOf(event))).toBe(false);
  });
});

describe('delivery to the ResponseURL', () => {
  /** Points a started request at the raw recorder, as if CloudFormation had issued that URL. */
  async function startedWithResponseUrl(url: string): Promise<Json> {
    const { event, input } = await startWait();
    env.ssm.parameters.get(requestParameterOf(event))!.value = JSON.stringify({ ResponseURL: url });
    return input;
  }

  test('AnswerNotDelivered, without the URL, after three 500s; the ResponseURL is kept for the loop\'s retry', async () => {
    env.raw.statuses = [500, 500, 500];
    const url = env.raw.url();
    const input = await startedWithResponseUrl(url);
    const error = await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK })).then(() => undefined, (e: Error) => e);

    expect(error).toMatchObject({ name: ANSWER_NOT_DELIVERED, message: expect.stringContaining('HTTP 500') });
    for (const secret of [url, '127.0.0.1', signaturesIn(url)[0]]) expect(error!.message).not.toContain(secret);
    expect(env.raw.requests).toHaveLength(3);
    expect(env.ssm.parameters.has(input.request.parameterName)).toBe(true);
  });

  test('delivers on the third attempt after two 503s', async () => {
    const { event, input } = await startWait();
    env.receiver.fault({ kind: 'status5xx', times: 2, requestId: event.RequestId });
    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }));

    expect(env.receiver.attempts(event.RequestId).map((a) => a.status)).toEqual([503, 503, 200]);
    expect(answerFor(event).Status).toBe('SUCCESS');
  });

  test('does not retry a 403', async () => {
    env.raw.statuses = [403];
    const input = await startedWithResponseUrl(env.raw.url());

    const answering = handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }));

    await expect(answering).rejects.toMatchObject({ name: ANSWER_NOT_DELIVERED });
    expect(env.raw.requests).toHaveLength(1);
  });
});

describe('long-wait mode (a WaitCondition waits for the end)', () => {
  async function startLongWait(): Promise<{ event: CustomResourceEvent; input: Json; handle: string }> {
    const handle = env.receiver.waitConditionHandle(`Handle${env.receiver.answers().length}${Date.now()}`);
    const e = waiterEvent(env.receiver, 'Create', { ...WAITER_PROPERTIES, [ResourceProperties.TIMEOUT_SECONDS]: '7200', [ResourceProperties.SIGNAL_URL]: handle });
    return { ...(await startWait(e)), handle };
  }
  const handleId = (handle: string) => decodeURIComponent(new URL(handle).pathname.split('/').pop()!);

  test('the custom resource is answered when the task is known, and the WaitCondition is signalled at the end', async () => {
    const { event, input, handle } = await startLongWait();
    await handler({ [ANSWER_MARKER]: { phase: 'started', taskId: TASK_ID, request: input.request } });

    expect(answerFor(event)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID, Data: { TaskId: TASK_ID } });
    // The WaitCondition still needs the handle.
    expect(env.ssm.parameters.has(requestParameterOf(event))).toBe(true);

    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: SUCCEEDED_TASK }, { announced: true }));

    expect(env.receiver.attempts(event.RequestId)).toHaveLength(1);
    const signals = env.receiver.signals(handleId(handle));
    expect(signals).toHaveLength(1);
    expect(signals[0].violations).toEqual([]);
    expect(signals[0].body).toEqual({ Status: 'SUCCESS', UniqueId: TASK_ID, Data: TASK_ID, Reason: 'Export succeeded' });
    expect(env.ssm.parameters.has(requestParameterOf(event))).toBe(false);
  });

  test('a task that fails after the announcement signals FAILURE with the reason', async () => {
    const { input, handle } = await startLongWait();
    await handler({ [ANSWER_MARKER]: { phase: 'started', taskId: TASK_ID, request: input.request } });
    await handler(loopAnswer(input, { outcome: Outcome.TASK_ENDED, task: { Status: 'CANCELLED', StatusReason: 'cancelled by an operator' } }, { announced: true }));

    expect(env.receiver.signals(handleId(handle))[0].body).toMatchObject({
      Status: 'FAILURE', Reason: `Export task ${TASK_ID} ended with status CANCELLED: cancelled by an operator`,
    });
  });

  test('a wait that ends before the announcement answers the custom resource itself, and signals nothing', async () => {
    const { event, input, handle } = await startLongWait();
    await handler(loopAnswer(input, { outcome: Outcome.CALL_FAILED, error: { Error: 'NeptuneGraph.AccessDeniedException', Cause: 'denied' } }, { announced: false }));

    expect(answerFor(event)).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('NeptuneGraph.AccessDeniedException: denied') });
    expect(env.receiver.signalAttempts(handleId(handle))).toEqual([]);
  });

  test('a signal with a huge reason still fits in 4096 bytes', () => {
    const body = serializeSignal({ status: 'FAILED', reason: `€${'r'.repeat(10_000)}` }, TASK_ID);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_ANSWER_BYTES);
    expect(JSON.parse(body)).toMatchObject({ Status: 'FAILURE', UniqueId: TASK_ID, Data: TASK_ID });
  });
});
