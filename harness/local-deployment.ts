/**
 * A whole deployment of the waiter on one machine: the state machine exactly as `cdk synth` emitted
 * it, run by aws-local-stepfunctions; the handler exactly as it ships (the esbuild bundle in
 * assets/); real AWS SDK v3 clients over HTTP to a Neptune Analytics emulator and to a small local
 * Step Functions endpoint; and a CloudFormation stand-in that checks every answer.
 *
 * Long-wait mode works too: Ref of a WaitConditionHandle (the `SignalURL` property) resolves to a
 * handle URL of the CloudFormation stand-in, which records and checks the signals, and the template's
 * Fn::Select/Fn::Split of the WaitCondition's Data can be evaluated against them. The other Refs and
 * Fn::GetAtts in a waiter's properties (a GraphExport's role, key, bucket, graph) resolve to plausible
 * physical values, or to the ones a test gives (`resourceValues`).
 *
 * Time is virtual. The emulator's clock moves only when the state machine waits (a Wait state or a
 * Retry pause, advanced by what the definition asks for) and `Date` is faked to follow it, so the
 * handler's deadline, the loop's `$$.State.EnteredTime` and the emulator agree, and a two-hour export
 * takes milliseconds.
 */
import './polyfills';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import {
  CancelExportTaskCommand,
  GetExportTaskCommand,
  ListExportTasksCommand,
  NeptuneGraphClient,
  StartExportTaskCommand,
} from '@aws-sdk/client-neptune-graph';
import { install } from '@sinonjs/fake-timers';
import { Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import { CloudFormationReceiver, CustomResourceEvent, RecordedAnswer, RecordedSignal, RequestType } from './cloudformation';
import { emptyObservations, ExecutionObservations, ExecutionObserver } from './execution-observer';
import { asInterpreterRuns, loadInterpreter } from './interpreter-fixes';
import { asyncRetryDelaySeconds, LambdaFaultRule, LambdaFaults, STEP_FUNCTIONS_LAMBDA_ERRORS } from './lambda-faults';
import { NeptuneGraphEmulator, VirtualClock } from './neptune-emulator';
import { SsmParameterStoreEmulator } from './ssm-emulator';
import { captureStdoutLines } from './stdout-lines';
import { ApiError, ExecutionStatus, serveStepFunctionsRequest, StepFunctionsApi } from './step-functions-endpoint';
import {
  asCloudFormationSends, evaluateSelectSplit, plausibleResourceValues, Pseudo, resolve, resolvePartially, ResourceValues, resourcesOfType, Template,
} from './template';
import { Env } from '../src/runtime/constants';

type InstalledClock = ReturnType<typeof install>;

/** The part of aws-local-stepfunctions the harness uses (the package is ESM-typed; this file is CommonJS). */
interface LocalStateMachine {
  run(input: unknown, options: unknown): { result: Promise<unknown>; eventLogs: AsyncGenerator<unknown>; abort(): void };
  /** Internal: runs the states; `run` calls it with the run's event logger, which the observer wraps. */
  execute(input: unknown, options: { eventLogger: Record<string, (...args: unknown[]) => void> }, cleanup: () => void): Promise<unknown>;
}
// States.JsonMerge fixed to be pure (see interpreter-fixes.ts).
type StateMachineConstructor = new (definition: unknown, options?: { validationOptions?: { noValidate?: boolean } }) => LocalStateMachine;
const { StateMachine } = loadInterpreter<{ StateMachine: StateMachineConstructor }>();

/** The handler as users deploy it: built by `npx projen bundle` (part of every build). */
/**
 * The Neptune Analytics client that stands for Step Functions' SDK integration: one attempt per call,
 * because Step Functions owns the retrying (the state's Retry) and the client must not multiply it.
 */
export function integrationClient(endpoint: string): NeptuneGraphClient {
  return new NeptuneGraphClient({
    endpoint,
    region: PSEUDO.region,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { requestTimeout: 2000, connectionTimeout: 1000, throwOnRequestTimeout: true },
  });
}

/** The SDK command behind an `arn:aws:states:::aws-sdk:neptunegraph:<action>` task. */
export function integrationCommand(action: string): new (input: never) => never {
  const commands: Record<string, new (input: never) => never> = {
    getExportTask: GetExportTaskCommand as never,
    startExportTask: StartExportTaskCommand as never,
    cancelExportTask: CancelExportTaskCommand as never,
    listExportTasks: ListExportTasksCommand as never,
  };
  const Command = commands[action];
  if (!Command) throw namedError('States.TaskFailed', `The local harness does not map neptunegraph:${action}`);
  return Command;
}

/** Seconds a Wait state pauses, as Step Functions reads Seconds, SecondsPath, Timestamp or TimestampPath. */
export function waitStateSeconds(state: Json, input: unknown, nowSeconds: number): number {
  if (typeof state.Seconds === 'number') return state.Seconds;
  if (typeof state.SecondsPath === 'string') return Number(readPath(input, state.SecondsPath));
  const timestamp = typeof state.Timestamp === 'string' ? state.Timestamp : String(readPath(input, String(state.TimestampPath)));
  return Math.max(0, new Date(timestamp).getTime() / 1000 - nowSeconds);
}

/** Seconds before a Retry's attempt: IntervalSeconds x BackoffRate^(attempt-1), capped, with FULL jitter. */
export function retryDelaySeconds(retrier: Json, attempt: number, random: () => number): number {
  const interval = Number(retrier.IntervalSeconds ?? 1);
  const backoff = Number(retrier.BackoffRate ?? 2);
  const maxDelay = retrier.MaxDelaySeconds === undefined ? Infinity : Number(retrier.MaxDelaySeconds);
  const delay = Math.min(interval * backoff ** (attempt - 1), maxDelay);
  return retrier.JitterStrategy === 'FULL' ? delay * random() : delay;
}

export const HANDLER_BUNDLE = path.join(__dirname, '..', 'assets', 'lambda', 'export-waiter.lambda', 'index.js');

const PSEUDO = { partition: 'aws', region: 'us-east-1', account: '123456789012' };
const CREDENTIALS = { accessKeyId: 'AKIDLOCALHARNESS', secretAccessKey: 'local-harness-secret' };
const WAITER_TYPE_PREFIX = 'Custom::';
/** The environment variable that tells the waiter's handler its state machine: how the harness finds that function. */
const WAITER_FUNCTION_ENV = Env.STATE_MACHINE_ARN;
const WAIT_CONDITION_HANDLE = 'AWS::CloudFormation::WaitConditionHandle';
const WAIT_CONDITION = 'AWS::CloudFormation::WaitCondition';

type Json = Record<string, unknown>;
/** A resolved Amazon States Language definition (JSON). */
export type StateMachineDefinition = Json & { States: Record<string, Json> };
type Handler = (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<void>;

export interface ExecutionRecord extends ExecutionObservations {
  readonly name: string;
  readonly executionArn: string;
  readonly input: string;
  status: ExecutionStatus;
  error?: string;
  /** The error and cause given to StopExecution (status ABORTED). */
  stopped?: { error?: string; cause?: string };
  /** States entered (what Step Functions bills as state transitions), retries included. */
  transitions: number;
  /** State names in the order they were entered. */
  readonly path: string[];
  readonly startedAt: number;
  endedAt?: number;
}

/**
 * A call made by one of the deployment's principals (the waiter function's role, or the state
 * machine's role). `LocalDeployment.gate` sees the state machine's Task calls before they reach their
 * service; a model of CloudFormation (harness/orchestration.ts) uses it, and proxies the
 * handler's HTTP calls itself, to refuse calls to resources not created yet and calls that the IAM
 * policies in effect do not allow.
 */
export interface GatedCall {
  readonly caller: 'handler' | 'stateMachine';
  /** 'states', 'neptune-graph', 'lambda', 'ssm'. */
  readonly service: string;
  /** The API operation, PascalCase: StartExecution, GetExportTask, Invoke... */
  readonly operation: string;
  /** The Task's Parameters (PascalCase), or for the handler's calls the API's own request (camelCase). */
  readonly input: Record<string, unknown>;
}

/** How a refused call fails: the error name its caller sees (and, for an HTTP API, the status). */
export interface CallRefusal {
  readonly error: string;
  readonly message: string;
  readonly httpStatus?: number;
}

export interface InvocationRecord {
  /** Virtual epoch seconds at which it began. */
  readonly virtualStart: number;
  /** Real milliseconds it took (once it ended). */
  realMs: number;
  /** It ran past the function's timeout: Lambda would have ended it (and nothing it did after counts). */
  overran: boolean;
}

export interface LocalDeploymentOptions {
  /** Seed for the emulator and for retry jitter. @default 1 */
  readonly seed?: number;
  /** Print the handler's log lines as they come. @default false */
  readonly verbose?: boolean;
  /** Virtual start time (epoch seconds). @default the emulator's default */
  readonly startEpochSeconds?: number;
  /**
   * Changes the resolved state machine definition before it runs. Only for tests that prove the
   * suite catches a broken definition (remove a Retry, rename a state...); it receives a copy.
   * @default - the definition exactly as synthesized
   */
  readonly transformDefinition?: (definition: StateMachineDefinition) => StateMachineDefinition;
  /**
   * Key case of the AWS SDK integration's results. Step Functions documents PascalCase
   * (`Status`, `ExportTaskDetails`), unverified for this service; 'camelCase' returns the
   * service's own keys, to show what the loop does if that documentation is wrong.
   * @default 'PascalCase'
   */
  readonly sdkResultKeys?: 'PascalCase' | 'camelCase';
  /**
   * How the AWS SDK integration renders timestamps (ExportTaskDetails.StartTime). Which form Step
   * Functions uses for this service is unverified; each is a plausible reading.
   * @default 'isoString'
   */
  readonly sdkTimestamps?: 'isoString' | 'epochSeconds' | 'epochMilliseconds';
  /**
   * Changes what a Neptune Analytics call of the state machine returns (after key casing), to play a
   * service that answers unlike its model: a member missing, a partial ExportTaskDetails...
   * @default - the result as the SDK integration would return it
   */
  readonly transformSdkResult?: (action: string, result: Json) => Json;
  /**
   * The Lambda timeout the handler is given, in real seconds, instead of the template's: for tests of
   * a handler running out of time (only real time passes while a call hangs; the virtual clock does not).
   * @default - the function's Timeout in the template
   */
  readonly functionTimeoutSeconds?: number;
  /**
   * Real milliseconds that each virtual second of a pause (a Wait state or a Retry interval) takes.
   * The virtual clock then moves smoothly through the pause, and the next Neptune Analytics call
   * waits until it is over, so a demo can show an export progressing. Meant for one execution at a time.
   * @default 0 - pauses take no real time: the clock jumps to their end
   */
  readonly realMsPerVirtualSecond?: number;
  /**
   * Physical values of the template's resources (what Ref and Fn::GetAtt return), by logical id,
   * used when `event()` resolves a resource's properties. They replace the plausible values the
   * harness derives itself (see `plausibleResourceValues`): a role ARN, a KMS key ARN, a bucket name...
   * @default - plausible values; WaitConditionHandles resolve to the receiver's handle URL
   */
  readonly resourceValues?: Record<string, ResourceValues>;
  /**
   * The stack's name in the StackId of every request (the handler's metrics read it from there).
   * @default 'harness-stack'
   */
  readonly stackName?: string;
}

/** Real milliseconds between two steps of the virtual clock during a paced pause. */
const PACING_STEP_MS = 25;

/** Keeps the faked `Date` on the emulator's clock. */
class SyncedClock extends VirtualClock {
  public fake?: InstalledClock;
  public advance(seconds: number): void {
    super.advance(seconds);
    this.fake?.setSystemTime(this.now() * 1000);
  }
}

export class LocalDeployment {
  public static async start(stack: Stack, options: LocalDeploymentOptions = {}): Promise<LocalDeployment> {
    return LocalDeployment.startFromTemplate(CdkTemplate.fromStack(stack).toJSON() as Template, options);
  }

  /** Like `start`, for a template already synthesized (a model of CloudFormation holds several). */
  public static async startFromTemplate(template: Template, options: LocalDeploymentOptions = {}): Promise<LocalDeployment> {
    const clock = new SyncedClock(options.startEpochSeconds);
    const emulator = await NeptuneGraphEmulator.start({ clock, seed: options.seed ?? 1 });
    const cloudFormation = await CloudFormationReceiver.start({ stackName: options.stackName });
    const ssm = await SsmParameterStoreEmulator.start({ region: PSEUDO.region, account: PSEUDO.account });
    const deployment = new LocalDeployment(template, clock, emulator, cloudFormation, ssm, options);
    await deployment.listen();
    return deployment;
  }

  /** Every line the handler logged, in order (through `console` or straight to stdout). */
  public readonly logs: string[] = [];
  /** The lines the handler wrote straight to stdout (its metric records), also in `logs`. */
  public readonly stdout: string[] = [];
  /** Every invocation of the handler, in order. */
  public readonly invocations: InvocationRecord[] = [];
  public readonly executions: ExecutionRecord[] = [];
  /** Consulted before every call a Task of the state machine makes (see GatedCall); none by default. */
  public gate?: (call: GatedCall) => CallRefusal | undefined;
  public readonly stateMachineArn: string;
  public readonly functionArn: string;
  /** Scripted failures of Lambda invocations of the handler (by the loop or by CloudFormation). */
  public readonly lambdaFaults = new LambdaFaults();

  private readonly functionId: string;
  private readonly definition: StateMachineDefinition;
  private readonly handlerEnvironment: Record<string, string>;
  /** What Ref and Fn::GetAtt in the waiters' properties resolve to. */
  private readonly propertyValues: Pseudo;
  private readonly functionTimeoutMs: number;
  private readonly pending = new Set<Promise<unknown>>();
  /** Stops the interpreter run of a running execution (StopExecution). */
  private readonly aborts = new Map<ExecutionRecord, () => void>();
  private readonly neptune: NeptuneGraphClient;
  private readonly server = http.createServer();
  private sfnEndpoint = '';
  private handler?: Handler;
  private savedEnv: Record<string, string | undefined> = {};
  private restoreConsole?: () => void;
  private random: () => number;
  private validDefinition?: StateMachineDefinition;
  /** The paced pause in progress, if any (only with `realMsPerVirtualSecond`). */
  private pacing?: Promise<void>;

  private constructor(
    public readonly template: Template,
    public readonly clock: SyncedClock,
    public readonly emulator: NeptuneGraphEmulator,
    public readonly cloudFormation: CloudFormationReceiver,
    /** SSM Parameter Store, where the handler keeps what must not travel through executions. */
    public readonly ssm: SsmParameterStoreEmulator,
    private readonly options: LocalDeploymentOptions,
  ) {
    // The waiter's function is the one that knows the wait loop; others (a bucket's
    // autoDeleteObjects provider, say) are not part of the waiter.
    const functions = resourcesOfType(template, 'AWS::Lambda::Function').filter(([, props]) =>
      ((props.Environment as { Variables?: Json } | undefined)?.Variables ?? {})[WAITER_FUNCTION_ENV] !== undefined);
    const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
    if (functions.length !== 1 || machines.length !== 1) {
      throw new Error(`Expected one waiter function (with ${WAITER_FUNCTION_ENV}) and one state machine, found ${functions.length} and ${machines.length}`);
    }
    const [functionId, functionProps] = functions[0];
    const [machineId, machineProps] = machines[0];
    this.functionId = functionId;
    this.functionArn = `arn:aws:lambda:${PSEUDO.region}:${PSEUDO.account}:function:${functionId}`;
    this.stateMachineArn = `arn:aws:states:${PSEUDO.region}:${PSEUDO.account}:stateMachine:${String(machineProps.StateMachineName ?? machineId)}`;
    const pseudo = { ...PSEUDO, arns: { [functionId]: this.functionArn, [machineId]: this.stateMachineArn } };
    const definition = JSON.parse(String(resolve(machineProps.DefinitionString, pseudo)));
    this.definition = options.transformDefinition ? options.transformDefinition(definition) : definition;
    const environment = (functionProps.Environment as { Variables?: Json } | undefined)?.Variables ?? {};
    this.handlerEnvironment = Object.fromEntries(Object.entries(resolve(environment, pseudo) as Json).map(([k, v]) => [k, String(v)]));
    this.propertyValues = this.physicalValues(pseudo.arns);
    this.functionTimeoutMs = (options.functionTimeoutSeconds ?? Number(functionProps.Timeout ?? 3)) * 1000;
    this.neptune = integrationClient(emulator.endpoint);
    this.random = seededRandom(options.seed ?? 1);
    this.checkEveryTaskIsMapped();
  }

  /** The resolved state machine definition, as Step Functions would receive it. */
  public get stateMachineDefinition(): StateMachineDefinition {
    return this.definition;
  }

  /** Logical ids and properties of the waiters (the custom resources served by the waiter function). */
  public waiters(): Array<{ logicalId: string; type: string; properties: Json }> {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type.startsWith(WAITER_TYPE_PREFIX) && this.servedByWaiter(r.Properties?.ServiceToken))
      .map(([logicalId, r]) => ({ logicalId, type: r.Type, properties: (r.Properties ?? {}) as Json }));
  }

  /**
   * A waiter's properties as CloudFormation sends them: intrinsics resolved (the export role's and
   * key's ARNs, the bucket name, the graph id; `SignalURL` to the receiver's WaitConditionHandle
   * URL), every scalar a string, the service token included. Useful to build `oldProperties`.
   * An intrinsic the harness cannot resolve (a parameter without a default) is sent unresolved.
   */
  public properties(logicalId?: string): Json {
    return this.resolvedProperties(this.waiter(logicalId).properties, []);
  }

  /**
   * A CloudFormation event for one of the template's waiters, with its properties as CloudFormation
   * sends them (see `properties()`), and optional overrides. Overrides replace whole top-level
   * properties and are sent exactly as given; the replaced template values are not resolved (so a
   * Ref the harness cannot resolve, such as a parameter without a default, can be overridden).
   */
  public event(
    type: RequestType,
    options: { logicalId?: string; properties?: Json; physicalResourceId?: string; oldProperties?: Json; requestId?: string } = {},
  ): CustomResourceEvent {
    const waiter = this.waiter(options.logicalId);
    const properties = {
      ...this.resolvedProperties(waiter.properties, Object.keys(options.properties ?? {})),
      ...options.properties,
    };
    return this.cloudFormation.event(type, properties, {
      resourceType: waiter.type,
      logicalResourceId: waiter.logicalId,
      physicalResourceId: options.physicalResourceId,
      oldProperties: options.oldProperties,
      serviceToken: this.functionArn,
      requestId: options.requestId,
    });
  }

  // WaitConditions (long-wait mode) ------------------------------------------------------------

  /** The template's WaitConditions: logical id, the handle it waits on, and its properties. */
  public waitConditions(): Array<{ logicalId: string; handleLogicalId: string; properties: Json; dependsOn: string[] }> {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type === WAIT_CONDITION)
      .map(([logicalId, r]) => {
        const handle = (r.Properties?.Handle as { Ref?: string } | undefined)?.Ref;
        if (typeof handle !== 'string') throw new Error(`WaitCondition ${logicalId} has no Handle { Ref: <handle> }`);
        const dependsOn = r.DependsOn === undefined ? [] : ([] as string[]).concat(r.DependsOn);
        return { logicalId, handleLogicalId: handle, properties: (r.Properties ?? {}) as Json, dependsOn };
      });
  }

  /** Resolves with the first accepted signal to the WaitCondition's handle (real milliseconds). */
  public signalFor(conditionLogicalId?: string, timeoutMs = 20_000): Promise<RecordedSignal> {
    return this.cloudFormation.signalFor(this.waitCondition(conditionLogicalId).handleLogicalId, timeoutMs);
  }

  /** What `Fn::GetAtt <WaitCondition>.Data` returns now: `{"<UniqueId>":"<Data>"}`. */
  public waitConditionData(conditionLogicalId?: string): string {
    return this.cloudFormation.waitConditionData(this.waitCondition(conditionLogicalId).handleLogicalId);
  }

  /**
   * Evaluates a template expression `Fn::Select(i, Fn::Split(sep, Fn::GetAtt [<WaitCondition>, Data]))`
   * (how a long-wait attribute reaches the template) against the signals received so far.
   */
  public evaluateWaitConditionAttribute(expression: unknown): string {
    return evaluateSelectSplit(expression, (logicalId, attribute) => {
      if (attribute !== 'Data') throw new Error(`A WaitCondition has no attribute ${attribute} the harness renders`);
      return this.waitConditionData(logicalId);
    });
  }

  /** Invokes the handler once, as Lambda runs one invocation (the promise is the invocation). */
  public invoke(event: unknown): Promise<void> {
    const startedAt = Date.now();
    const realStart = performance.now();
    // Virtual time passes only in pauses of the loop, real time while calls hang: either uses the invocation's time.
    const remaining = () => this.functionTimeoutMs - Math.max(Date.now() - startedAt, performance.now() - realStart);
    const invocation: InvocationRecord = { virtualStart: this.clock.now(), realMs: 0, overran: false };
    this.invocations.push(invocation);
    const settle = () => {
      invocation.realMs = performance.now() - realStart;
      invocation.overran = remaining() < 0;
    };
    const run = this.loadHandler()(event, { getRemainingTimeInMillis: remaining });
    run.then(settle, settle);
    return this.track(run);
  }

  /**
   * Delivers an event as CloudFormation does: an asynchronous invocation, which Lambda itself tries
   * again when it fails (see lambda-faults.ts; faults for `caller: 'cloudFormation'`). The promise
   * ends when Lambda is done with the event: run, or given up on.
   */
  public deliver(event: unknown): Promise<void> {
    return this.track((async () => {
      let waited = 0;
      for (let failures = 1; ; failures++) {
        const fault = this.lambdaFaults.next('cloudFormation', this.clock.now());
        if (!fault) return this.invoke(event);
        if (fault.handlerRuns) await this.invoke(event).catch(() => undefined);
        const delay = asyncRetryDelaySeconds(fault.kind, failures, waited);
        if (delay === undefined) return;
        waited += delay;
        this.pause(delay);
        if (this.pacing) await this.pacing;
      }
    })());
  }

  /** Scripts failures of Lambda invocations of the handler (see lambda-faults.ts). */
  public lambdaFault(rule: LambdaFaultRule): void {
    this.lambdaFaults.add(rule);
  }

  /** History events of every execution so far (the figure a deployment costs in Step Functions history). */
  public historyEvents(): number {
    return this.executions.reduce((sum, e) => sum + e.historyEvents, 0);
  }

  /** Sends an event and waits for CloudFormation's answer (real milliseconds). */
  public async run(event: CustomResourceEvent, timeoutMs = 20_000): Promise<RecordedAnswer> {
    await this.deliver(event);
    let answer: RecordedAnswer;
    try {
      answer = await this.cloudFormation.answerFor(event.RequestId, timeoutMs);
    } catch (error) {
      // Say why nobody answered: usually an execution that ended without answering.
      throw new Error(`${(error as Error).message}; executions: ${this.describeExecutions() || 'none'}`);
    }
    await this.idle();
    return answer;
  }

  /** One line per execution: name, status, failure, history events (for failure messages). */
  public describeExecutions(): string {
    return this.executions.map((e) => `${e.name} ${e.status}${e.failure ? ` (${e.failure.error}: ${e.failure.cause})` : ''}`
      + `${e.error && !e.failure ? ` (${e.error})` : ''} after ${e.historyEvents} history events, last state ${e.path[e.path.length - 1] ?? '-'}`).join('; ');
  }

  /**
   * Stops every running execution, as deleting the state machine does (Step Functions terminates
   * them at their next state transition; here at once).
   */
  public stopRunningExecutions(error: string, cause: string): void {
    for (const execution of this.executions) {
      if (execution.status === 'RUNNING') this.stopExecution(execution.executionArn, error, cause);
    }
  }

  /** Whether an invocation or an execution is running (what `idle()` waits for). */
  public get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Waits until no invocation or execution is running. */
  public async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  public async stop(): Promise<void> {
    await this.idle();
    this.clock.fake?.uninstall();
    this.clock.fake = undefined;
    this.restoreConsole?.();
    for (const [key, value] of Object.entries(this.savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    this.neptune.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
    await this.emulator.stop();
    await this.ssm.stop();
    await this.cloudFormation.stop();
  }

  // -------------------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    this.server.on('request', (req, res) => serveStepFunctionsRequest(this.stepFunctionsApi(), req, res));
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', () => done()));
    this.sfnEndpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    const env: Record<string, string> = {
      ...this.handlerEnvironment,
      AWS_REGION: PSEUDO.region,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SFN: this.sfnEndpoint,
      AWS_ENDPOINT_URL_SSM: this.ssm.endpoint,
      // The handler calls Neptune Analytics itself when a GraphExport with cancelOnDelete is deleted.
      AWS_ENDPOINT_URL_NEPTUNE_GRAPH: this.emulator.endpoint,
    };
    for (const [key, value] of Object.entries(env)) {
      this.savedEnv[key] = process.env[key];
      process.env[key] = value;
    }
    this.clock.fake = install({ toFake: ['Date'], now: this.clock.now() * 1000 });
    this.captureConsole();
  }

  private waiter(logicalId?: string): { logicalId: string; type: string; properties: Json } {
    const waiter = logicalId ? this.waiters().find((w) => w.logicalId === logicalId) : this.waiters()[0];
    if (!waiter) throw new Error(`No waiter ${logicalId ?? ''} in the template`);
    return waiter;
  }

  private waitCondition(logicalId?: string): { logicalId: string; handleLogicalId: string } {
    const conditions = this.waitConditions();
    const condition = logicalId ? conditions.find((c) => c.logicalId === logicalId) : conditions[0];
    if (!condition) throw new Error(`No WaitCondition ${logicalId ?? ''} in the template`);
    if (!logicalId && conditions.length > 1) throw new Error(`The template has ${conditions.length} WaitConditions: name one`);
    return condition;
  }

  /** Whether a ServiceToken names the waiter function ({ Fn::GetAtt: [<function>, Arn] } or its ARN). */
  private servedByWaiter(serviceToken: unknown): boolean {
    if (serviceToken === this.functionArn) return true;
    const getAtt = (serviceToken as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
    return Array.isArray(getAtt) && getAtt[0] === this.functionId && getAtt[1] === 'Arn';
  }

  /** Properties of a resource resolved as CloudFormation sends them, leaving out the keys given. */
  private resolvedProperties(properties: Json, except: string[]): Json {
    const kept = Object.fromEntries(Object.entries({ ...properties, ServiceToken: this.functionArn }).filter(([key]) => !except.includes(key)));
    return asCloudFormationSends(resolvePartially(kept, this.propertyValues)) as Json;
  }

  /** Ref and Fn::GetAtt values for the template's resources: plausible, overridden, handles issued by the receiver. */
  private physicalValues(arns: Record<string, string>): Pseudo {
    const values: Record<string, ResourceValues> = { ...plausibleResourceValues(this.template, PSEUDO), ...this.options.resourceValues };
    const refs: Record<string, string> = {};
    const attributes: Record<string, Record<string, string>> = {};
    for (const [logicalId, value] of Object.entries(values)) {
      if (value.ref !== undefined) refs[logicalId] = value.ref;
      if (value.attributes) attributes[logicalId] = value.attributes;
    }
    for (const [logicalId, resource] of Object.entries(this.template.Resources)) {
      // Ref of a WaitConditionHandle is its presigned URL, unless a test gave its own.
      if (resource.Type === WAIT_CONDITION_HANDLE && this.options.resourceValues?.[logicalId]?.ref === undefined) {
        refs[logicalId] = this.cloudFormation.waitConditionHandle(logicalId);
      }
    }
    return { ...PSEUDO, arns, refs, attributes };
  }

  private captureConsole(): void {
    const { log, error, warn, info } = console;
    // The handler's metric records go straight to stdout (wait-metrics.ts): they are log lines too.
    const stdout = captureStdoutLines((line) => {
      this.logs.push(line);
      this.stdout.push(line);
      if (this.options.verbose) stdout.passThrough(() => log(line));
    });
    const capture = (original: (...args: unknown[]) => void) => (...args: unknown[]) => {
      this.logs.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      if (this.options.verbose) stdout.passThrough(() => original(...args));
    };
    console.log = capture(log);
    console.info = capture(info);
    console.warn = capture(warn);
    console.error = capture(error);
    this.restoreConsole = () => {
      Object.assign(console, { log, error, warn, info });
      stdout.restore();
    };
  }

  private loadHandler(): Handler {
    if (!this.handler) {
      // A fresh copy per deployment: the bundle caches its SDK client (and so the endpoint of the
      // first deployment) per module. Jest keeps its own module registry, which `require.cache`
      // does not reach, so the bundle is evaluated here instead of required. It is compiled in
      // this realm, so it sees the faked Date, and it shares this file's require for its
      // externals (@aws-sdk/*, node builtins), as Lambda's runtime would provide them.
      const source = fs.readFileSync(HANDLER_BUNDLE, 'utf8');
      const module = { exports: {} as { handler?: Handler } };
      const evaluate = new Function('exports', 'require', 'module', '__filename', '__dirname', `${source}\n//# sourceURL=${HANDLER_BUNDLE}`);
      evaluate(module.exports, require, module, HANDLER_BUNDLE, path.dirname(HANDLER_BUNDLE));
      if (typeof module.exports.handler !== 'function') throw new Error(`${HANDLER_BUNDLE} exports no handler`);
      this.handler = module.exports.handler;
    }
    return this.handler;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = () => this.pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  // Executions: the local Step Functions endpoint (step-functions-endpoint.ts) and the
  // states:startExecution Task both start them here.

  private stepFunctionsApi(): StepFunctionsApi {
    return {
      stateMachineArn: this.stateMachineArn,
      executions: this.executions,
      startExecution: (request) => {
        const outcome = this.startExecution(request);
        return 'error' in outcome ? outcome : { executionArn: outcome.executionArn, startDate: this.clock.now() };
      },
      stopExecution: (executionArn, error, cause) => this.stopExecution(executionArn, error, cause),
    };
  }

  private startExecution(request: { stateMachineArn?: string; name?: string; input?: string }): { executionArn: string } | ApiError {
    if (request.stateMachineArn !== this.stateMachineArn) {
      return { error: 'StateMachineDoesNotExist', message: `State Machine Does Not Exist: '${request.stateMachineArn}'` };
    }
    const name = request.name ?? `generated-${this.executions.length}`;
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) return { error: 'InvalidName', message: `Invalid Name: '${name}'` };
    const input = request.input ?? '{}';
    const tooLarge = ExecutionObserver.inputProblem(input);
    if (tooLarge) return { error: 'InvalidExecutionInput', message: tooLarge };
    const executionArn = `arn:aws:states:${PSEUDO.region}:${PSEUDO.account}:execution:${this.stateMachineArn.split(':').pop()}:${name}`;
    const existing = this.executions.find((e) => e.name === name);
    if (existing) {
      // Step Functions: the same name and input returns the running execution; other input is an error.
      if (existing.input === input && existing.status === 'RUNNING') return { executionArn };
      return { error: 'ExecutionAlreadyExists', message: `Execution Already Exists: '${executionArn}'` };
    }
    const record: ExecutionRecord = {
      name, executionArn, input, status: 'RUNNING', transitions: 0, path: [], startedAt: this.clock.now(), ...emptyObservations(),
    };
    this.executions.push(record);
    void this.track(this.execute(record, JSON.parse(input)));
    return { executionArn };
  }

  /**
   * The definition as the interpreter runs it, validated once: validating takes about 0.2 s of CPU
   * (asl-validator), which per execution blocked the endpoints long enough to time out the handler's
   * StartExecution when a hundred requests arrive at once. Throws the validation error every time.
   */
  private interpreterDefinition(): StateMachineDefinition {
    if (!this.validDefinition) {
      const definition = asInterpreterRuns(this.definition);
      new StateMachine(definition);
      this.validDefinition = definition;
    }
    return this.validDefinition;
  }

  /** StopExecution: the execution ends ABORTED at once and its interpreter run stops; it calls nothing more. */
  private stopExecution(executionArn: string, error?: string, cause?: string): { stopDate: number } | ApiError {
    const record = this.executions.find((e) => e.executionArn === executionArn);
    if (!record) return { error: 'ExecutionDoesNotExist', message: `Execution Does Not Exist: '${executionArn}'` };
    if (record.status === 'RUNNING') {
      record.status = 'ABORTED';
      record.stopped = { error, cause };
      record.endedAt = this.clock.now();
      this.aborts.get(record)?.();
    }
    return { stopDate: record.endedAt ?? this.clock.now() };
  }

  private async execute(record: ExecutionRecord, input: unknown): Promise<void> {
    let stateMachine: LocalStateMachine;
    let observer: ExecutionObserver;
    try {
      stateMachine = new StateMachine(this.interpreterDefinition(), { validationOptions: { noValidate: true } });
      observer = new ExecutionObserver(record, this.definition.States, () => this.cloudFormation.secrets);
    } catch (error) {
      record.status = 'FAILED';
      record.error = `Invalid definition: ${(error as Error).message}`;
      return;
    }
    const runStates = stateMachine.execute.bind(stateMachine);
    stateMachine.execute = (runInput, runOptions, cleanup) => {
      observer.attach(runOptions.eventLogger);
      return runStates(runInput, runOptions, cleanup);
    };
    const clock = this.clock;
    const execution = stateMachine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: this.taskHandlers(record, observer),
        // Real pauses of 1 ms let the event consumer below move the virtual clock first.
        waitTimeOverrides: Object.fromEntries(this.statesOfType('Wait').map((name) => [name, 1])),
        retryIntervalOverrides: Object.fromEntries(this.retryingStates().map((name) => [name, 1])),
      },
      context: {
        // aws-local-stepfunctions does not provide $$.State.EnteredTime; read the virtual clock.
        State: {
          get EnteredTime() {
            return new Date(clock.now() * 1000).toISOString();
          },
        },
      } as never,
    });
    this.aborts.set(record, () => execution.abort());
    const consumer = this.followEvents(record, execution.eventLogs);
    try {
      await execution.result;
      if (record.status === 'RUNNING') record.status = 'SUCCEEDED';
    } catch (error) {
      if (record.status === 'RUNNING') {
        record.status = 'FAILED';
        record.error = error instanceof Error ? error.message : String(error);
      }
    } finally {
      this.aborts.delete(record);
      record.endedAt ??= this.clock.now();
      await consumer;
    }
  }

  private async followEvents(record: ExecutionRecord, events: AsyncGenerator<unknown>): Promise<void> {
    for await (const raw of events) {
      // A stopped execution's interpreter may finish the state it was in: it takes no more time.
      if (record.status === 'ABORTED') continue;
      const event = raw as { type: string; state?: { name: string; type: string; input: unknown }; retry?: { retrier: Json; attempt: number } };
      if (event.type === 'StateEntered' && event.state) {
        record.transitions++;
        record.path.push(event.state.name);
        if (event.state.type === 'Wait') this.pause(waitStateSeconds(this.definition.States[event.state.name], event.state.input, this.clock.now()));
      } else if (event.type === 'StateRetried' && event.retry) {
        record.transitions++;
        this.pause(retryDelaySeconds(event.retry.retrier, event.retry.attempt, this.random));
      }
    }
  }

  /** Moves the clock through a pause: at once, or paced over real time (`realMsPerVirtualSecond`). */
  private pause(seconds: number): void {
    const realMs = seconds * (this.options.realMsPerVirtualSecond ?? 0);
    if (!(realMs > 0)) {
      this.clock.advance(seconds);
      return;
    }
    const play = async () => {
      const from = this.clock.now();
      const began = performance.now();
      for (let done = 0; done < 1;) {
        await new Promise((resume) => setTimeout(resume, Math.min(PACING_STEP_MS, realMs)));
        done = Math.min(1, (performance.now() - began) / realMs);
        this.clock.advance(Math.max(0, from + seconds * done - this.clock.now()));
      }
    };
    this.pacing = (this.pacing ?? Promise.resolve()).then(play);
  }

  private statesOfType(type: string): string[] {
    return Object.entries(this.definition.States).filter(([, s]) => s.Type === type).map(([name]) => name);
  }

  private retryingStates(): string[] {
    return Object.entries(this.definition.States).filter(([, s]) => Array.isArray(s.Retry)).map(([name]) => name);
  }

  /** Nothing may fall through to a real AWS call: every Task state needs a local handler. */
  private checkEveryTaskIsMapped(): void {
    const handlers = this.taskHandlers();
    const unmapped = this.statesOfType('Task').filter((name) => !handlers[name]);
    if (unmapped.length > 0) {
      throw new Error(`Task states without a local mapping: ${unmapped.map((n) => `${n} (${String(this.definition.States[n].Resource)})`).join(', ')}`);
    }
  }

  /**
   * Local handlers by Task state, chosen by the state's Resource. For a run (`record` given) each
   * refuses to act once the execution was stopped, and the observer checks what it is given and returns.
   */
  private taskHandlers(record?: ExecutionRecord, observer?: ExecutionObserver): Record<string, (input: unknown) => Promise<unknown>> {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const name of this.statesOfType('Task')) {
      const resource = String(this.definition.States[name].Resource);
      const sdk = /^arn:aws:states:::aws-sdk:neptunegraph:(\w+)$/.exec(resource);
      let handler: ((input: Json) => Promise<unknown>) | undefined;
      if (sdk) handler = (input) => this.callNeptuneGraph(sdk[1], input);
      if (resource === 'arn:aws:states:::lambda:invoke') handler = (input) => this.invokeLambda(input);
      if (resource === 'arn:aws:states:::states:startExecution') handler = (input) => this.startExecutionTask(input);
      if (!handler) continue;
      const act = handler;
      const guarded = async (input: Json) => {
        // The interpreter may start a Retry's next attempt after its run was aborted.
        if (record && record.status !== 'RUNNING') throw namedError('States.Runtime', `Execution ${record.name} was stopped`);
        return act(input);
      };
      handlers[name] = (observer ? observer.task(name, guarded) : guarded) as (input: unknown) => Promise<unknown>;
    }
    return handlers;
  }

  /** The AWS SDK integration: PascalCase in and out, errors named `NeptuneGraph.<Exception>`. */
  private async callNeptuneGraph(action: string, input: Json): Promise<unknown> {
    // Let the event consumer apply the Wait or Retry pause that preceded this call.
    await new Promise((done) => setImmediate(done));
    if (this.pacing) await this.pacing;
    const Command = integrationCommand(action);
    const refusal = this.gate?.({ caller: 'stateMachine', service: 'neptune-graph', operation: upperFirst(action), input });
    if (refusal) throw namedError(refusal.error, refusal.message);
    try {
      const output = (await this.neptune.send(new Command(changeKeys(input, lowerFirst) as never))) as unknown as Json;
      const { $metadata: _metadata, ...fields } = output;
      const timestamps = this.options.sdkTimestamps ?? 'isoString';
      const result = changeKeys(fields, this.options.sdkResultKeys === 'camelCase' ? (key) => key : upperFirst, false, timestamps) as Json;
      return this.options.transformSdkResult ? this.options.transformSdkResult(action, result) : result;
    } catch (error) {
      throw asStepFunctionsError(error);
    }
  }

  /** The optimized lambda:invoke integration (RequestResponse), with the faults scripted for `caller: 'stepFunctions'`. */
  private async invokeLambda(input: Json): Promise<unknown> {
    const refusal = this.gate?.({ caller: 'stateMachine', service: 'lambda', operation: 'Invoke', input });
    if (refusal) throw namedError(refusal.error, refusal.message);
    if (input.FunctionName !== this.functionArn) {
      throw namedError('Lambda.ResourceNotFoundException', `Function not found: ${String(input.FunctionName)}`);
    }
    const fault = this.lambdaFaults.next('stepFunctions', this.clock.now());
    if (fault) {
      if (fault.handlerRuns) await this.invoke(input.Payload).catch(() => undefined);
      throw namedError(STEP_FUNCTIONS_LAMBDA_ERRORS[fault.kind], `Injected Lambda fault: ${fault.kind}`);
    }
    await this.invoke(input.Payload);
    return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: null };
  }

  /**
   * The optimized states:startExecution integration (no .sync): starts an execution of this state
   * machine by the same rules as the endpoint. `Input` may be an object (Step Functions serializes it)
   * or a string. Error names are `StepFunctions.<Exception>Exception`, and the result's StartDate is
   * epoch milliseconds: both *unverified*.
   */
  private async startExecutionTask(input: Json): Promise<unknown> {
    await new Promise((done) => setImmediate(done));
    const refusal = this.gate?.({ caller: 'stateMachine', service: 'states', operation: 'StartExecution', input });
    if (refusal) throw namedError(refusal.error, refusal.message);
    const raw = input.Input;
    const outcome = this.startExecution({
      stateMachineArn: typeof input.StateMachineArn === 'string' ? input.StateMachineArn : undefined,
      name: typeof input.Name === 'string' ? input.Name : undefined,
      input: raw === undefined ? undefined : typeof raw === 'string' ? raw : JSON.stringify(raw),
    });
    if ('error' in outcome) throw namedError(`StepFunctions.${outcome.error}Exception`, outcome.message);
    return { ExecutionArn: outcome.executionArn, StartDate: this.clock.now() * 1000 };
  }
}

/** Members whose keys are data (labels, property names, tag keys), not field names. */
const MAP_MEMBERS = new Set(['vertexFilter', 'edgeFilter', 'properties', 'tags', 'VertexFilter', 'EdgeFilter', 'Properties', 'Tags']);
export const lowerFirst = (key: string) => key.charAt(0).toLowerCase() + key.slice(1);
export const upperFirst = (key: string) => key.charAt(0).toUpperCase() + key.slice(1);

export function changeKeys(
  value: unknown, rename: (key: string) => string, isMap = false, timestamps: LocalDeploymentOptions['sdkTimestamps'] = 'isoString',
): unknown {
  if (value instanceof Date) {
    return timestamps === 'epochMilliseconds' ? value.getTime() : timestamps === 'epochSeconds' ? value.getTime() / 1000 : value.toISOString();
  }
  if (Array.isArray(value)) return value.map((v) => changeKeys(v, rename, false, timestamps));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Json).map(([key, v]) => [isMap ? key : rename(key), changeKeys(v, rename, !isMap && MAP_MEMBERS.has(key), timestamps)]),
  );
}

export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** How Step Functions reports an SDK integration failure. */
export function asStepFunctionsError(error: unknown): Error {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
  if (e.name === 'TimeoutError') return namedError('States.Timeout', 'The GetExportTask call timed out');
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) {
    return namedError('NeptuneGraph.SdkClientException', `Unable to execute HTTP request: ${e.message ?? e.name}`);
  }
  const exception = e.name && e.name !== 'Unknown' ? e.name : 'NeptuneGraphException';
  return namedError(
    `NeptuneGraph.${exception}`,
    `${e.message ?? ''} (Service: NeptuneGraph, Status Code: ${status}, Request ID: ${e.$metadata?.requestId ?? 'local'})`,
  );
}

export function readPath(input: unknown, jsonPath: string): unknown {
  if (!jsonPath.startsWith('$.')) throw new Error(`Unsupported path ${jsonPath}`);
  return jsonPath.slice(2).split('.').reduce<unknown>((node, key) => (node as Json | undefined)?.[key], input);
}

/** A seeded Park-Miller generator: reproducible jitter without bitwise arithmetic. */
export function seededRandom(seed: number): () => number {
  let state = (Math.abs(Math.floor(seed)) % 2147483646) + 1;
  return () => {
    state = (state * 16807) % 2147483647;
    return (state - 1) / 2147483646;
  };
}
