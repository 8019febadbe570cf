/**
 * The custom-resource handler as a unit, with real HTTP: answers go to a local stand-in for the
 * presigned ResponseURL (test/harness/cloudformation.ts, which checks every answer against
 * CloudFormation's contract, or a raw recorder below), and StartExecution goes through the real
 * AWS SDK client to a local endpoint speaking the Step Functions JSON 1.0 protocol.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationReceiver, CustomResourceEvent } from './harness/cloudformation';
import { AnswerRefused, CloudFormationAnswer, MAX_ANSWER_BYTES, putAnswer, serializeAnswer } from '../lambda/cloudformation-response';
import { handler, redact } from '../lambda/export-waiter.lambda';

const TASK_ID = 't-0123456789';
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:TestStack-NeptuneGraphExportWaiter-12345678';
const VALID = { TaskIdentifier: TASK_ID, TimeoutSeconds: '1800', MinPollIntervalSeconds: '5', MaxPollIntervalSeconds: '900' };
const CONTEXT = { getRemainingTimeInMillis: () => 60_000 };
const ATTRIBUTE_NAMES = [
  'TaskId', 'GraphId', 'Status', 'Format', 'ParquetType', 'Destination',
  'KmsKeyIdentifier', 'RoleArn', 'NumVerticesWritten', 'NumEdgesWritten', 'TimeElapsedSeconds', 'StartTime',
];

type Json = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// Local Step Functions endpoint (JSON 1.0): StartExecution is all the handler calls.

interface StartExecutionCall {
  target: string;
  stateMachineArn: string;
  name: string;
  input: Json;
}

interface SfnFailure {
  status: number;
  type: string;
  message: string;
}

class LocalStepFunctions {
  public static async start(): Promise<LocalStepFunctions> {
    const sfn = new LocalStepFunctions();
    await new Promise<void>((done) => sfn.server.listen(0, '127.0.0.1', () => done()));
    return sfn;
  }

  public readonly calls: StartExecutionCall[] = [];
  /** Set to make every call fail with this error. */
  public failure?: SfnFailure;
  /** Set to keep calls waiting until release() is called. */
  public hang = false;
  private readonly server = http.createServer((req, res) => this.onRequest(req, res));
  private readonly started = new Map<string, string>();
  private readonly held: Array<() => void> = [];

  public get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  public reset(): void {
    this.calls.length = 0;
    this.failure = undefined;
    this.hang = false;
  }

  /** Answers the calls kept waiting with this error. */
  public release(failure: SfnFailure): void {
    this.hang = false;
    this.failure = failure;
    for (const answer of this.held.splice(0)) answer();
  }

  public async stop(): Promise<void> {
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = (status: number, body: Json, errorType?: string) => {
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.0',
          ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
        });
        res.end(JSON.stringify(errorType ? { __type: errorType, message: body.message } : body));
      };
      const target = String(req.headers['x-amz-target'] ?? '');
      const request = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      this.calls.push({ target, stateMachineArn: request.stateMachineArn, name: request.name, input: JSON.parse(request.input ?? '{}') });
      const respond = () => {
        if (this.failure) return reply(this.failure.status, { message: this.failure.message }, this.failure.type);
        if (target !== 'AWSStepFunctions.StartExecution') return reply(400, { message: target }, 'UnknownOperationException');
        // As Step Functions does: the same name with the same input is idempotent, other input is refused.
        const previous = this.started.get(request.name);
        if (previous !== undefined && previous !== request.input) {
          return reply(400, { message: `Execution Already Exists: '${request.name}'` }, 'ExecutionAlreadyExists');
        }
        this.started.set(request.name, request.input);
        return reply(200, { executionArn: `${request.stateMachineArn}:${request.name}`.replace(':stateMachine:', ':execution:'), startDate: Date.now() / 1000 });
      };
      if (this.hang) this.held.push(respond);
      else respond();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP recorder, for what the contract checker does not expose: the exact bytes of the
// request line and headers, and arbitrary status codes.

interface RawRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

class RawRecorder {
  public static async start(): Promise<RawRecorder> {
    const recorder = new RawRecorder();
    await new Promise<void>((done) => recorder.server.listen(0, '127.0.0.1', () => done()));
    return recorder;
  }

  public readonly requests: RawRequest[] = [];
  /** Status codes to answer, in order; 200 once they run out. */
  public statuses: number[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(this.statuses.shift() ?? 200, { 'content-length': '0' });
      res.end();
    });
  });

  public get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** A presigned-looking URL on this recorder, registered as a secret. */
  public url(pathAndQuery = SIGNED_PATH): string {
    const url = `http://127.0.0.1:${this.port}${pathAndQuery}`;
    secrets.push(url, ...signaturesIn(url));
    return url;
  }

  public reset(): void {
    this.requests.length = 0;
    this.statuses = [];
  }

  public async stop(): Promise<void> {
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}

const SIGNED_PATH = '/cloudformation-custom-resource-response-useast1/'
  + 'arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack%2FMyStack%2F0a1b2c3d%7CWaiter%7Cd6e1b2a4-0000-4000-8000-000000000001'
  + '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=7199'
  + '&X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request'
  + '&X-Amz-Signature=5f1c0e7b9d2a4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e';

function signaturesIn(url: string): string[] {
  return [...url.matchAll(/X-Amz-Signature=([^&]+)/g)].map((m) => m[1]);
}

// ---------------------------------------------------------------------------------------------
// Shared fixtures: servers, environment and a capture of everything the handler logs.

let receiver: CloudFormationReceiver;
let sfn: LocalStepFunctions;
let raw: RawRecorder;
/** Every ResponseURL and signature used outside the receiver (which keeps its own list). */
const secrets: string[] = [];
const logLines: string[] = [];
const savedEnv: Record<string, string | undefined> = {};
const originalConsole = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };

function setEnv(name: string, value: string | undefined): void {
  if (!(name in savedEnv)) savedEnv[name] = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

beforeAll(async () => {
  receiver = await CloudFormationReceiver.start();
  sfn = await LocalStepFunctions.start();
  raw = await RawRecorder.start();
  setEnv('AWS_ENDPOINT_URL_SFN', sfn.endpoint);
  setEnv('AWS_REGION', 'us-east-1');
  setEnv('AWS_ACCESS_KEY_ID', 'AKIDLOCALTEST');
  setEnv('AWS_SECRET_ACCESS_KEY', 'local-test-secret');
  setEnv('AWS_SESSION_TOKEN', undefined);
  setEnv('AWS_PROFILE', undefined);
  setEnv('WAIT_LOOP_STATE_MACHINE_ARN', STATE_MACHINE_ARN);
  const capture = (...args: unknown[]) => {
    logLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
  Object.assign(console, { log: capture, info: capture, warn: capture, error: capture, debug: capture });
});

afterAll(async () => {
  Object.assign(console, originalConsole);
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await Promise.all([receiver?.stop(), sfn?.stop(), raw?.stop()]);
});

beforeEach(() => {
  sfn.reset();
  raw.reset();
});

/** Lines that contain a ResponseURL or one of its signatures. */
function leakingLines(): string[] {
  const all = [...secrets, ...receiver.secrets].filter((s) => s.length > 0);
  return logLines.filter((line) => all.some((secret) => line.includes(secret)));
}

afterEach(() => {
  // Checked after every test, so a leak is reported against the test that caused it.
  expect(leakingLines()).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Helpers

function createEvent(properties: Json = VALID, requestId?: string): CustomResourceEvent {
  return receiver.event('Create', properties, { resourceType: 'Custom::NeptuneGraphExportTaskWaiter', requestId });
}

/** The single accepted answer for an event, with no contract violations. */
function answerOf(event: CustomResourceEvent): Json {
  const answers = receiver.answers(event.RequestId);
  expect(answers).toHaveLength(1);
  expect(receiver.attempts(event.RequestId).flatMap((a) => a.violations)).toEqual([]);
  return answers[0].body as Json;
}

function loopPayload(event: CustomResourceEvent, answer: Json, extra: Json = {}): Json {
  return {
    neptuneGraphExportWaiterAnswer: {
      answer,
      taskId: TASK_ID,
      timeoutSeconds: 1800,
      cloudFormation: {
        ResponseURL: event.ResponseURL,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: event.LogicalResourceId,
        PhysicalResourceId: TASK_ID,
        FailedPhysicalResourceId: TASK_ID,
        ...extra,
      },
    },
  };
}

const SUCCEEDED_TASK = {
  TaskId: TASK_ID,
  GraphId: 'g-0123456789',
  Status: 'SUCCEEDED',
  Format: 'PARQUET',
  ParquetType: 'COLUMNAR',
  Destination: 's3://my-bucket/exports/',
  KmsKeyIdentifier: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
  RoleArn: 'arn:aws:iam::123456789012:role/NeptuneExport',
  ExportTaskDetails: {
    StartTime: 1735689600,
    TimeElapsedSeconds: 754,
    ProgressPercentage: 100,
    NumVerticesWritten: 1200000,
    NumEdgesWritten: 5400000,
  },
};

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((done) => setTimeout(done, 20));
  }
}

// ---------------------------------------------------------------------------------------------

describe('Delete', () => {
  test('answers SUCCESS with the event\'s PhysicalResourceId and makes no call', async () => {
    const event = receiver.event('Delete', VALID, { physicalResourceId: TASK_ID });
    await handler(event, CONTEXT);

    expect(answerOf(event)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
    expect(sfn.calls).toEqual([]);
  });

  test('answers SUCCESS when the event has no PhysicalResourceId', async () => {
    const event = receiver.event('Delete', VALID, { physicalResourceId: TASK_ID });
    delete event.PhysicalResourceId;
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).toEqual(expect.any(String));
    expect(sfn.calls).toEqual([]);
  });

  test('answers SUCCESS even when the properties are invalid', async () => {
    const event = receiver.event('Delete', { TaskIdentifier: 'T-BAD', TimeoutSeconds: 'abc' }, { physicalResourceId: 'whatever' });
    await handler(event, CONTEXT);

    expect(answerOf(event)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'whatever' });
  });
});

describe('invalid requests', () => {
  test('fails when RequestType is unknown, naming it', async () => {
    const event = { ...createEvent(), RequestType: 'Upsert' };
    await handler(event, CONTEXT);

    const answer = answerOf(event as CustomResourceEvent);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('Unknown RequestType "Upsert"');
    expect(sfn.calls).toEqual([]);
  });

  test.each([
    ['missing', undefined, 'got undefined'],
    ['a string', 'x', 'got "x"'],
    ['an array', [], 'got []'],
    ['null', null, 'got null'],
  ])('fails when ResourceProperties is %s', async (_name, properties, shown) => {
    const event: Json = createEvent();
    event.ResourceProperties = properties;
    await handler(event, CONTEXT);

    const answer = answerOf(event as CustomResourceEvent);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('ResourceProperties');
    expect(answer.Reason).toContain(shown);
    expect(sfn.calls).toEqual([]);
  });

  test.each([
    ['T-BAD', '"T-BAD"'],
    ['t-123', '"t-123"'],
    ['', '""'],
    [42, '42'],
    [undefined, 'undefined'],
  ])('fails when TaskIdentifier is %j', async (taskIdentifier, shown) => {
    const event = createEvent({ ...VALID, TaskIdentifier: taskIdentifier });
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(new RegExp(`^TaskIdentifier .*got ${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(sfn.calls).toEqual([]);
  });

  test.each([
    ['99999', '"99999"'],
    ['abc', '"abc"'],
    [59, '59'],
    ['59', '"59"'],
    ['1800.5', '"1800.5"'],
    [-1, '-1'],
  ])('fails when TimeoutSeconds is %j', async (timeoutSeconds, shown) => {
    const event = createEvent({ ...VALID, TimeoutSeconds: timeoutSeconds });
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain(`TimeoutSeconds must be a whole number of seconds from 60 to 3300, got ${shown}`);
    expect(sfn.calls).toEqual([]);
  });

  test.each([
    ['MinPollIntervalSeconds', '0'],
    ['MaxPollIntervalSeconds', '7200'],
  ])('fails when %s is out of range', async (property, value) => {
    const event = createEvent({ ...VALID, [property]: value });
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain(`${property} must be a whole number of seconds from 1 to 3600, got "${value}"`);
    expect(sfn.calls).toEqual([]);
  });

  test('fails when MinPollIntervalSeconds exceeds MaxPollIntervalSeconds', async () => {
    const event = createEvent({ ...VALID, MinPollIntervalSeconds: '120', MaxPollIntervalSeconds: '60' });
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe('MinPollIntervalSeconds (120 s) must not exceed MaxPollIntervalSeconds (60 s)');
    expect(sfn.calls).toEqual([]);
  });

  test('fails a Create with a physical id that the Delete after it treats as nothing to clean up', async () => {
    const event = createEvent({ ...VALID, TaskIdentifier: 'T-BAD' });
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.PhysicalResourceId).not.toBe('T-BAD');
    expect(answer.PhysicalResourceId.length).toBeGreaterThan(0);
  });

  test('fails an Update with invalid properties and keeps the old physical id', async () => {
    const event = receiver.event('Update', { ...VALID, TimeoutSeconds: '99999' }, { physicalResourceId: 't-oldoldold1', oldProperties: VALID });
    await handler(event, CONTEXT);

    expect(answerOf(event)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 't-oldoldold1' });
  });

  test('fails when the function has no WAIT_LOOP_STATE_MACHINE_ARN', async () => {
    setEnv('WAIT_LOOP_STATE_MACHINE_ARN', undefined);
    try {
      const event = createEvent();
      await handler(event, CONTEXT);

      const answer = answerOf(event);
      expect(answer.Status).toBe('FAILED');
      expect(answer.Reason).toContain('WAIT_LOOP_STATE_MACHINE_ARN');
      expect(sfn.calls).toEqual([]);
    } finally {
      setEnv('WAIT_LOOP_STATE_MACHINE_ARN', STATE_MACHINE_ARN);
    }
  });
});

describe('Create and Update', () => {
  test('Create starts exactly one execution of the wait loop and does not answer yet', async () => {
    const event = createEvent();
    await handler(event, CONTEXT);

    expect(sfn.calls).toHaveLength(1);
    expect(sfn.calls[0].target).toBe('AWSStepFunctions.StartExecution');
    expect(sfn.calls[0].stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(receiver.attempts(event.RequestId)).toEqual([]);
  });

  test('the execution input carries the task id, timeout, an ISO deadline, the policy and the CloudFormation fields', async () => {
    const event = createEvent({ ...VALID, TimeoutSeconds: '600', MinPollIntervalSeconds: '10', MaxPollIntervalSeconds: '120' });
    const before = Date.now();
    await handler(event, CONTEXT);

    const input = sfn.calls[0].input;
    expect(input.taskIdentifier).toBe(TASK_ID);
    expect(input.timeoutSeconds).toBe(600);
    expect(input.deadline).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const deadline = Date.parse(input.deadline);
    expect(deadline).toBeGreaterThanOrEqual(before + 600_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(input.policy).toMatchObject({ minIntervalSeconds: 10, fallbackIntervalSeconds: 40, taskDefaults: { Status: 'MISSING' } });
    expect(Math.max(...input.policy.waitSeconds)).toBe(120);
    expect(Math.min(...input.policy.waitSeconds)).toBe(10);
    expect(input.cloudFormation).toEqual({
      ResponseURL: event.ResponseURL,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      // A failed Create reports the task the loop waited for; only an Update keeps an old id.
      FailedPhysicalResourceId: null,
    });
    // A waiter starts no export and, within 55 minutes, needs no WaitCondition.
    expect(input).toMatchObject({ startExportTask: null, longWait: false, signal: null });
  });

  test('properties left out get the defaults: 30 minutes, 5 s and 15 minutes', async () => {
    await handler(createEvent({ TaskIdentifier: TASK_ID }), CONTEXT);

    const input = sfn.calls[0].input;
    expect(input.timeoutSeconds).toBe(1800);
    expect(input.policy.minIntervalSeconds).toBe(5);
    expect(Math.max(...input.policy.waitSeconds)).toBe(900);
  });

  test('the same request gets the same execution name, another request another one', async () => {
    const event = createEvent();
    await handler(event, CONTEXT);
    await handler(event, CONTEXT);
    await handler(createEvent(), CONTEXT);

    const names = sfn.calls.map((c) => c.name);
    expect(names).toHaveLength(3);
    expect(names[1]).toBe(names[0]);
    expect(names[2]).not.toBe(names[0]);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  test('an Update that fails later keeps the old physical id', async () => {
    const event = receiver.event('Update', { ...VALID, TaskIdentifier: 't-newnewnew1' }, { physicalResourceId: TASK_ID, oldProperties: VALID });
    await handler(event, CONTEXT);

    expect(sfn.calls[0].input.taskIdentifier).toBe('t-newnewnew1');
    expect(sfn.calls[0].input.cloudFormation).toMatchObject({ FailedPhysicalResourceId: TASK_ID });
  });

  test('ExecutionAlreadyExists means a redelivery: no answer and no throw', async () => {
    const event = createEvent();
    await handler(event, CONTEXT);
    // The redelivered request has another deadline, so Step Functions refuses the name.
    await expect(handler(event, CONTEXT)).resolves.toBeUndefined();

    expect(sfn.calls).toHaveLength(2);
    expect(receiver.attempts(event.RequestId)).toEqual([]);
  });

  test('fails with the error\'s message when StartExecution fails otherwise', async () => {
    sfn.failure = { status: 400, type: 'AccessDeniedException', message: 'User is not authorized to perform: states:StartExecution' };
    const event = createEvent();
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('AccessDeniedException');
    expect(answer.Reason).toContain('User is not authorized to perform: states:StartExecution');
  });

  test('fails with the URLs removed when a StartExecution error quotes one', async () => {
    const url = raw.url();
    sfn.failure = { status: 400, type: 'InvalidExecutionInput', message: `Input mentions ${url}` };
    const event = createEvent();
    await handler(event, CONTEXT);

    const answer = answerOf(event);
    expect(answer.Reason).toContain('InvalidExecutionInput');
    expect(answer.Reason).not.toContain(url);
    expect(answer.Reason).not.toContain(signaturesIn(url)[0]);
  });

  test('answers FAILED before Lambda ends the invocation when StartExecution hangs', async () => {
    sfn.hang = true;
    const event = createEvent();
    await handler(event, { getRemainingTimeInMillis: () => 4_300 });

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('ran out of time');
    // The late failure of the call must not answer a second time.
    sfn.release({ status: 400, type: 'AccessDeniedException', message: 'late' });
    await waitFor(() => logLines.some((line) => line.includes('"message":"Request failed"') && line.includes(event.RequestId)));
    expect(receiver.attempts(event.RequestId)).toHaveLength(1);
  });
});

describe('events nobody can be answered', () => {
  test('an event without a ResponseURL is logged and ignored', async () => {
    const event: Json = createEvent();
    delete event.ResponseURL;
    await expect(handler(event, CONTEXT)).resolves.toBeUndefined();

    expect(sfn.calls).toEqual([]);
    expect(receiver.attempts(event.RequestId)).toEqual([]);
  });

  test.each([
    ['null', null],
    ['a string', 'x'],
    ['an array', []],
    ['a number', 42],
    ['undefined', undefined],
    ['an empty object', {}],
  ])('%s as the event does not throw', async (_name, event) => {
    await expect(handler(event, CONTEXT)).resolves.toBeUndefined();
    expect(sfn.calls).toEqual([]);
  });
});

describe('the handler never throws on a CloudFormation event', () => {
  test.each(['ResourceProperties', 'RequestType'])('a %s getter that throws still gets a FAILED answer', async (property) => {
    const event = createEvent();
    Object.defineProperty(event, property, {
      get() {
        throw new Error('unreadable');
      },
    });
    await expect(handler(event, CONTEXT)).resolves.toBeUndefined();

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('unreadable');
    expect(sfn.calls).toEqual([]);
  });

  test.each(['RequestId', 'StackId', 'PhysicalResourceId', 'ResponseURL', 'neptuneGraphExportWaiterAnswer'])(
    'a %s getter that throws does not make the handler throw',
    async (property) => {
      const event = createEvent();
      Object.defineProperty(event, property, {
        get() {
          throw new Error('unreadable');
        },
      });
      await expect(handler(event, CONTEXT)).resolves.toBeUndefined();
    },
  );

  test.each(['not a url', 'ftp://example.com/answer', 'http://', '/relative/path?X-Amz-Signature=abc'])(
    'a ResponseURL %j that is not a usable URL does not make the handler throw',
    async (responseUrl) => {
      secrets.push(responseUrl);
      const event = { ...receiver.event('Delete', VALID, { physicalResourceId: TASK_ID }), ResponseURL: responseUrl };
      await expect(handler(event, CONTEXT)).resolves.toBeUndefined();
    },
  );

  test('a ResponseURL that refuses every answer does not make the handler throw', async () => {
    raw.statuses = [500, 500, 500];
    const event = { ...receiver.event('Delete', VALID, { physicalResourceId: TASK_ID }), ResponseURL: raw.url() };
    await expect(handler(event, CONTEXT)).resolves.toBeUndefined();
    expect(raw.requests).toHaveLength(3);
  });
});

describe('answers from the wait loop', () => {
  test('SUCCEEDED answers SUCCESS with the 12 attributes as strings', async () => {
    const event = createEvent();
    await handler(loopPayload(event, { outcome: 'TASK_ENDED', task: SUCCEEDED_TASK }));

    const answer = answerOf(event);
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
  });

  test('SUCCEEDED without optional fields answers every attribute, empty or zero', async () => {
    const event = createEvent();
    const task = { TaskId: TASK_ID, GraphId: 'g-0123456789', Status: 'SUCCEEDED', Format: 'CSV', Destination: 's3://b/', KmsKeyIdentifier: 'k', RoleArn: 'r' };
    await handler(loopPayload(event, { outcome: 'TASK_ENDED', task }));

    const data = answerOf(event).Data;
    expect(Object.keys(data).sort()).toEqual([...ATTRIBUTE_NAMES].sort());
    expect(data).toMatchObject({ ParquetType: '', NumVerticesWritten: '0', NumEdgesWritten: '0', TimeElapsedSeconds: '0', StartTime: '' });
    for (const value of Object.values(data)) expect(typeof value).toBe('string');
  });

  test('SUCCEEDED reads camelCase task fields too', async () => {
    const event = createEvent();
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
    await handler(loopPayload(event, { outcome: 'TASK_ENDED', task }));

    expect(answerOf(event)).toMatchObject({
      Status: 'SUCCESS',
      Data: {
        TaskId: TASK_ID,
        Status: 'SUCCEEDED',
        ParquetType: 'COLUMNAR',
        NumVerticesWritten: '3',
        NumEdgesWritten: '4',
        TimeElapsedSeconds: '12',
        StartTime: '2025-01-01T00:00:00.000Z',
      },
    });
  });

  test.each(['FAILED', 'CANCELLED', 'DELETED'])('%s answers FAILED with the task id, status and status reason', async (status) => {
    const event = createEvent();
    const task = { TaskId: TASK_ID, Status: status, StatusReason: 'The role cannot write to the bucket' };
    await handler(loopPayload(event, { outcome: 'TASK_ENDED', task }, { FailedPhysicalResourceId: 'failed-id' }));

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.PhysicalResourceId).toBe('failed-id');
    expect(answer.Reason).toContain(TASK_ID);
    expect(answer.Reason).toContain(status);
    expect(answer.Reason).toContain('The role cannot write to the bucket');
    expect(answer.Data).toBeUndefined();
  });

  test('a failed task without a status reason says the service gave none', async () => {
    const event = createEvent();
    await handler(loopPayload(event, { outcome: 'TASK_ENDED', task: { Status: 'FAILED' } }));

    expect(answerOf(event).Reason).toBe(`Export task ${TASK_ID} ended with status FAILED: the service gave no reason`);
  });

  test('TIMED_OUT answers FAILED: did not finish within 30 minutes', async () => {
    const event = createEvent();
    const task = { Status: 'EXPORTING', ExportTaskDetails: { ProgressPercentage: 42, TimeElapsedSeconds: 1790 } };
    await handler(loopPayload(event, { outcome: 'TIMED_OUT', task, error: {} }));

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain(`Export task ${TASK_ID} did not finish within 30 minutes`);
    expect(answer.Reason).toContain('EXPORTING, 42%');
  });

  test('CALL_FAILED answers FAILED with the error name and cause', async () => {
    const event = createEvent();
    const error = { Error: 'NeptuneGraph.ResourceNotFoundException', Cause: 'Export task t-0123456789 not found' };
    await handler(loopPayload(event, { outcome: 'CALL_FAILED', error }));

    const answer = answerOf(event);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('NeptuneGraph.ResourceNotFoundException');
    expect(answer.Reason).toContain('Export task t-0123456789 not found');
  });

  test('a task without a status answers FAILED', async () => {
    const event = createEvent();
    await handler(loopPayload(event, { outcome: 'TASK_ENDED', task: { Status: 'MISSING' } }));

    expect(answerOf(event)).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('no status') });
  });

  test('an unknown outcome answers FAILED', async () => {
    const event = createEvent();
    await handler(loopPayload(event, { outcome: 'SOMETHING_ELSE' }));

    expect(answerOf(event)).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('"SOMETHING_ELSE"') });
  });

  test('an answer without a ResponseURL is logged and ignored', async () => {
    await expect(handler({ neptuneGraphExportWaiterAnswer: { answer: { outcome: 'TIMED_OUT' }, cloudFormation: {} } })).resolves.toBeUndefined();
  });

  test('fails with AnswerNotDelivered, without the URL, when the ResponseURL answers 500 three times', async () => {
    raw.statuses = [500, 500, 500];
    const url = raw.url();
    const event = createEvent();
    const error = await handler(loopPayload(event, { outcome: 'TASK_ENDED', task: SUCCEEDED_TASK }, { ResponseURL: url })).then(
      () => undefined,
      (e: Error) => e,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error!.name).toBe('AnswerNotDelivered');
    expect(error!.message).toContain('HTTP 500');
    expect(error!.message).not.toContain(url);
    expect(error!.message).not.toContain('127.0.0.1');
    expect(error!.message).not.toContain(signaturesIn(url)[0]);
    expect(raw.requests).toHaveLength(3);
  });

  test('delivers on the third attempt after two 500s', async () => {
    raw.statuses = [500, 503];
    await handler(loopPayload(createEvent(), { outcome: 'TASK_ENDED', task: SUCCEEDED_TASK }, { ResponseURL: raw.url() }));

    expect(raw.requests).toHaveLength(3);
  });

  test('does not retry a 403', async () => {
    raw.statuses = [403];
    const promise = handler(loopPayload(createEvent(), { outcome: 'TASK_ENDED', task: SUCCEEDED_TASK }, { ResponseURL: raw.url() }));

    await expect(promise).rejects.toMatchObject({ name: 'AnswerNotDelivered' });
    expect(raw.requests).toHaveLength(1);
  });
});

describe('serializeAnswer', () => {
  const base: CloudFormationAnswer = {
    Status: 'FAILED',
    PhysicalResourceId: TASK_ID,
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/0a1b2c3d-0000-4000-8000-000000000000',
    RequestId: 'd6e1b2a4-0000-4000-8000-000000000001',
    LogicalResourceId: 'Waiter',
  };
  const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
  const data = (count: number, size: number) => Object.fromEntries(ATTRIBUTE_NAMES.slice(0, count).map((name) => [name, 'v'.repeat(size)]));

  function expectValid(body: string): Json {
    expect(bytes(body)).toBeLessThanOrEqual(MAX_ANSWER_BYTES);
    const parsed = JSON.parse(body);
    expect(parsed).toMatchObject({
      Status: base.Status,
      PhysicalResourceId: base.PhysicalResourceId,
      StackId: base.StackId,
      RequestId: base.RequestId,
      LogicalResourceId: base.LogicalResourceId,
    });
    return parsed;
  }

  test('leaves an answer that fits unchanged', () => {
    const answer = { ...base, Reason: 'short', Data: data(12, 20) };
    expect(JSON.parse(serializeAnswer(answer))).toEqual(answer);
  });

  test('shortens a 10 kB Reason to fit in 4096 bytes', () => {
    const parsed = expectValid(serializeAnswer({ ...base, Reason: 'r'.repeat(10_240) }));
    expect(parsed.Reason).toMatch(/^r+\.\.\.$/);
    expect(bytes(parsed.Reason)).toBeGreaterThan(3000);
  });

  test('shortens the Reason before the attributes', () => {
    const parsed = expectValid(serializeAnswer({ ...base, Reason: 'r'.repeat(10_240), Data: data(1, 3072) }));
    expect(parsed.Data.TaskId).toBe('v'.repeat(3072));
    expect(parsed.Reason).toMatch(/^r+\.\.\.$/);
  });

  test('shortens 3 kB attribute values once the Reason is short, and keeps every key', () => {
    const parsed = expectValid(serializeAnswer({ ...base, Reason: 'r'.repeat(10_240), Data: data(12, 3072) }));
    expect(Object.keys(parsed.Data).sort()).toEqual([...ATTRIBUTE_NAMES].sort());
    expect(bytes(parsed.Reason)).toBeLessThanOrEqual(64);
    for (const value of Object.values(parsed.Data)) expect(typeof value).toBe('string');
  });

  test('fits a Reason of multi-byte characters and characters JSON escapes', () => {
    expectValid(serializeAnswer({ ...base, Reason: '€😀"\\\n'.repeat(3000) }));
  });

  test('shortens a PhysicalResourceId to at most 1024 bytes', () => {
    const body = serializeAnswer({ ...base, Status: 'SUCCESS', PhysicalResourceId: 'p'.repeat(2000) });
    expect(bytes(JSON.parse(body).PhysicalResourceId)).toBeLessThanOrEqual(1024);
    expect(bytes(body)).toBeLessThanOrEqual(MAX_ANSWER_BYTES);
  });

  test('never sends an empty PhysicalResourceId', () => {
    expect(JSON.parse(serializeAnswer({ ...base, PhysicalResourceId: '' })).PhysicalResourceId).not.toBe('');
  });
});

describe('putAnswer', () => {
  test('keeps the path and query byte for byte', async () => {
    const url = raw.url();
    await putAnswer(url, '{}', 2000);

    expect(raw.requests).toHaveLength(1);
    expect(raw.requests[0].url).toBe(SIGNED_PATH);
    expect(raw.requests[0].url).toContain('%3A');
    expect(raw.requests[0].url).toContain('%2F');
    expect(raw.requests[0].url).toContain('%7C');
  });

  test('sends a PUT with Content-Length, an empty Content-Type and no chunked encoding', async () => {
    const body = JSON.stringify({ Status: 'SUCCESS', Reason: 'ünïcödé' });
    await putAnswer(raw.url(), body, 2000);

    const [request] = raw.requests;
    expect(request.method).toBe('PUT');
    expect(request.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect([undefined, '']).toContain(request.headers['content-type']);
    expect(request.headers['transfer-encoding']).toBeUndefined();
    expect(request.body).toBe(body);
  });

  test('honours an http:// URL with a custom port', async () => {
    // A signature of realistic length: a short one would turn up inside unrelated ids in the log check.
    const url = raw.url('/answer?X-Amz-Signature=5b1d6c0e9a4f2873e6d0c1b2a39f8e7d6c5b4a3928170f6e5d4c3b2a19081726');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    await putAnswer(url, '{}', 2000);

    expect(raw.requests.map((r) => r.url)).toEqual(['/answer?X-Amz-Signature=5b1d6c0e9a4f2873e6d0c1b2a39f8e7d6c5b4a3928170f6e5d4c3b2a19081726']);
  });

  test('refuses a URL that is not http(s), without retrying and without quoting it', async () => {
    const promise = putAnswer('ftp://example.com/x?X-Amz-Signature=abc', '{}', 2000);

    await expect(promise).rejects.toBeInstanceOf(AnswerRefused);
    await expect(promise).rejects.toMatchObject({ retryable: false });
    await expect(promise).rejects.toThrow(/^(?!.*example\.com)(?!.*abc)/);
  });

  test('reports a 5xx as retryable and a 403 as not, without the URL', async () => {
    raw.statuses = [502, 403];
    const url = raw.url();
    const first = await putAnswer(url, '{}', 2000).catch((e: AnswerRefused) => e);
    const second = await putAnswer(url, '{}', 2000).catch((e: AnswerRefused) => e);

    expect(first).toMatchObject({ name: 'AnswerRefused', retryable: true, message: expect.stringContaining('HTTP 502') });
    expect(second).toMatchObject({ name: 'AnswerRefused', retryable: false, message: expect.stringContaining('HTTP 403') });
    for (const error of [first, second]) expect((error as Error).message).not.toContain('127.0.0.1');
  });
});

describe('redact', () => {
  test('replaces URLs', () => {
    const url = raw.url();
    expect(redact(`PUT ${url} failed`)).toBe('PUT <url> failed');
  });

  test('removes X-Amz-* values outside a URL', () => {
    const text = 'query X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2Fx&X-Amz-Security-Token=IQoJb3JpZ2lu';
    const redacted = redact(text);
    expect(redacted).not.toMatch(/deadbeef|AKIA|IQoJb3JpZ2lu/);
    expect(redacted).toContain('X-Amz-Signature=<redacted>');
  });

  test('leaves text without URLs alone', () => {
    expect(redact('Export task t-0123456789 ended with status FAILED')).toBe('Export task t-0123456789 ended with status FAILED');
  });
});

describe('logs', () => {
  test('the handler logged, and no line contains a ResponseURL or its signature', () => {
    // Runs last: by now every test above has invoked the handler with ResponseURLs.
    expect(logLines.length).toBeGreaterThan(20);
    expect(receiver.secrets.length).toBeGreaterThan(10);
    expect(leakingLines()).toEqual([]);
  });
});
