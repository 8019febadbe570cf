/**
 * What the unit tests of the handler's modules run against. The handler's own AWS SDK v3 clients
 * speak HTTP to local stand-ins, found through the endpoint environment variables the SDK honours:
 * one Step Functions endpoint (harness/step-functions-endpoint.ts on an execution table kept
 * here), the harness's Parameter Store and Neptune Analytics emulators, and the CloudFormation
 * stand-in (harness/cloudformation.ts) that receives and checks every answer.
 *
 * `useHandlerEnvironment()` starts them for one test file and checks after every test that no
 * ResponseURL, WaitCondition handle URL or signature shows up in a log line, in anything sent to
 * Step Functions, or in a parameter other than the request's own.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { CloudFormationReceiver, CustomResourceEvent, EventOptions, RequestType } from '../../harness/cloudformation';
import { EmulatedTask, NeptuneGraphEmulator, TaskScript } from '../../harness/neptune-emulator';
import { SsmParameterStoreEmulator } from '../../harness/ssm-emulator';
import { captureStdoutLines, StdoutCapture } from '../../harness/stdout-lines';
import { ApiError, ExecutionStatus, serveStepFunctionsRequest, StepFunctionsApi } from '../../harness/step-functions-endpoint';
import { handler } from '../../lambda/export-waiter.lambda';
import { executionBaseName, resourceKey, resultsKey } from '../../lambda/physical-id';
import {
  ANSWER_MARKER, Env, ExportFields, GRAPH_EXPORT_RESOURCE_TYPE, Outcome, ParameterPaths, ResourceProperties, WAITER_RESOURCE_TYPE,
} from '../../src/runtime/constants';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:TestStack-NeptuneGraphExportWaiter-12345678';
export const PARAMETER_PREFIX = '/cdk-neptune-graph-export/TestStack-Waiter';
export const CONTEXT = { getRemainingTimeInMillis: () => 60_000 };

export const TASK_ID = 't-0123456789';
export const OTHER_TASK_ID = 't-abcdefghij';
export const THIRD_TASK_ID = 't-3333333333';
export const WAITER_PROPERTIES = {
  [ResourceProperties.TASK_IDENTIFIER]: TASK_ID,
  [ResourceProperties.TIMEOUT_SECONDS]: '1800',
  [ResourceProperties.MIN_POLL_SECONDS]: '5',
  [ResourceProperties.MAX_POLL_SECONDS]: '900',
};

/** A GraphExport's StartExportTask request, as the construct sends it (PascalCase). */
export function exportRequest(overrides: Json = {}): Json {
  return {
    [ExportFields.GRAPH_IDENTIFIER]: 'g-0123456789',
    [ExportFields.ROLE_ARN]: 'arn:aws:iam::123456789012:role/NeptuneExportRole',
    [ExportFields.KMS_KEY_IDENTIFIER]: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000',
    [ExportFields.DESTINATION]: 's3://emulated-export-bucket/neptune-exports/',
    [ExportFields.FORMAT]: 'PARQUET',
    ...overrides,
  };
}

export function graphExportProperties(request: Json = exportRequest(), extra: Json = {}): Json {
  return { [ResourceProperties.EXPORT]: request, [ResourceProperties.TIMEOUT_SECONDS]: '1800', ...extra };
}

export const SUCCEEDED_TASK = {
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

// ---------------------------------------------------------------------------------------------
// Step Functions: an execution table behind the harness's wire endpoint, with scripted faults.

export interface LocalExecution {
  executionArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startedAt: number;
  endedAt?: number;
  stopped?: { error?: string; cause?: string };
}

/**
 * - `error`: answer with this status and error type, without touching the executions;
 * - `dropBefore`: close the connection without reading the call (nothing happened);
 * - `dropAfter`: carry out the call, then close the connection without a reply (it happened, the
 *   caller cannot know);
 * - `hold`: keep the call unanswered (and not carried out) until `release()`.
 */
export interface SfnFailure {
  status: number;
  type: string;
  message: string;
}

export type SfnFault = { operation?: string; times?: number } & (
  | ({ kind: 'error' } & SfnFailure)
  | { kind: 'dropBefore' | 'dropAfter' | 'hold' }
);

export interface SfnCall {
  operation: string;
  body: Json;
  /** The request body as sent, for leak checks. */
  raw: string;
}

type StartExecutionRequest = Parameters<StepFunctionsApi['startExecution']>[0];

export class LocalStepFunctions implements StepFunctionsApi {
  public static async start(): Promise<LocalStepFunctions> {
    const sfn = new LocalStepFunctions();
    await new Promise<void>((done) => sfn.server.listen(0, '127.0.0.1', () => done()));
    return sfn;
  }

  public readonly stateMachineArn = STATE_MACHINE_ARN;
  public readonly executions: LocalExecution[] = [];
  public readonly calls: SfnCall[] = [];
  private readonly faults: Array<{ fault: SfnFault; remaining: number }> = [];
  private readonly held: Array<{ serve(): void; refuse(failure: SfnFailure): void }> = [];
  private readonly server = http.createServer((req, res) => this.onRequest(req, res));

  public get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  public startExecution(request: StartExecutionRequest): { executionArn: string; startDate: number } | ApiError {
    if (request.stateMachineArn !== this.stateMachineArn) {
      return { error: 'StateMachineDoesNotExist', message: `State Machine Does Not Exist: '${request.stateMachineArn}'` };
    }
    const name = request.name ?? '';
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) return { error: 'InvalidName', message: `Invalid Name: '${name}'` };
    const input = request.input ?? '{}';
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.find((e) => e.name === name);
    if (existing) {
      // Step Functions: the same name and input while it runs returns that execution; anything else is refused.
      if (existing.input === input && existing.status === 'RUNNING') return { executionArn, startDate: existing.startedAt };
      return { error: 'ExecutionAlreadyExists', message: `Execution Already Exists: '${executionArn}'` };
    }
    const startedAt = Date.now() / 1000;
    this.executions.push({ executionArn, name, input, status: 'RUNNING', startedAt });
    return { executionArn, startDate: startedAt };
  }

  public stopExecution(executionArn: string, error?: string, cause?: string): { stopDate: number } | ApiError {
    const execution = this.executions.find((e) => e.executionArn === executionArn);
    if (!execution) return { error: 'ExecutionDoesNotExist', message: `Execution Does Not Exist: '${executionArn}'` };
    if (execution.status === 'RUNNING') {
      execution.status = 'ABORTED';
      execution.endedAt = Date.now() / 1000;
      execution.stopped = { error, cause };
    }
    return { stopDate: execution.endedAt ?? Date.now() / 1000 };
  }

  /** Adds an execution as if something else had started it (another resource, a continuation). */
  public addRunning(name: string, input: Json = {}): LocalExecution {
    const outcome = this.startExecution({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) });
    if ('error' in outcome) throw new Error(outcome.message);
    return this.executions[this.executions.length - 1];
  }

  /** Ends an execution, as the wait loop does once it has answered. */
  public finish(name: string, status: ExecutionStatus = 'SUCCEEDED'): void {
    const execution = this.execution(name);
    execution.status = status;
    execution.endedAt = Date.now() / 1000;
  }

  public execution(name: string): LocalExecution {
    const execution = this.executions.find((e) => e.name === name);
    if (!execution) throw new Error(`no execution named ${name}; started: ${this.executions.map((e) => e.name).join(', ') || 'none'}`);
    return execution;
  }

  public callsOf(operation: string): SfnCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  public fault(fault: SfnFault): void {
    this.faults.push({ fault, remaining: fault.times ?? Infinity });
  }

  /** Carries out and answers the held calls, or refuses them with `failure`; returns how many there were. */
  public release(failure?: SfnFailure): number {
    const held = this.held.splice(0);
    for (const call of held) {
      if (failure) call.refuse(failure);
      else call.serve();
    }
    return held.length;
  }

  public reset(): void {
    this.executions.length = 0;
    this.calls.length = 0;
    this.faults.length = 0;
    this.held.length = 0;
  }

  public async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
      let body: Json = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // The endpoint answers SerializationException.
      }
      this.calls.push({ operation, body, raw });
      const serve = () => serveStepFunctionsRequest(this, replayed(req.headers, raw), res);
      const refuse = (failure: SfnFailure) => {
        res.writeHead(failure.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': failure.type });
        res.end(JSON.stringify({ __type: failure.type, message: failure.message }));
      };
      const armed = this.faults.find((f) => f.remaining > 0 && (f.fault.operation === undefined || f.fault.operation === operation));
      if (!armed) return serve();
      armed.remaining--;
      const fault = armed.fault;
      switch (fault.kind) {
        case 'error':
          return refuse(fault);
        case 'dropBefore':
          return req.socket.destroy();
        case 'dropAfter':
          if (operation === 'StartExecution') this.startExecution(body);
          if (operation === 'StopExecution') this.stopExecution(String(body.executionArn), body.error, body.cause);
          return req.socket.destroy();
        case 'hold':
          this.held.push({ serve, refuse });
          return undefined;
      }
    });
  }
}

/** A request whose body was read already, readable once more by the wire endpoint. */
function replayed(headers: http.IncomingHttpHeaders, raw: string): http.IncomingMessage {
  const stream = Readable.from([Buffer.from(raw, 'utf8')]) as Readable & { headers: http.IncomingHttpHeaders };
  stream.headers = headers;
  return stream as unknown as http.IncomingMessage;
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP recorder, for what the CloudFormation stand-in does not expose: the exact bytes of the
// request line and headers, and arbitrary status codes.

export interface RawRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export const SIGNED_PATH = '/cloudformation-custom-resource-response-useast1/'
  + 'arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack%2FMyStack%2F0a1b2c3d%7CWaiter%7Cd6e1b2a4-0000-4000-8000-000000000001'
  + '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=7199'
  + '&X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request'
  + '&X-Amz-Signature=5f1c0e7b9d2a4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e';

export function signaturesIn(url: string): string[] {
  return [...url.matchAll(/X-Amz-Signature=([^&]+)/g)].map((m) => m[1]);
}

export class RawRecorder {
  public static async start(secrets: string[]): Promise<RawRecorder> {
    const recorder = new RawRecorder(secrets);
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

  private constructor(private readonly secrets: string[]) {}

  /** A presigned-looking URL on this recorder, registered as a secret. */
  public url(pathAndQuery = SIGNED_PATH): string {
    const url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${pathAndQuery}`;
    this.secrets.push(url, ...signaturesIn(url));
    return url;
  }

  public reset(): void {
    this.requests.length = 0;
    this.statuses = [];
  }

  public async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}

// ---------------------------------------------------------------------------------------------
// The environment of one test file.

export interface HandlerEnvironment {
  receiver: CloudFormationReceiver;
  sfn: LocalStepFunctions;
  ssm: SsmParameterStoreEmulator;
  neptune: NeptuneGraphEmulator;
  raw: RawRecorder;
  /** Every line the handler logged, in order (through `console` or straight to stdout). */
  readonly logLines: string[];
  /** The lines the handler wrote straight to stdout (its metric records), also in `logLines`. */
  readonly stdoutLines: string[];
  /** URLs and signatures issued outside the receiver (which keeps its own list). */
  readonly secrets: string[];
  setEnv(name: string, value: string | undefined): void;
  /** An export task in the Neptune Analytics emulator, removed again before the next test. */
  addTask(script?: TaskScript): EmulatedTask;
  /** Lines that contain a ResponseURL, a handle URL or one of their signatures. */
  leakingLines(): string[];
}

/**
 * Starts the stand-ins before the file's tests, points the handler at them, and after every test
 * checks that no secret leaked (so a leak is reported against the test that caused it).
 */
export function useHandlerEnvironment(): HandlerEnvironment {
  const savedEnv: Record<string, string | undefined> = {};
  const originalConsole = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  const tasks: EmulatedTask[] = [];
  let stdout: StdoutCapture | undefined;
  const env = {
    logLines: [] as string[],
    stdoutLines: [] as string[],
    addTask(script: TaskScript = {}) {
      const task = env.neptune.addTask(script);
      tasks.push(task);
      return task;
    },
    secrets: [] as string[],
    setEnv(name: string, value: string | undefined) {
      if (!(name in savedEnv)) savedEnv[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    },
    allSecrets(): string[] {
      return [...env.secrets, ...env.receiver.secrets].filter((s) => s.length > 0);
    },
    leakingLines(): string[] {
      const all = env.allSecrets();
      return env.logLines.filter((line) => all.some((secret) => line.includes(secret)));
    },
  } as HandlerEnvironment & { allSecrets(): string[] };

  beforeAll(async () => {
    [env.receiver, env.sfn, env.ssm, env.neptune, env.raw] = await Promise.all([
      CloudFormationReceiver.start(), LocalStepFunctions.start(), SsmParameterStoreEmulator.start(), NeptuneGraphEmulator.start(),
      RawRecorder.start(env.secrets),
    ]);
    env.setEnv('AWS_ENDPOINT_URL_SFN', env.sfn.endpoint);
    env.setEnv('AWS_ENDPOINT_URL_SSM', env.ssm.endpoint);
    env.setEnv('AWS_ENDPOINT_URL_NEPTUNE_GRAPH', env.neptune.endpoint);
    env.setEnv('AWS_REGION', 'us-east-1');
    env.setEnv('AWS_ACCESS_KEY_ID', 'AKIDLOCALTEST');
    env.setEnv('AWS_SECRET_ACCESS_KEY', 'local-test-secret');
    env.setEnv('AWS_SESSION_TOKEN', undefined);
    env.setEnv('AWS_PROFILE', undefined);
    env.setEnv(Env.STATE_MACHINE_ARN, STATE_MACHINE_ARN);
    env.setEnv(Env.PARAMETER_PREFIX, PARAMETER_PREFIX);
    const capture = (...args: unknown[]) => {
      env.logLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    };
    Object.assign(console, { log: capture, info: capture, warn: capture, error: capture, debug: capture });
    stdout = captureStdoutLines((line) => {
      env.logLines.push(line);
      env.stdoutLines.push(line);
    });
  });

  afterAll(async () => {
    Object.assign(console, originalConsole);
    stdout?.restore();
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await Promise.all([env.receiver?.stop(), env.sfn?.stop(), env.ssm?.stop(), env.neptune?.stop(), env.raw?.stop()]);
  });

  let linesBefore = 0;
  beforeEach(() => {
    linesBefore = env.logLines.length;
    env.sfn.reset();
    env.raw.reset();
    env.ssm.clearFaults();
    env.ssm.parameters.clear();
    env.ssm.calls.length = 0;
    env.neptune.clearFaults();
    env.neptune.calls.length = 0;
    for (const task of tasks.splice(0)) task.remove();
    env.receiver.clearFaults();
  });

  afterEach(() => {
    // lambda/export-cancellation.ts loads the Neptune Analytics client with import(), which the
    // bundle turns into require(); ts-jest (module node16) keeps it, and jest's vm then needs
    // --experimental-vm-modules. Without either, every cancellation silently fails (and is only logged).
    const noDynamicImport = env.logLines.slice(linesBefore).some((line) => line.includes('ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG'));
    if (noDynamicImport) {
      throw new Error('The handler could not load @aws-sdk/client-neptune-graph under jest: run jest with NODE_OPTIONS=--experimental-vm-modules, '
        + 'or compile the tests with "module": "commonjs" (test/tsconfig.json), so that import() becomes require()');
    }
    const all = env.allSecrets();
    const leaked = (text: string) => all.filter((secret) => text.includes(secret));
    expect(env.leakingLines()).toEqual([]);
    expect(env.sfn.calls.filter((call) => leaked(call.raw).length > 0).map((call) => call.operation)).toEqual([]);
    const requests = `${PARAMETER_PREFIX}/${ParameterPaths.REQUESTS}/`;
    const elsewhere = [...env.ssm.parameters].filter(([name, p]) => !name.startsWith(requests) && leaked(p.value).length > 0);
    expect(elsewhere.map(([name]) => name)).toEqual([]);
  });

  return env;
}

// ---------------------------------------------------------------------------------------------
// Events, answers and the wait loop's side

export function waiterEvent(
  receiver: CloudFormationReceiver, type: RequestType, properties: Json = WAITER_PROPERTIES, options: EventOptions = {},
): CustomResourceEvent {
  return receiver.event(type, properties, { resourceType: WAITER_RESOURCE_TYPE, ...options });
}

export function graphExportEvent(
  receiver: CloudFormationReceiver, type: RequestType, properties: Json = graphExportProperties(), options: EventOptions = {},
): CustomResourceEvent {
  return receiver.event(type, properties, { resourceType: GRAPH_EXPORT_RESOURCE_TYPE, logicalResourceId: 'Export', ...options });
}

/** The name of the first execution for a request, as the handler derives it. */
export function executionNameOf(event: Pick<CustomResourceEvent, 'StackId' | 'LogicalResourceId' | 'RequestId'>): string {
  return executionBaseName(resourceKey(event.StackId, event.LogicalResourceId), event.RequestId);
}

/** Where the handler keeps a request's ResponseURL (and handle URL). */
export function requestParameterOf(event: Pick<CustomResourceEvent, 'StackId' | 'LogicalResourceId' | 'RequestId'>): string {
  return `${PARAMETER_PREFIX}/${ParameterPaths.REQUESTS}/${executionNameOf(event)}`;
}

/** Where the handler keeps the attributes of a successful answer for one identity of one resource. */
export function resultsParameterOf(event: Pick<CustomResourceEvent, 'StackId' | 'LogicalResourceId'>, identity: string): string {
  return `${PARAMETER_PREFIX}/${ParameterPaths.RESULTS}/${resultsKey(event.StackId, event.LogicalResourceId, identity)}`;
}

/** The single accepted answer for an event, with no contract violations. */
export function answerOf(receiver: CloudFormationReceiver, event: CustomResourceEvent): Json {
  const answers = receiver.answers(event.RequestId);
  expect(receiver.attempts(event.RequestId).flatMap((a) => a.violations)).toEqual([]);
  expect(answers).toHaveLength(1);
  return answers[0].body as Json;
}

/** What the loop sends the handler when the wait ended, for the execution started with this input. */
export function loopAnswer(input: Json, answer: Json, extra: Json = {}): Json {
  return {
    [ANSWER_MARKER]: {
      answer,
      taskId: input.taskIdentifier ?? TASK_ID,
      timeoutSeconds: input.timeoutSeconds,
      request: input.request,
      announced: false,
      ...extra,
    },
  };
}

export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** What the loop reports when the task it waited for succeeded. */
export const succeeded = (taskId: string) => ({ outcome: Outcome.TASK_ENDED, task: { ...SUCCEEDED_TASK, TaskId: taskId } });

/** Shorthands for driving the handler as CloudFormation does, bound to one test file's environment. */
export function handlerRequests(env: HandlerEnvironment) {
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

  return { createEvent, event, answerFor, startCalls, requestParameters, startedInput, finishWait };
}
