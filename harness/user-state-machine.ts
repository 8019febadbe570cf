/**
 * A user's own state machine (one that uses the WaitForExportTask fragment) run locally: the
 * definition exactly as `cdk synth` emitted it, run by aws-local-stepfunctions with the harness's
 * interpreter fixes, its Neptune Analytics tasks served by the emulator through a real AWS SDK v3
 * client, its other tasks by handlers the test gives (by state name), the Step Functions quotas
 * enforced by the execution observer, and time virtual: Wait states and Retry pauses move the clock.
 *
 * Unlike LocalDeployment there is no custom resource here: no handler, no CloudFormation, no
 * continuation. An execution is started by the test, as EventBridge Scheduler or a rule would.
 */
import './polyfills';
import type { NeptuneGraphClient } from '@aws-sdk/client-neptune-graph';
import { Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import { emptyObservations, ExecutionObservations, ExecutionObserver } from './execution-observer';
import { asInterpreterRuns, loadInterpreter } from './interpreter-fixes';
import {
  asStepFunctionsError, changeKeys, integrationClient, integrationCommand, lowerFirst, retryDelaySeconds, seededRandom,
  StateMachineDefinition, upperFirst, waitStateSeconds,
} from './local-deployment';
import { NeptuneGraphEmulator, VirtualClock } from './neptune-emulator';
import { plausibleResourceValues, resolve, resourcesOfType, Template } from './template';

type Json = Record<string, unknown>;
type TaskHandler = (input: Json) => Promise<unknown>;

interface Interpreter {
  run(input: unknown, options: unknown): { result: Promise<unknown>; eventLogs: AsyncGenerator<unknown> };
  execute(input: unknown, options: { eventLogger: Record<string, (...args: unknown[]) => void> }, cleanup: () => void): Promise<unknown>;
}
type InterpreterConstructor = new (definition: unknown, options?: { validationOptions?: { noValidate?: boolean } }) => Interpreter;
const { StateMachine } = loadInterpreter<{ StateMachine: InterpreterConstructor }>();

const PSEUDO = { partition: 'aws', region: 'us-east-1', account: '123456789012' };

export interface UserStateMachineOptions {
  /** Logical id of the state machine to run, when the template has several. @default - the only one */
  readonly logicalId?: string;
  /** Local handlers of the user's own Task states (not Neptune Analytics ones), by state name. @default - none */
  readonly tasks?: Record<string, TaskHandler>;
  /** Values of the template's parameters (what their Ref resolves to). @default - their Default */
  readonly parameters?: Record<string, string>;
  /** Seeds the emulator's task ids and faults and the Retry jitter. @default 1 */
  readonly seed?: number;
}

/** One execution: its status, output or error, and what Step Functions would have recorded. */
export interface UserExecution extends ExecutionObservations {
  readonly name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  output?: Json;
  /** The Fail state's (or the runtime's) error and cause. */
  error?: string;
  cause?: string;
  /** State names in the order they were entered. */
  readonly path: string[];
  readonly startedAt: number;
  endedAt?: number;
}

export class UserStateMachine {
  public static async start(stack: Stack, options: UserStateMachineOptions = {}): Promise<UserStateMachine> {
    return UserStateMachine.startFromTemplate(CdkTemplate.fromStack(stack).toJSON() as Template, options);
  }

  public static async startFromTemplate(template: Template, options: UserStateMachineOptions = {}): Promise<UserStateMachine> {
    const clock = new VirtualClock();
    const emulator = await NeptuneGraphEmulator.start({ clock, seed: options.seed ?? 1 });
    return new UserStateMachine(template, clock, emulator, options);
  }

  public readonly definition: StateMachineDefinition;
  public readonly executions: UserExecution[] = [];
  private readonly neptune: NeptuneGraphClient;
  private readonly random: () => number;

  private constructor(
    template: Template,
    public readonly clock: VirtualClock,
    public readonly emulator: NeptuneGraphEmulator,
    private readonly options: UserStateMachineOptions,
  ) {
    const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine').filter(([id]) => !options.logicalId || id === options.logicalId);
    if (machines.length !== 1) throw new Error(`Expected one state machine${options.logicalId ? ` ${options.logicalId}` : ''}, found ${machines.length}`);
    const values = plausibleResourceValues(template, PSEUDO);
    // resolve() reads a Ref from `arns` first: only resources without a plausible Ref value of their
    // own (a bucket's Ref is its name, not its ARN) go there; GetAtt Arn also reads `attributes`.
    const arnOf = (id: string) => values[id]?.attributes?.Arn ?? `arn:aws:local:${PSEUDO.region}:${PSEUDO.account}:${id}`;
    const arns = Object.fromEntries(Object.keys(template.Resources).filter((id) => values[id]?.ref === undefined).map((id) => [id, arnOf(id)]));
    const refs = {
      ...Object.fromEntries(Object.entries(values).filter(([, v]) => v.ref !== undefined).map(([id, v]) => [id, v.ref!])),
      ...options.parameters,
    };
    const attributes = Object.fromEntries(Object.keys(template.Resources).map((id) => [id, { ...values[id]?.attributes, Arn: arnOf(id) }]));
    this.definition = JSON.parse(String(resolve(machines[0][1].DefinitionString, { ...PSEUDO, arns, refs, attributes })));
    this.neptune = integrationClient(emulator.endpoint);
    this.random = seededRandom(options.seed ?? 1);
    const unmapped = this.statesOfType('Task').filter((name) => !this.handlerFor(name));
    if (unmapped.length > 0) throw new Error(`Task states without a local mapping: ${unmapped.join(', ')}`);
  }

  /** Runs one execution to its end. */
  public async run(input: Json = {}, name = `execution-${this.executions.length + 1}`): Promise<UserExecution> {
    const record: UserExecution = { name, status: 'RUNNING', path: [], startedAt: this.clock.now(), ...emptyObservations() };
    this.executions.push(record);
    const interpreter = new StateMachine(asInterpreterRuns(this.definition), { validationOptions: { noValidate: false } });
    const observer = new ExecutionObserver(record, this.definition.States, () => []);
    const runStates = interpreter.execute.bind(interpreter);
    interpreter.execute = (runInput, runOptions, cleanup) => {
      observer.attach(runOptions.eventLogger);
      return runStates(runInput, runOptions, cleanup);
    };
    const clock = this.clock;
    const handlers = Object.fromEntries(this.statesOfType('Task').map((state) => [state, observer.task(state, this.handlerFor(state)!)]));
    const retrying = Object.entries(this.definition.States).filter(([, state]) => Array.isArray(state.Retry)).map(([state]) => state);
    const execution = interpreter.run(input, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        // Real pauses of 1 ms let the event consumer move the virtual clock first.
        waitTimeOverrides: Object.fromEntries(this.statesOfType('Wait').map((state) => [state, 1])),
        retryIntervalOverrides: Object.fromEntries(retrying.map((state) => [state, 1])),
      },
      // aws-local-stepfunctions does not provide $$.State.EnteredTime; read the virtual clock.
      context: {
        Execution: { Id: `arn:aws:states:${PSEUDO.region}:${PSEUDO.account}:execution:local:${name}`, Name: name, Input: input },
        State: { get EnteredTime() { return new Date(clock.now() * 1000).toISOString(); } },
      },
    });
    const consumer = this.followEvents(record, execution.eventLogs);
    try {
      record.output = (await execution.result) as Json;
      record.status = 'SUCCEEDED';
    } catch (error) {
      record.status = 'FAILED';
      const e = error as { name?: string; message?: string; cause?: string };
      record.error = record.failure?.error ?? e.name;
      record.cause = record.failure?.cause ?? e.cause ?? e.message;
    } finally {
      record.endedAt = this.clock.now();
      await consumer;
    }
    return record;
  }

  public async stop(): Promise<void> {
    this.neptune.destroy();
    await this.emulator.stop();
  }

  private async followEvents(record: UserExecution, events: AsyncGenerator<unknown>): Promise<void> {
    for await (const raw of events) {
      const event = raw as { type: string; state?: { name: string; type: string; input: unknown }; retry?: { retrier: Json; attempt: number } };
      if (event.type === 'StateEntered' && event.state) {
        record.path.push(event.state.name);
        if (event.state.type === 'Wait') this.clock.advance(waitStateSeconds(this.definition.States[event.state.name], event.state.input, this.clock.now()));
      } else if (event.type === 'StateRetried' && event.retry) {
        this.clock.advance(retryDelaySeconds(event.retry.retrier, event.retry.attempt, this.random));
      }
    }
  }

  private statesOfType(type: string): string[] {
    return Object.entries(this.definition.States).filter(([, s]) => s.Type === type).map(([name]) => name);
  }

  private handlerFor(stateName: string): TaskHandler | undefined {
    const own = this.options.tasks?.[stateName];
    if (own) return own;
    const sdk = /^arn:aws:states:::aws-sdk:neptunegraph:(\w+)$/.exec(String(this.definition.States[stateName].Resource));
    return sdk ? (input) => this.callNeptuneGraph(sdk[1], input) : undefined;
  }

  /** The AWS SDK integration: PascalCase in and out, errors named `NeptuneGraph.<Exception>`. */
  private async callNeptuneGraph(action: string, input: Json): Promise<unknown> {
    // Let the event consumer apply the Wait or Retry pause that preceded this call.
    await new Promise((done) => setImmediate(done));
    const Command = integrationCommand(action);
    try {
      const output = (await this.neptune.send(new Command(changeKeys(input, lowerFirst) as never))) as unknown as Json;
      const { $metadata: _metadata, ...fields } = output;
      return changeKeys(fields, upperFirst);
    } catch (error) {
      throw asStepFunctionsError(error);
    }
  }
}
