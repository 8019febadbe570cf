import * as http from 'node:http';
import {
  AccessDeniedException,
  CancelExportTaskCommand,
  ConflictException,
  ExportFilter,
  GetExportTaskCommand,
  GetExportTaskCommandOutput,
  InternalServerException,
  ListExportTasksCommand,
  NeptuneGraphClient,
  NeptuneGraphClientConfig,
  NeptuneGraphServiceException,
  paginateListExportTasks,
  ResourceNotFoundException,
  StartExportTaskCommand,
  StartExportTaskCommandInput,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-neptune-graph';
import { FaultRule, NeptuneGraphEmulator, progressModels, VirtualClock } from '../../harness/neptune-emulator';

const T0 = 1_767_225_600;
const ROLE = 'arn:aws:iam::123456789012:role/NeptuneExportRole';
const KMS = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-4333-8444-555555555555';
const GRAPH = 'g-abcdefghij';

let emulator: NeptuneGraphEmulator;
const clients: NeptuneGraphClient[] = [];

function client(extra: Partial<NeptuneGraphClientConfig> = {}): NeptuneGraphClient {
  const c = new NeptuneGraphClient({
    endpoint: emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    maxAttempts: 1,
    ...extra,
  });
  clients.push(c);
  return c;
}

async function get(taskIdentifier: string): Promise<GetExportTaskCommandOutput> {
  return client().send(new GetExportTaskCommand({ taskIdentifier }));
}

/** The rejection of a promise that must reject (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the promise to reject');
}

function validStart(overrides: Partial<StartExportTaskCommandInput> = {}): StartExportTaskCommandInput {
  return {
    graphIdentifier: GRAPH,
    roleArn: ROLE,
    format: 'PARQUET',
    destination: 's3://bucket/prefix/',
    kmsKeyIdentifier: KMS,
    ...overrides,
  };
}

interface RawResponse { status: number; headers: http.IncomingHttpHeaders; body: string }

function raw(method: string, path: string, headers: http.OutgoingHttpHeaders = {}, body?: string): Promise<RawResponse> {
  const url = new URL(path, emulator.endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const FAKE_SIGV4 = {
  'authorization': `AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/neptune-graph/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
  'x-amz-date': '20260101T000000Z',
};

beforeEach(async () => {
  emulator = await NeptuneGraphEmulator.start({ clock: new VirtualClock(T0), seed: 42 });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await emulator.stop();
});

describe('VirtualClock', () => {
  test('starts at 2026-01-01 by default and only moves forward', () => {
    const clock = new VirtualClock();
    expect(clock.now()).toBe(1_767_225_600);
    clock.advance(1.5);
    expect(clock.now()).toBe(1_767_225_601.5);
    expect(() => clock.advance(-1)).toThrow(/forward/);
    expect(() => clock.advance(NaN)).toThrow(/forward/);
  });
});

describe('task progression through the real client', () => {
  test('INITIALIZING -> EXPORTING (rising) -> SUCCEEDED as the clock advances', async () => {
    const task = emulator.addTask({ initializingSeconds: 30, exportingSeconds: 600, vertices: 1000, edges: 5000 });
    expect(task.taskId).toMatch(/^t-[a-z0-9]{10}$/);

    const init = await get(task.taskId);
    expect(init.status).toBe('INITIALIZING');
    expect(init.exportTaskDetails).toBeUndefined();
    expect(init).toMatchObject({ graphId: 'g-0123456789', taskId: task.taskId, format: 'PARQUET' });
    expect(init.roleArn).toMatch(/^arn:aws:iam::123456789012:role\//);
    expect(init.$metadata.httpStatusCode).toBe(200);
    expect(init.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);

    emulator.clock.advance(30);
    const started = await get(task.taskId);
    expect(started.status).toBe('EXPORTING');
    expect(started.exportTaskDetails).toMatchObject({ progressPercentage: 0, timeElapsedSeconds: 30, numVerticesWritten: 0, numEdgesWritten: 0 });

    emulator.clock.advance(150);
    const quarter = await get(task.taskId);
    const details = quarter.exportTaskDetails!;
    expect(details.startTime).toBeInstanceOf(Date);
    expect(details.startTime!.getTime()).toBe(T0 * 1000);
    expect(details).toMatchObject({ progressPercentage: 25, timeElapsedSeconds: 180, numVerticesWritten: 250, numEdgesWritten: 1250 });

    emulator.clock.advance(449.5);
    const almost = await get(task.taskId);
    expect(almost.status).toBe('EXPORTING');
    expect(almost.exportTaskDetails!.progressPercentage).toBe(99);
    expect(almost.exportTaskDetails!.timeElapsedSeconds).toBe(629);

    emulator.clock.advance(0.5);
    const done = await get(task.taskId);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.statusReason).toBeUndefined();
    expect(done.exportTaskDetails).toMatchObject({
      progressPercentage: 100, timeElapsedSeconds: 630, numVerticesWritten: 1000, numEdgesWritten: 5000,
    });

    emulator.clock.advance(3600);
    expect((await get(task.taskId)).exportTaskDetails!.timeElapsedSeconds).toBe(630);
    expect(task.status()).toBe('SUCCEEDED');
  });

  test('describe() is the wire body: camelCase, startTime as epoch seconds', () => {
    const task = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 100, exportFilter: { vertexFilter: { Person: {} } } });
    emulator.clock.advance(10);
    const body = task.describe();
    expect(body).toMatchObject({ taskId: task.taskId, status: 'EXPORTING', exportFilter: { vertexFilter: { Person: {} } } });
    expect(body.exportTaskDetails).toEqual({
      startTime: T0, timeElapsedSeconds: 10, progressPercentage: 10, numVerticesWritten: 100, numEdgesWritten: 500,
    });
  });

  test('progress models shape the reported percentage', async () => {
    const at = (progress: (f: number) => number) => emulator.addTask({ initializingSeconds: 0, exportingSeconds: 100, progress });
    const linear = at(progressModels.linear);
    const front = at(progressModels.frontLoaded);
    const back = at(progressModels.backLoaded);
    const stalled = at(progressModels.stalledThenJumping);
    const none = at(progressModels.noProgressUntilDone);
    const pct = async (id: string) => (await get(id)).exportTaskDetails!.progressPercentage!;

    emulator.clock.advance(50);
    expect(await pct(linear.taskId)).toBe(50);
    expect(await pct(front.taskId)).toBeGreaterThan(50);
    expect(await pct(back.taskId)).toBeLessThan(50);
    expect(await pct(stalled.taskId)).toBe(10);
    expect(await pct(none.taskId)).toBe(0);

    emulator.clock.advance(40);
    expect(await pct(stalled.taskId)).toBeGreaterThanOrEqual(90);
    expect(await pct(none.taskId)).toBe(0);

    emulator.clock.advance(10);
    const finished = await get(none.taskId);
    expect(finished.status).toBe('SUCCEEDED');
    expect(finished.exportTaskDetails!.progressPercentage).toBe(100);
  });

  test('a model that reaches 1 early still reports < 100 while EXPORTING', () => {
    const task = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 100, progress: () => 1 });
    emulator.clock.advance(10);
    expect(task.describe().exportTaskDetails).toMatchObject({ progressPercentage: 99 });
  });

  test('progress noise is seeded, monotone and reproducible', async () => {
    const sample = async (seed: number) => {
      const emu = await NeptuneGraphEmulator.start({ clock: new VirtualClock(T0), seed });
      try {
        const task = emu.addTask({ initializingSeconds: 0, exportingSeconds: 600, progressNoise: 0.1 });
        const seen: number[] = [];
        for (let i = 0; i < 60; i++) {
          emu.clock.advance(9.99);
          seen.push((task.describe().exportTaskDetails as { progressPercentage: number }).progressPercentage);
        }
        return { taskId: task.taskId, seen };
      } finally {
        await emu.stop();
      }
    };
    const a = await sample(7);
    const b = await sample(7);
    const c = await sample(8);
    expect(a).toEqual(b);
    expect(c.taskId).not.toBe(a.taskId);
    expect(c.seen).not.toEqual(a.seen);
    for (let i = 1; i < a.seen.length; i++) expect(a.seen[i]).toBeGreaterThanOrEqual(a.seen[i - 1]);
    expect(Math.max(...a.seen)).toBeLessThan(100);
    // Noise actually changes something compared with the plain linear curve.
    expect(a.seen.some((p, i) => p !== Math.floor(((i + 1) * 9.99 / 600) * 100))).toBe(true);
  });

  test('FAILED outcome carries its statusReason and partial counts', async () => {
    const task = emulator.addTask({ initializingSeconds: 5, exportingSeconds: 50, outcome: 'FAILED', statusReason: 'S3 access denied', vertices: 10, edges: 20 });
    emulator.clock.advance(55);
    const out = await get(task.taskId);
    expect(out.status).toBe('FAILED');
    expect(out.statusReason).toBe('S3 access denied');
    expect(out.exportTaskDetails!.progressPercentage).toBeLessThan(100);
  });

  test('addTask rejects scripts the real service could never produce', () => {
    expect(() => emulator.addTask({ taskId: 'task-1' })).toThrow(/taskId/);
    expect(() => emulator.addTask({ graphId: 'g-UPPER12345' })).toThrow(/graphId/);
    expect(() => emulator.addTask({ exportingSeconds: -1 })).toThrow(/exportingSeconds/);
    emulator.addTask({ taskId: 't-aaaaaaaaaa' });
    expect(() => emulator.addTask({ taskId: 't-aaaaaaaaaa' })).toThrow(/already exists/);
  });
});

describe('errors deserialize into the client exception classes', () => {
  const cases: Array<[FaultRule['kind'], new (...args: never[]) => Error, number, string]> = [
    ['throttle', ThrottlingException, 429, 'ThrottlingException'],
    ['internal', InternalServerException, 500, 'InternalServerException'],
    ['notFound', ResourceNotFoundException, 404, 'ResourceNotFoundException'],
    ['validation', ValidationException, 400, 'ValidationException'],
    ['accessDenied', AccessDeniedException, 403, 'AccessDeniedException'],
    ['conflict', ConflictException, 409, 'ConflictException'],
  ];
  test.each(cases)('%s -> %p', async (kind, ctor, status, name) => {
    const task = emulator.addTask({});
    emulator.fault({ kind, message: `injected ${kind}` });
    const err = await rejection(get(task.taskId));
    expect(err).toBeInstanceOf(ctor);
    expect(err).toBeInstanceOf(NeptuneGraphServiceException);
    const svc = err as NeptuneGraphServiceException;
    expect(svc.name).toBe(name);
    expect(svc.message).toBe(`injected ${kind}`);
    expect(svc.$metadata.httpStatusCode).toBe(status);
    expect(svc.$fault).toBe(status >= 500 ? 'server' : 'client');
    expect(emulator.calls).toEqual([{ operation: 'GetExportTask', taskId: task.taskId, httpStatus: status, errorType: name, at: T0, faults: [kind] }]);
  });

  test('throttling is marked retryable, validation and conflict carry a reason', async () => {
    const task = emulator.addTask({});
    emulator.fault({ kind: 'throttle', times: 1 });
    emulator.fault({ kind: 'validation', times: 1 });
    emulator.fault({ kind: 'conflict', times: 1 });
    const throttled = await rejection(get(task.taskId)) as ThrottlingException;
    expect(throttled.$retryable).toEqual({ throttling: true });
    const invalid = await rejection(get(task.taskId)) as ValidationException;
    expect(invalid.reason).toBe('BAD_REQUEST');
    const conflict = await rejection(get(task.taskId)) as ConflictException;
    expect(conflict.reason).toBe('CONCURRENT_MODIFICATION');
  });

  test('unknown task is ResourceNotFoundException, malformed id is ValidationException with reason', async () => {
    const missing = await rejection(get('t-zzzzzzzzzz'));
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(missing.message).toContain('t-zzzzzzzzzz');

    const malformed = await rejection(get('T-NOTVALID!'));
    expect(malformed).toBeInstanceOf(ValidationException);
    expect((malformed as ValidationException).reason).toBe('CONSTRAINT_VIOLATION');
    expect(malformed.message).toMatch(/taskIdentifier.*t-\[a-z0-9\]\{10\}/);

    // The client sends an empty label as GET /exporttasks/ without complaint.
    const empty = await rejection(get(''));
    expect(empty).toBeInstanceOf(ValidationException);
    expect(emulator.calls.map((c) => c.httpStatus)).toEqual([404, 400, 400]);
  });
});

describe('authentication and routing', () => {
  test('a request without Authorization is refused with 403 and an error type', async () => {
    const task = emulator.addTask({});
    const res = await raw('GET', `/exporttasks/${task.taskId}`);
    expect(res.status).toBe(403);
    expect(res.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ message: 'Missing Authentication Token' });
    expect(emulator.calls).toEqual([{ operation: 'GetExportTask', taskId: task.taskId, httpStatus: 403, errorType: 'MissingAuthenticationTokenException', at: T0 }]);
  });

  test('a malformed Authorization header is IncompleteSignatureException', async () => {
    const res = await raw('GET', '/exporttasks/t-0123456789', { 'authorization': 'Bearer abc', 'x-amz-date': '20260101T000000Z' });
    expect(res.status).toBe(403);
    expect(res.headers['x-amzn-errortype']).toBe('IncompleteSignatureException');
  });

  test('a client signing for another region gets an unmodeled error the SDK still surfaces by name', async () => {
    const task = emulator.addTask({});
    const err = await rejection(client({ region: 'eu-west-1' }).send(new GetExportTaskCommand({ taskIdentifier: task.taskId })));
    expect(err).toBeInstanceOf(NeptuneGraphServiceException);
    expect(err).not.toBeInstanceOf(AccessDeniedException);
    expect(err.name).toBe('InvalidSignatureException');
    expect(err.message).toMatch(/region/);
    expect((err as NeptuneGraphServiceException).$metadata.httpStatusCode).toBe(403);
  });

  test("a request signed for 'neptunegraph' (the IAM-prefix mistake) or with a stale scope date is InvalidSignatureException", async () => {
    const wrongService = await raw('GET', '/exporttasks/t-0123456789', {
      ...FAKE_SIGV4,
      authorization: FAKE_SIGV4.authorization.replace('/neptune-graph/', '/neptunegraph/'),
    });
    expect(wrongService.status).toBe(403);
    expect(wrongService.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
    expect(JSON.parse(wrongService.body).message).toMatch(/neptune-graph/);

    const staleDate = await raw('GET', '/exporttasks/t-0123456789', { ...FAKE_SIGV4, 'x-amz-date': '20260102T000000Z' });
    expect(staleDate.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
  });

  test('a body that is not JSON is a SerializationException', async () => {
    const res = await raw('POST', '/exporttasks', { ...FAKE_SIGV4, 'content-type': 'application/json' }, '{not json');
    expect(res.status).toBe(400);
    expect(res.headers['x-amzn-errortype']).toBe('SerializationException');
  });

  test('an unknown path is 404 with an error type', async () => {
    const res = await raw('GET', '/graphs/g-0123456789', FAKE_SIGV4);
    expect(res.status).toBe(404);
    expect(res.headers['x-amzn-errortype']).toBe('UnknownOperationException');
    expect(JSON.parse(res.body).message).toMatch(/graphs/);
    expect(emulator.calls[0]).toMatchObject({ operation: 'Unknown', httpStatus: 404 });
  });
});

describe('StartExportTask', () => {
  test('creates a task (201) that GetExportTask then reports', async () => {
    emulator.startDefaults = { initializingSeconds: 10, exportingSeconds: 20, vertices: 3, edges: 4 };
    const filter: ExportFilter = { vertexFilter: { Person: { properties: { name: { outputType: 'String', sourcePropertyName: 'name', multiValueHandling: 'PICK_FIRST' } } } } };
    const out = await client().send(new StartExportTaskCommand(validStart({ format: 'CSV', exportFilter: filter, tags: { team: 'graph' } })));
    expect(out.$metadata.httpStatusCode).toBe(201);
    expect(out.taskId).toMatch(/^t-[a-z0-9]{10}$/);
    expect(out).toMatchObject({ graphId: GRAPH, roleArn: ROLE, status: 'INITIALIZING', format: 'CSV', destination: 's3://bucket/prefix/', kmsKeyIdentifier: KMS, exportFilter: filter });
    expect(emulator.calls).toEqual([{ operation: 'StartExportTask', taskId: out.taskId, httpStatus: 201, at: T0 }]);

    emulator.clock.advance(30);
    const got = await get(out.taskId!);
    expect(got).toMatchObject({ status: 'SUCCEEDED', graphId: GRAPH, format: 'CSV', exportFilter: filter });
    expect(got.exportTaskDetails).toMatchObject({ numVerticesWritten: 3, numEdgesWritten: 4, progressPercentage: 100 });
    expect(emulator.task(out.taskId!)?.status()).toBe('SUCCEEDED');
  });

  test('task ids are seeded: the same seed yields the same ids', async () => {
    const ids = async () => {
      const emu = await NeptuneGraphEmulator.start({ seed: 99 });
      try {
        return [emu.addTask({}).taskId, emu.addTask({}).taskId];
      } finally {
        await emu.stop();
      }
    };
    expect(await ids()).toEqual(await ids());
  });

  test('missing required members are all reported in one ValidationException', async () => {
    // The client does no required-member checking of its own; this goes on the wire as {}.
    const err = await rejection(client().send(new StartExportTaskCommand({} as StartExportTaskCommandInput)));
    expect(err).toBeInstanceOf(ValidationException);
    expect(err.message).toMatch(/^5 validation errors detected/);
    for (const m of ['graphIdentifier', 'roleArn', 'format', 'destination', 'kmsKeyIdentifier']) expect(err.message).toContain(`'${m}'`);
    expect(emulator.calls[0]).toMatchObject({ operation: 'StartExportTask', httpStatus: 400, errorType: 'ValidationException' });
    expect(emulator.calls[0].taskId).toBeUndefined();
  });

  const invalid: Array<[string, Partial<StartExportTaskCommandInput>, RegExp]> = [
    ['graph id', { graphIdentifier: 'my-graph' }, /graphIdentifier.*g-\[a-z0-9\]\{10\}/],
    ['role arn', { roleArn: 'arn:aws:iam::123:role/x' }, /roleArn/],
    ['kms arn', { kmsKeyIdentifier: 'alias/aws/s3' }, /kmsKeyIdentifier/],
    ['format', { format: 'JSON' as 'CSV' }, /format.*PARQUET, CSV/],
    ['parquetType', { parquetType: 'ROW' as 'COLUMNAR' }, /parquetType.*COLUMNAR/],
    ['destination', { destination: '' }, /destination.*length/],
    ['destination length', { destination: `s3://${'a'.repeat(1100)}` }, /destination.*length/],
    ['tag count', { tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }, /tags.*50/],
    ['filter outputType', { exportFilter: { vertexFilter: { Person: { properties: { age: { outputType: 'Integer' } } } } } }, /outputType/],
    ['filter output name', { exportFilter: { edgeFilter: { knows: { properties: { 'bad name': {} } } } } }, /bad name/],
    ['filter multiValueHandling', { exportFilter: { vertexFilter: { P: { properties: { x: { multiValueHandling: 'ALL' as 'TO_LIST' } } } } } }, /multiValueHandling/],
  ];
  test.each(invalid)('rejects an invalid %s', async (_what, overrides, message) => {
    const err = await rejection(client().send(new StartExportTaskCommand(validStart(overrides))));
    expect(err).toBeInstanceOf(ValidationException);
    expect((err as ValidationException).reason).toBe('CONSTRAINT_VIOLATION');
    expect(err.message).toMatch(/^1 validation error detected/);
    expect(err.message).toMatch(message);
  });

  test('accepts the service-role path form, GovCloud ARNs and exactly 50 tags', async () => {
    const out = await client().send(new StartExportTaskCommand(validStart({
      roleArn: 'arn:aws-us-gov:iam::123456789012:role/service-role/Export',
      kmsKeyIdentifier: 'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/11111111-2222-4333-8444-555555555555',
      parquetType: 'COLUMNAR',
      tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'])),
    })));
    expect(out.parquetType).toBe('COLUMNAR');
  });
});

describe('CancelExportTask', () => {
  test('EXPORTING -> CANCELLING -> CANCELLED, then 409 ConflictException', async () => {
    const task = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 100 });
    emulator.clock.advance(40);
    const out = await client().send(new CancelExportTaskCommand({ taskIdentifier: task.taskId }));
    expect(out.status).toBe('CANCELLING');
    expect(out.$metadata.httpStatusCode).toBe(200);

    emulator.clock.advance(30);
    const cancelling = await get(task.taskId);
    expect(cancelling.status).toBe('CANCELLING');
    // Work stopped at the cancel; the task clock runs on while it winds down.
    expect(cancelling.exportTaskDetails).toMatchObject({ progressPercentage: 40, timeElapsedSeconds: 70 });

    // A second cancel while CANCELLING is accepted and does not restart the countdown.
    expect((await client().send(new CancelExportTaskCommand({ taskIdentifier: task.taskId }))).status).toBe('CANCELLING');

    emulator.clock.advance(30);
    const cancelled = await get(task.taskId);
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.statusReason).toBeTruthy();
    expect(cancelled.exportTaskDetails).toMatchObject({ progressPercentage: 40, timeElapsedSeconds: 100 });

    const err = await rejection(client().send(new CancelExportTaskCommand({ taskIdentifier: task.taskId })));
    expect(err).toBeInstanceOf(ConflictException);
    expect(err.message).toMatch(/CANCELLED/);
    expect((err as ConflictException).$metadata.httpStatusCode).toBe(409);
  });

  test('cancelling a SUCCEEDED task is a conflict; an unknown one is not found', async () => {
    const task = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 1 });
    emulator.clock.advance(1);
    expect(await rejection(client().send(new CancelExportTaskCommand({ taskIdentifier: task.taskId })))).toBeInstanceOf(ConflictException);
    expect(await rejection(client().send(new CancelExportTaskCommand({ taskIdentifier: 't-0000000000' })))).toBeInstanceOf(ResourceNotFoundException);
  });

  test('CancelExportTask leaves the task CANCELLING for the cancellingSeconds of its script', async () => {
    const quick = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 100, cancellingSeconds: 0 });
    expect((await client().send(new CancelExportTaskCommand({ taskIdentifier: quick.taskId }))).status).toBe('CANCELLED');
    emulator.startDefaults = { exportingSeconds: 100, cancellingSeconds: 10 };
    const started = await client().send(new StartExportTaskCommand(validStart()));
    expect((await client().send(new CancelExportTaskCommand({ taskIdentifier: started.taskId }))).status).toBe('CANCELLING');
    emulator.clock.advance(10);
    expect((await get(started.taskId!)).status).toBe('CANCELLED');
  });

  test('EmulatedTask.cancel() during INITIALIZING leaves no details and honours cancellingSeconds', async () => {
    const task = emulator.addTask({ initializingSeconds: 30 });
    task.cancel(5);
    expect(task.status()).toBe('CANCELLING');
    emulator.clock.advance(5);
    const out = await get(task.taskId);
    expect(out.status).toBe('CANCELLED');
    expect(out.exportTaskDetails).toBeUndefined();
    expect(() => task.cancel()).toThrow(/CANCELLED/);
  });

  test('a scripted cancel (cancelAfterSeconds) happens at its virtual time, and calls record the status read', async () => {
    const task = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 1000, cancelAfterSeconds: 100, cancellingSeconds: 50 });
    emulator.clock.advance(99);
    expect((await get(task.taskId)).status).toBe('EXPORTING');
    emulator.clock.advance(1);
    expect((await get(task.taskId)).status).toBe('CANCELLING');
    emulator.clock.advance(50);
    const out = await get(task.taskId);
    expect(out.status).toBe('CANCELLED');
    expect(out.exportTaskDetails).toMatchObject({ progressPercentage: 10, timeElapsedSeconds: 150 });
    expect(emulator.calls.map((c) => c.taskStatus)).toEqual(['EXPORTING', 'CANCELLING', 'CANCELLED']);
    expect(() => emulator.addTask({ exportingSeconds: 10, cancelAfterSeconds: 40 })).toThrow(/cancelAfterSeconds/);
  });
});

describe('ListExportTasks', () => {
  test('paginates in creation order and filters by graph', async () => {
    const other = 'g-zzzzzzzzzz';
    const ids = Array.from({ length: 7 }, (_, i) => emulator.addTask({ graphId: i % 3 === 0 ? other : GRAPH }).taskId);

    const pages: string[][] = [];
    for await (const page of paginateListExportTasks({ client: client(), pageSize: 3 }, {})) {
      pages.push(page.tasks!.map((t) => t.taskId!));
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(ids);

    const first = await client().send(new ListExportTasksCommand({ graphIdentifier: GRAPH, maxResults: 2 }));
    expect(first.tasks!.map((t) => t.graphId)).toEqual([GRAPH, GRAPH]);
    expect(first.tasks![0]).toMatchObject({ status: 'INITIALIZING', format: 'PARQUET' });
    expect(first.nextToken).toBeDefined();
    const rest = await client().send(new ListExportTasksCommand({ graphIdentifier: GRAPH, maxResults: 100, nextToken: first.nextToken }));
    expect(rest.tasks).toHaveLength(2);
    expect(rest.nextToken).toBeUndefined();

    // A token from one listing is not valid for another.
    const reused = await rejection(client().send(new ListExportTasksCommand({ graphIdentifier: other, nextToken: first.nextToken })));
    expect(reused).toBeInstanceOf(ValidationException);
  });

  test('rejects bad maxResults, graph ids and tokens', async () => {
    for (const input of [{ maxResults: 0 }, { maxResults: 101 }, { graphIdentifier: 'graph' }, { nextToken: 'garbage' }]) {
      expect(await rejection(client().send(new ListExportTasksCommand(input)))).toBeInstanceOf(ValidationException);
    }
  });

  test('an empty account lists no tasks and no token', async () => {
    const out = await client().send(new ListExportTasksCommand({}));
    expect(out.tasks).toEqual([]);
    expect(out.nextToken).toBeUndefined();
  });
});

describe('DELETED and removal', () => {
  test('markDeleted() reports DELETED with the reason from now on', async () => {
    const task = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 100 });
    emulator.clock.advance(20);
    task.markDeleted('graph was deleted');
    emulator.clock.advance(200);
    const out = await get(task.taskId);
    expect(out.status).toBe('DELETED');
    expect(out.statusReason).toBe('graph was deleted');
    expect(out.exportTaskDetails).toMatchObject({ progressPercentage: 20, timeElapsedSeconds: 20 });
  });

  test('outcome DELETED is reached at the end of EXPORTING', async () => {
    const task = emulator.addTask({ initializingSeconds: 0, exportingSeconds: 10, outcome: 'DELETED', statusReason: 'gone' });
    emulator.clock.advance(10);
    expect(await get(task.taskId)).toMatchObject({ status: 'DELETED', statusReason: 'gone' });
  });

  test('remove() makes GetExportTask answer 404 and drops the task from listings', async () => {
    const task = emulator.addTask({});
    task.remove();
    expect(emulator.task(task.taskId)).toBeUndefined();
    const err = await rejection(get(task.taskId));
    expect(err).toBeInstanceOf(ResourceNotFoundException);
    expect((await client().send(new ListExportTasksCommand({}))).tasks).toEqual([]);
  });
});

describe('fault injection', () => {
  test('times limits a rule to the next N matching calls; operation and taskId narrow it', async () => {
    const a = emulator.addTask({});
    const b = emulator.addTask({});
    emulator.fault({ operation: 'GetExportTask', taskId: a.taskId, kind: 'throttle', times: 2 });
    emulator.fault({ operation: 'ListExportTasks', kind: 'internal' });

    expect(await rejection(get(a.taskId))).toBeInstanceOf(ThrottlingException);
    expect((await get(b.taskId)).taskId).toBe(b.taskId);
    expect(await rejection(get(a.taskId))).toBeInstanceOf(ThrottlingException);
    expect((await get(a.taskId)).taskId).toBe(a.taskId);
    expect(await rejection(client().send(new ListExportTasksCommand({})))).toBeInstanceOf(InternalServerException);

    emulator.clearFaults();
    await client().send(new ListExportTasksCommand({}));
    expect(emulator.calls.map((c) => [c.operation, c.httpStatus])).toEqual([
      ['GetExportTask', 429], ['GetExportTask', 200], ['GetExportTask', 429], ['GetExportTask', 200],
      ['ListExportTasks', 500], ['ListExportTasks', 200],
    ]);
  });

  test('between restricts a rule to a virtual-time window [from, to)', async () => {
    const task = emulator.addTask({});
    emulator.fault({ kind: 'internal', between: [T0 + 100, T0 + 200] });
    await get(task.taskId);
    emulator.clock.advance(100);
    expect(await rejection(get(task.taskId))).toBeInstanceOf(InternalServerException);
    emulator.clock.advance(99.5);
    expect(await rejection(get(task.taskId))).toBeInstanceOf(InternalServerException);
    emulator.clock.advance(0.5);
    await get(task.taskId);
    expect(emulator.calls.map((c) => [c.at - T0, c.httpStatus])).toEqual([[0, 200], [100, 500], [199.5, 500], [200, 200]]);
  });

  test('probability draws from the seeded PRNG: same seed, same pattern', async () => {
    const pattern = async () => {
      const emu = await NeptuneGraphEmulator.start({ seed: 5 });
      const c = new NeptuneGraphClient({ endpoint: emu.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, maxAttempts: 1 });
      try {
        const task = emu.addTask({});
        emu.fault({ kind: 'throttle', probability: 0.3 });
        for (let i = 0; i < 40; i++) {
          await c.send(new GetExportTaskCommand({ taskIdentifier: task.taskId })).catch(() => undefined);
        }
        return emu.calls.map((call) => call.httpStatus);
      } finally {
        c.destroy();
        await emu.stop();
      }
    };
    const first = await pattern();
    expect(await pattern()).toEqual(first);
    const throttled = first.filter((s) => s === 429).length;
    expect(throttled).toBeGreaterThan(3);
    expect(throttled).toBeLessThan(25);
  });

  test("'drop' closes the connection without an answer and the client rejects", async () => {
    const task = emulator.addTask({});
    emulator.fault({ kind: 'drop', times: 1 });
    const err = await rejection(get(task.taskId));
    expect(err).not.toBeInstanceOf(NeptuneGraphServiceException);
    // Outside jest this is name 'TimeoutError', code 'ECONNRESET' (the handler counts ECONNRESET as a
    // timeout). Under jest, node core's error comes from another realm, fails the SDK's
    // `instanceof Error`, and is stringified into a plain Error: only the message survives.
    expect(err.message).toMatch(/socket hang up/);
    expect(emulator.calls[0]).toMatchObject({ operation: 'GetExportTask', httpStatus: 0, faults: ['drop'] });
    // The next call gets a fresh connection and a normal answer.
    expect((await get(task.taskId)).status).toBe('INITIALIZING');
  });

  test("'slow' beyond the client's requestTimeout is a TimeoutError", async () => {
    const task = emulator.addTask({});
    emulator.fault({ kind: 'slow', delayMs: 600, times: 1 });
    // requestTimeout alone only logs a warning in @smithy/node-http-handler 4.x;
    // throwOnRequestTimeout turns it into the rejection a Lambda would see.
    const impatient = client({ requestHandler: { requestTimeout: 100, throwOnRequestTimeout: true } });
    const started = Date.now();
    const err = await rejection(impatient.send(new GetExportTaskCommand({ taskIdentifier: task.taskId })));
    expect(err.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(600);
  });

  test("'slow' within the timeout delays the real answer, and composes with an error rule", async () => {
    const task = emulator.addTask({});
    emulator.fault({ kind: 'slow', delayMs: 150, times: 2 });
    emulator.fault({ kind: 'throttle', times: 1 });
    const t1 = Date.now();
    expect(await rejection(get(task.taskId))).toBeInstanceOf(ThrottlingException);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(140);
    const t2 = Date.now();
    expect((await get(task.taskId)).status).toBe('INITIALIZING');
    expect(Date.now() - t2).toBeGreaterThanOrEqual(140);
    expect(emulator.calls.map((c) => c.faults)).toEqual([['slow', 'throttle'], ['slow']]);
  });

  test('requestTimeout without throwOnRequestTimeout only warns: the slow answer still arrives', async () => {
    const task = emulator.addTask({});
    emulator.fault({ kind: 'slow', delayMs: 200, times: 1 });
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined };
    const lenient = client({ requestHandler: { requestTimeout: 50, logger } });
    expect((await lenient.send(new GetExportTaskCommand({ taskIdentifier: task.taskId }))).status).toBe('INITIALIZING');
    expect(warnings.join('\n')).toMatch(/requestTimeout/);
  });

  test('stop() does not wait for pending slow answers', async () => {
    const task = emulator.addTask({});
    emulator.fault({ kind: 'slow', delayMs: 60_000 });
    const pending = rejection(get(task.taskId));
    await new Promise((r) => setTimeout(r, 50));
    const t = Date.now();
    await emulator.stop();
    expect(Date.now() - t).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });

  test('invalid rules are refused up front', () => {
    expect(() => emulator.fault({ kind: 'throttle', probability: 2 })).toThrow(/probability/);
    expect(() => emulator.fault({ kind: 'throttle', times: -1 })).toThrow(/times/);
    expect(() => emulator.fault({ kind: 'throttle', between: [10, 5] })).toThrow(/between/);
  });
});

describe('recorded calls', () => {
  test('StartExportTask records the request body as received (camelCase, maps untouched)', async () => {
    const input = validStart({ tags: { 'cost-center': '42' }, exportFilter: { vertexFilter: { Person: { properties: { full_name: { outputType: 'String' } } } } } });
    const out = await client().send(new StartExportTaskCommand(input));
    const [call] = emulator.calls;
    expect(call).toMatchObject({ operation: 'StartExportTask', httpStatus: 201, taskId: out.taskId });
    expect(emulator.requestOf(call)).toEqual(input);
    await get(out.taskId!);
    expect(emulator.requestOf(emulator.calls[1])).toBeUndefined();
  });
});
