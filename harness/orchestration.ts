/**
 * A local model of how CloudFormation orchestrates a stack, driving a `LocalDeployment` (the
 * synthesized state machine, the shipped handler bundle, the Neptune Analytics emulator): the
 * resources of a template are created, updated and deleted in dependency order, independent ones
 * concurrently; a resource can only be used once it is created; IAM statements only count once the
 * policy that carries them is in effect; custom resources get the requests CloudFormation sends,
 * including the ones it sends on rollback; and every operation ends in a stack status with a log
 * of resource events that tests can assert.
 *
 * What it follows, and where that comes from (see harness/README.md for the full list and
 * for what it leaves out):
 * - Stack and resource life cycles, the two phases of an update (changes, then cleanup deletes that
 *   cannot fail the update), the rollback update of a custom resource with ResourceProperties=OLD
 *   and OldResourceProperties=NEW, and the Delete of a replaced physical id during cleanup:
 *   aws-cdk docs/CLOUDFORMATION.md ("CloudFormation internals").
 * - "Modifying service token is not allowed." when an update changes a custom resource's
 *   ServiceToken: seen in the field (cloudcomponents/cdk-constructs#197) and in issue 10.
 * - A custom resource whose Create is still running when the stack rolls back ends CREATE_FAILED
 *   "Resource creation cancelled" and then gets a Delete with a physical id CloudFormation made up
 *   (aws-cloudformation/cloudformation-coverage-roadmap#1814, binxio/cfn-certificate-provider#31).
 *   The format of that id is undocumented: the model sends `<stack name>-<logical id>-<12 letters
 *   and digits>` (unverified), which is never a Neptune Analytics task id.
 * - WaitCondition reasons "WaitCondition received failed message: '<reason>' for uniqueId: <id>" and
 *   "WaitCondition timed out. Received <n> conditions when expecting <count>" (as CloudFormation
 *   reports them in stack events quoted by aws-parallelcluster's tests).
 *
 * Time is the deployment's virtual clock. Every resource operation that is not a custom-resource
 * request or a WaitCondition takes `operationSeconds` (default 2, the same for every type: nobody
 * here can measure CloudFormation's real durations, and equal durations make a missing dependency
 * show, because whatever is not a dependency of a resource is then still being created when it
 * starts). While nothing runs in the deployment the model moves the clock to its next deadline;
 * while only the handler runs (no execution), the clock follows real time, as Lambda's would.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import { CustomResourceEvent, RequestType } from './cloudformation';
import { CallRefusal, GatedCall, LocalDeployment, LocalDeploymentOptions, seededRandom } from './local-deployment';
import { asCloudFormationSends, plausibleResourceValues, Pseudo, resolvePartially, ResourceValues, Template } from './template';
import { Env } from '../src/runtime/constants';

type Json = Record<string, unknown>;

const PARTITION = 'aws';
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const STACK_TYPE = 'AWS::CloudFormation::Stack';
const WAIT_CONDITION = 'AWS::CloudFormation::WaitCondition';
const WAIT_CONDITION_HANDLE = 'AWS::CloudFormation::WaitConditionHandle';
const DEFAULT_OPERATION_SECONDS = 2;
/** CloudFormation's default (and longest) wait for a custom resource. */
const DEFAULT_SERVICE_TIMEOUT = 3600;
const TERMINAL_TASK_STATUSES = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED']);
/** What CloudFormation says when a custom resource never answered (unverified for ServiceTimeout). */
const NO_ANSWER_REASON = 'CloudFormation did not receive a response from your Custom Resource within its ServiceTimeout';

export type StackStatus =
  | 'CREATE_COMPLETE' | 'ROLLBACK_COMPLETE' | 'ROLLBACK_FAILED'
  | 'UPDATE_COMPLETE' | 'UPDATE_ROLLBACK_COMPLETE' | 'UPDATE_ROLLBACK_FAILED'
  | 'DELETE_COMPLETE' | 'DELETE_FAILED';

export type ResourceAction = 'Create' | 'Update' | 'Delete';

/** Which part of a stack operation sent a request: the change itself, its rollback, or the cleanup that follows either. */
export type Phase = 'forward' | 'rollback' | 'cleanup';

/** One line of the stack's event log. The stack's own events have the stack name as logical id. */
export interface ResourceEvent {
  readonly logicalId: string;
  readonly type: string;
  /** CREATE_IN_PROGRESS, CREATE_COMPLETE, ... or a stack status. */
  readonly status: string;
  readonly reason?: string;
  readonly physicalId?: string;
  /** Virtual epoch seconds. */
  readonly at: number;
}

/** The answer CloudFormation acted on. */
export interface CustomResourceAnswer {
  readonly Status: string;
  readonly Reason?: string;
  readonly PhysicalResourceId?: string;
  readonly Data?: Record<string, string>;
}

/** A request sent to a custom resource served by the waiter function, and what became of it. */
export interface CustomResourceRequest {
  readonly logicalId: string;
  readonly requestType: RequestType;
  readonly phase: Phase;
  readonly event: CustomResourceEvent;
  /** Virtual epoch seconds. */
  readonly sentAt: number;
  /**
   * SUCCESS or FAILED: the answer arrived in time. TIMED_OUT: none within ServiceTimeout. CANCELLED:
   * the stack operation failed (or the stack was deleted) while CloudFormation waited. PENDING: not decided yet.
   */
  outcome: 'SUCCESS' | 'FAILED' | 'TIMED_OUT' | 'CANCELLED' | 'PENDING';
  answer?: CustomResourceAnswer;
  answeredAt?: number;
}

export interface StackOperation {
  readonly kind: 'CREATE' | 'UPDATE' | 'DELETE';
  status: StackStatus | 'IN_PROGRESS';
  readonly events: ResourceEvent[];
  readonly requests: CustomResourceRequest[];
  readonly startedAt: number;
  endedAt?: number;
}

/** Makes one operation of a resource (not a custom resource served by the waiter) fail. */
export interface ResourceFailure {
  readonly logicalId: string;
  readonly action: ResourceAction;
  /** Virtual seconds after the operation starts. @default the operation's duration */
  readonly afterSeconds?: number;
  /** @default 'Injected failure' */
  readonly reason?: string;
}

export interface OperationOptions {
  /** Values of the template's parameters (those not given keep their Default, or their earlier value). */
  readonly parameters?: Record<string, string>;
  readonly failures?: ResourceFailure[];
}

export interface OrchestrationOptions extends LocalDeploymentOptions {
  /**
   * Virtual seconds each operation of a resource takes (not custom-resource requests or WaitConditions).
   * @default 2 for every resource
   */
  readonly operationSeconds?: number | ((resource: { logicalId: string; type: string; action: ResourceAction }) => number);
  /** Whether calls are checked against the IAM policies in effect. @default true */
  readonly iam?: boolean;
  /**
   * Whether StartExportTask is refused (ConflictException) while another export of the same graph
   * runs, as issue 10 reports the service does (unverified beyond that report). @default true
   */
  readonly oneExportPerGraph?: boolean;
}

/** A resource as it exists in the stack now. */
export interface StackResource {
  readonly logicalId: string;
  readonly type: string;
  /** The template its properties come from. */
  readonly template: Template;
  /** The properties as in that template. */
  readonly properties: Json;
  /** The properties as CloudFormation resolved (and, for custom resources, sent) them. */
  readonly resolved: Json;
  readonly physicalId: string;
  /** A custom resource's Data (its Fn::GetAtt attributes). */
  readonly attributes: Record<string, string>;
}

/** What an update did to one resource, for its rollback and cleanup. */
type Change =
  | { kind: 'created' }
  | { kind: 'refused' }
  | { kind: 'updated'; before: StackResource; sent?: Json; replacedPhysicalId?: string };

/** How one resource operation ended: done, failed, or cancelled because the stack operation stopped waiting. */
type Completion = boolean | 'cancelled';

interface OperationContext {
  readonly op: StackOperation;
  readonly phase: Phase;
  readonly failures: ResourceFailure[];
  /** True once the operation stops waiting for what is in progress (a failure, or a Delete of the stack). */
  cancelled(): boolean;
}

/**
 * A stack, deployed and changed through a model of CloudFormation. `start` takes the first template;
 * `deploy`, `update` and `delete` are the stack operations, one at a time, except that `delete` may
 * be called while `deploy` runs (CloudFormation cancels the creation, then deletes).
 */
export class OrchestratedStack {
  public static async start(stack: Stack | Template, options: OrchestrationOptions = {}): Promise<OrchestratedStack> {
    const template = asTemplate(stack);
    const deployment = await LocalDeployment.startFromTemplate(template, options);
    const model = new OrchestratedStack(template, deployment, options);
    await model.listen();
    return model;
  }

  /** Every operation so far, in order. */
  public readonly operations: StackOperation[] = [];
  /** Every request sent to the waiter function, across operations. */
  public readonly requests: CustomResourceRequest[] = [];
  /** Every call the model refused (a resource not created yet, IAM, a running export of the graph), in order. */
  public readonly refusals: Array<{ readonly call: GatedCall; readonly refusal: CallRefusal; readonly at: number }> = [];
  /** The stack name CloudFormation would show (from the receiver's stack id). */
  public readonly stackName: string;

  private template: Template;
  private parameters: Record<string, string> = {};
  private readonly live = new Map<string, StackResource>();
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly proxies: http.Server[] = [];
  private readonly plausible = new WeakMap<Template, Record<string, ResourceValues>>();
  private readonly statementCache = new WeakMap<StackResource, Statement[]>();
  private readonly knownTemplates: Template[] = [];
  private stackStatus: StackStatus | 'NOT_CREATED' | 'IN_PROGRESS' = 'NOT_CREATED';
  private busy = false;
  private deleteRequested = false;
  private creation?: Promise<StackOperation>;

  private constructor(template: Template, public readonly deployment: LocalDeployment, private readonly options: OrchestrationOptions) {
    this.template = template;
    this.knownTemplates.push(template);
    this.stackName = deployment.cloudFormation.stackId.split('/')[1] ?? 'harness-stack';
    this.scheduler = new Scheduler(deployment);
    this.random = seededRandom((options.seed ?? 1) + 104729);
    deployment.gate = (call) => this.gate(call);
  }

  /** The stack's status after the last operation (IN_PROGRESS while one runs). */
  public get status(): StackStatus | 'NOT_CREATED' | 'IN_PROGRESS' {
    return this.stackStatus;
  }

  /** The template the stack has now. */
  public get currentTemplate(): Template {
    return this.template;
  }

  /** A resource of the stack as it exists now, or undefined. */
  public resource(logicalId: string): StackResource | undefined {
    return this.live.get(logicalId);
  }

  /** The logical ids of the stack's resources of a type (in template order). */
  public logicalIdsOfType(type: string, template: Template = this.template): string[] {
    return Object.entries(template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);
  }

  // Stack operations ----------------------------------------------------------------------------

  /** CreateStack with the template given to `start`. */
  public deploy(options: OperationOptions = {}): Promise<StackOperation> {
    this.creation = this.exclusive(() => this.create(options));
    return this.creation;
  }

  /** UpdateStack to another template (a CDK stack is synthesized here). */
  public update(next: Stack | Template, options: OperationOptions = {}): Promise<StackOperation> {
    return this.exclusive(() => this.change(asTemplate(next), options));
  }

  /**
   * DeleteStack. During a `deploy`, CloudFormation cancels what is being created first (custom
   * resources still waiting end CREATE_FAILED "Resource creation cancelled"), then deletes.
   */
  public async delete(options: OperationOptions = {}): Promise<StackOperation> {
    if (this.busy && this.creation) {
      this.deleteRequested = true;
      const interrupted = await this.creation;
      this.deleteRequested = false;
      const deleted = await this.exclusive(() => this.remove(options));
      interrupted.status = deleted.status as StackStatus;
      return deleted;
    }
    return this.exclusive(() => this.remove(options));
  }

  /** Waits until no invocation or execution runs in the deployment, then stops everything. */
  public async stop(): Promise<void> {
    this.scheduler.stop();
    await this.deployment.stop();
    for (const proxy of this.proxies) {
      proxy.closeAllConnections();
      await new Promise<void>((done) => proxy.close(() => done()));
    }
  }

  // -------------------------------------------------------------------------------------------

  private async exclusive(run: () => Promise<StackOperation>): Promise<StackOperation> {
    if (this.busy) throw new Error('A stack operation is in progress: CloudFormation runs one at a time');
    this.busy = true;
    try {
      return await run();
    } finally {
      this.busy = false;
    }
  }

  private begin(kind: StackOperation['kind'], options: OperationOptions): { op: StackOperation; failures: ResourceFailure[] } {
    const op: StackOperation = { kind, status: 'IN_PROGRESS', events: [], requests: [], startedAt: this.now() };
    this.operations.push(op);
    this.stackStatus = 'IN_PROGRESS';
    if (options.parameters) this.parameters = { ...this.parameters, ...options.parameters };
    return { op, failures: [...(options.failures ?? [])] };
  }

  private end(op: StackOperation, status: StackStatus, reason?: string): StackOperation {
    this.stackEvent(op, status, reason);
    op.status = status;
    op.endedAt = this.now();
    this.stackStatus = status;
    return op;
  }

  private async create(options: OperationOptions): Promise<StackOperation> {
    if (this.stackStatus !== 'NOT_CREATED') throw new Error(`CreateStack on a stack in ${this.stackStatus}`);
    const { op, failures } = this.begin('CREATE', options);
    const template = this.template;
    this.stackEvent(op, 'CREATE_IN_PROGRESS', 'User Initiated');
    const ids = Object.keys(template.Resources);
    const ctx = (cancelled: () => boolean): OperationContext => ({ op, phase: 'forward', failures, cancelled });
    const failed = await this.forward(ids, dependencies(template), true, (id, context) => this.createResource(id, template, ctx(context)));
    if (this.deleteRequested) {
      // The Delete that interrupted the creation takes over; its status becomes this one's too.
      op.endedAt = this.now();
      return op;
    }
    if (failed.length === 0) return this.end(op, 'CREATE_COMPLETE');
    this.stackEvent(op, 'ROLLBACK_IN_PROGRESS', `The following resource(s) failed to create: [${failed.join(', ')}]. Rollback requested by user.`);
    const deleted = await this.deleteResources([...this.live.keys()], { op, phase: 'rollback', failures, cancelled: () => false });
    return this.end(op, deleted ? 'ROLLBACK_COMPLETE' : 'ROLLBACK_FAILED');
  }

  private async change(next: Template, options: OperationOptions): Promise<StackOperation> {
    if (!['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE'].includes(this.stackStatus)) {
      throw new Error(`UpdateStack on a stack in ${this.stackStatus}`);
    }
    const previous = this.template;
    const previousParameters = this.parameters;
    this.knownTemplates.push(next);
    const { op, failures } = this.begin('UPDATE', options);
    this.stackEvent(op, 'UPDATE_IN_PROGRESS', 'User Initiated');
    const changes = new Map<string, Change>();
    const forward = (cancelled: () => boolean): OperationContext => ({ op, phase: 'forward', failures, cancelled });
    const failed = await this.forward(Object.keys(next.Resources), dependencies(next), true, (id, cancelled) =>
      (this.live.has(id) ? this.updateResource(id, next, forward(cancelled), changes) : this.createResource(id, next, forward(cancelled), changes)));

    if (failed.length === 0) {
      this.template = next;
      this.stackEvent(op, 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      const cleanup: OperationContext = { op, phase: 'cleanup', failures, cancelled: () => false };
      // Deletes here cannot fail the update (it can no longer roll back): they only leave events.
      await this.deleteResources([...this.live.keys()].filter((id) => next.Resources[id] === undefined), cleanup);
      await this.deleteReplaced(changes, cleanup);
      return this.end(op, 'UPDATE_COMPLETE');
    }

    const verb = failed.every((id) => changes.get(id)?.kind === 'created') ? 'create' : 'update';
    this.stackEvent(op, 'UPDATE_ROLLBACK_IN_PROGRESS', `The following resource(s) failed to ${verb}: [${failed.join(', ')}].`);
    this.parameters = previousParameters;
    const rollback: OperationContext = { op, phase: 'rollback', failures, cancelled: () => false };
    const orphans: Array<{ logicalId: string; resource: StackResource }> = [];
    const rolledBack = await this.forward(
      [...changes].filter(([, c]) => c.kind === 'updated').map(([id]) => id), dependencies(previous), false,
      (id) => this.rollbackUpdate(id, changes.get(id) as Extract<Change, { kind: 'updated' }>, rollback, orphans),
    );
    if (rolledBack.length > 0) return this.end(op, 'UPDATE_ROLLBACK_FAILED');
    this.template = previous;
    this.stackEvent(op, 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    const cleanup: OperationContext = { op, phase: 'cleanup', failures, cancelled: () => false };
    await this.deleteResources([...changes].filter(([, c]) => c.kind === 'created').map(([id]) => id), cleanup);
    for (const orphan of orphans) await this.deletePhysical(orphan.logicalId, orphan.resource, cleanup);
    return this.end(op, 'UPDATE_ROLLBACK_COMPLETE');
  }

  private async remove(options: OperationOptions): Promise<StackOperation> {
    const { op, failures } = this.begin('DELETE', options);
    this.stackEvent(op, 'DELETE_IN_PROGRESS', 'User Initiated');
    const deleted = await this.deleteResources([...this.live.keys()], { op, phase: 'forward', failures, cancelled: () => false });
    const result = this.end(op, deleted ? 'DELETE_COMPLETE' : 'DELETE_FAILED');
    if (deleted) this.stackStatus = 'NOT_CREATED';
    return result;
  }

  /**
   * Runs one operation per resource in dependency order, each as soon as what it depends on is done
   * (dependencies outside `ids` count as done). When `stopOnFailure`, a failure (or a Delete of the
   * stack) stops starting new ones and cancels what is in progress. Returns the ids that failed.
   */
  private async forward(
    ids: string[],
    deps: Map<string, Set<string>>,
    stopOnFailure: boolean,
    run: (id: string, cancelled: () => boolean) => Promise<Completion>,
  ): Promise<string[]> {
    const inScope = new Set(ids);
    const done = new Set<string>();
    const started = new Set<string>();
    const failed: string[] = [];
    let stopped = false;
    const running = new Map<string, Promise<void>>();
    const cancelled = () => stopOnFailure && (stopped || this.deleteRequested);
    for (;;) {
      if (!cancelled()) {
        for (const id of ids) {
          if (started.has(id) || ![...(deps.get(id) ?? [])].every((d) => done.has(d) || !inScope.has(d))) continue;
          started.add(id);
          running.set(id, run(id, cancelled).then((outcome) => {
            if (outcome === true) {
              done.add(id);
              return;
            }
            // What was cancelled did not fail: CloudFormation names only the resources that did.
            if (outcome === false) failed.push(id);
            stopped = true;
          }).finally(() => running.delete(id)));
        }
      }
      if (running.size === 0) return failed;
      await Promise.race(running.values());
    }
  }

  /** Deletes resources of the stack, each once nothing that depends on it is left. True if all were deleted. */
  private async deleteResources(ids: string[], ctx: OperationContext): Promise<boolean> {
    const inScope = new Set(ids.filter((id) => this.live.has(id)));
    const dependents = new Map<string, Set<string>>();
    for (const id of inScope) dependents.set(id, new Set());
    for (const id of inScope) {
      const resource = this.live.get(id)!;
      for (const dep of dependencies(resource.template).get(id) ?? []) dependents.get(dep)?.add(id);
    }
    const failed = await this.forward([...inScope], dependents, false, (id) => this.deleteResource(id, ctx));
    return failed.length === 0;
  }

  // One resource --------------------------------------------------------------------------------

  private async createResource(id: string, template: Template, ctx: OperationContext, changes?: Map<string, Change>): Promise<Completion> {
    const definition = template.Resources[id];
    const type = definition.Type;
    changes?.set(id, { kind: 'created' });
    this.event(ctx.op, id, type, 'CREATE_IN_PROGRESS');
    const properties = (definition.Properties ?? {}) as Json;
    const resolved = this.resolveProperties(properties);
    const base = { logicalId: id, type, template, properties, resolved, attributes: {} };

    if (this.servedByWaiter(type, resolved)) {
      const request = await this.request(ctx, id, type, 'Create', { properties: resolved });
      const answer = request.answer;
      if (request.outcome === 'SUCCESS' && answer?.PhysicalResourceId) {
        this.live.set(id, { ...base, physicalId: answer.PhysicalResourceId, attributes: answer.Data ?? {} });
        this.event(ctx.op, id, type, 'CREATE_COMPLETE', undefined, answer.PhysicalResourceId);
        return true;
      }
      // CloudFormation sends a Delete after a failed Create: with the id the answer gave, or one it makes up.
      const physicalId = request.outcome === 'FAILED' && answer?.PhysicalResourceId ? answer.PhysicalResourceId : this.generatedPhysicalId(id);
      this.live.set(id, { ...base, physicalId });
      this.event(ctx.op, id, type, 'CREATE_FAILED', failureReason(request, 'creation'), physicalId);
      return request.outcome === 'CANCELLED' ? 'cancelled' : false;
    }

    if (type === WAIT_CONDITION) return this.waitForSignals(id, base, ctx);

    const failure = await this.operate(id, type, 'Create', ctx);
    if (failure === 'cancelled') {
      this.event(ctx.op, id, type, 'CREATE_FAILED', 'Resource creation cancelled');
      return 'cancelled';
    }
    if (failure) {
      this.event(ctx.op, id, type, 'CREATE_FAILED', failure);
      return false;
    }
    const physicalId = this.physicalValueOf(id, template);
    this.live.set(id, { ...base, physicalId });
    this.event(ctx.op, id, type, 'CREATE_COMPLETE', undefined, physicalId);
    return true;
  }

  private async updateResource(id: string, template: Template, ctx: OperationContext, changes: Map<string, Change>): Promise<Completion> {
    const current = this.live.get(id)!;
    const definition = template.Resources[id];
    if (definition.Type !== current.type) throw new Error(`${id}: the model does not replace a resource whose type changes (${current.type} -> ${definition.Type})`);
    const properties = (definition.Properties ?? {}) as Json;
    const resolved = this.resolveProperties(properties);
    const type = current.type;
    if (sameJson(resolved, current.resolved)) {
      // Nothing CloudFormation would change, but later reads must see this template's properties.
      this.live.set(id, { ...current, template, properties });
      return true;
    }
    this.event(ctx.op, id, type, 'UPDATE_IN_PROGRESS');

    if (this.servedByWaiter(type, current.resolved) || this.servedByWaiter(type, resolved)) {
      if (!sameJson(resolved.ServiceToken, current.resolved.ServiceToken)) {
        changes.set(id, { kind: 'refused' });
        this.event(ctx.op, id, type, 'UPDATE_FAILED', 'Modifying service token is not allowed.');
        return false;
      }
      const change: Change = { kind: 'updated', before: current, sent: resolved };
      changes.set(id, change);
      const request = await this.request(ctx, id, type, 'Update', { properties: resolved, oldProperties: current.resolved, physicalId: current.physicalId });
      const answer = request.answer;
      if (request.outcome === 'SUCCESS' && answer?.PhysicalResourceId) {
        this.live.set(id, { ...current, template, properties, resolved, physicalId: answer.PhysicalResourceId, attributes: answer.Data ?? {} });
        if (answer.PhysicalResourceId !== current.physicalId) change.replacedPhysicalId = current.physicalId;
        this.event(ctx.op, id, type, 'UPDATE_COMPLETE', undefined, answer.PhysicalResourceId);
        return true;
      }
      // A failed update keeps the physical id the resource had (the answer's is not adopted; unverified).
      this.event(ctx.op, id, type, 'UPDATE_FAILED', failureReason(request, 'update'), current.physicalId);
      return request.outcome === 'CANCELLED' ? 'cancelled' : false;
    }

    if (type === WAIT_CONDITION || type === WAIT_CONDITION_HANDLE) {
      changes.set(id, { kind: 'refused' });
      this.event(ctx.op, id, type, 'UPDATE_FAILED', 'Update of resource type is not permitted');
      return false;
    }

    changes.set(id, { kind: 'updated', before: current });
    const failure = await this.operate(id, type, 'Update', ctx);
    if (failure) {
      this.event(ctx.op, id, type, 'UPDATE_FAILED', failure === 'cancelled' ? 'Resource update cancelled' : failure);
      return failure === 'cancelled' ? 'cancelled' : false;
    }
    this.live.set(id, { ...current, template, properties, resolved });
    this.event(ctx.op, id, type, 'UPDATE_COMPLETE', undefined, current.physicalId);
    return true;
  }

  /** UPDATE_ROLLBACK_IN_PROGRESS: back to the properties (and, for other resources, the state) before the update. */
  private async rollbackUpdate(
    id: string,
    change: Extract<Change, { kind: 'updated' }>,
    ctx: OperationContext,
    orphans: Array<{ logicalId: string; resource: StackResource }>,
  ): Promise<boolean> {
    const current = this.live.get(id)!;
    const { before } = change;
    this.event(ctx.op, id, current.type, 'UPDATE_IN_PROGRESS');
    if (change.sent === undefined) {
      await this.operate(id, current.type, 'Update', ctx);
      this.live.set(id, before);
      this.event(ctx.op, id, current.type, 'UPDATE_COMPLETE', undefined, before.physicalId);
      return true;
    }
    // ResourceProperties=OLD, OldResourceProperties=NEW, to the physical id the resource has now.
    const request = await this.request(ctx, id, current.type, 'Update', {
      properties: before.resolved,
      oldProperties: change.sent,
      physicalId: current.physicalId,
    });
    const answer = request.answer;
    if (request.outcome === 'SUCCESS' && answer?.PhysicalResourceId) {
      this.live.set(id, { ...before, physicalId: answer.PhysicalResourceId, attributes: answer.Data ?? {} });
      // The rollback answered another id: the one the resource had is deleted in the cleanup.
      if (answer.PhysicalResourceId !== current.physicalId) orphans.push({ logicalId: id, resource: current });
      this.event(ctx.op, id, current.type, 'UPDATE_COMPLETE', undefined, answer.PhysicalResourceId);
      return true;
    }
    this.event(ctx.op, id, current.type, 'UPDATE_FAILED', failureReason(request, 'update'), current.physicalId);
    return false;
  }

  private async deleteResource(id: string, ctx: OperationContext): Promise<boolean> {
    const resource = this.live.get(id)!;
    this.event(ctx.op, id, resource.type, 'DELETE_IN_PROGRESS');
    if (this.servedByWaiter(resource.type, resource.resolved)) return this.deletePhysical(id, resource, ctx, true);
    const failure = await this.operate(id, resource.type, 'Delete', ctx);
    if (failure) {
      this.event(ctx.op, id, resource.type, 'DELETE_FAILED', failure);
      return false;
    }
    this.live.delete(id);
    if (resource.type === 'AWS::StepFunctions::StateMachine' && this.values().arns[id] === this.deployment.stateMachineArn) {
      this.deployment.stopRunningExecutions('States.Terminated', 'The state machine was deleted');
    }
    this.event(ctx.op, id, resource.type, 'DELETE_COMPLETE');
    return true;
  }

  /** A Delete request for one physical id of a custom resource (the resource's own, or one it was replaced from). */
  private async deletePhysical(id: string, resource: StackResource, ctx: OperationContext, ownId = false): Promise<boolean> {
    if (!ownId) this.event(ctx.op, id, resource.type, 'DELETE_IN_PROGRESS', undefined, resource.physicalId);
    const request = await this.request(ctx, id, resource.type, 'Delete', { properties: resource.resolved, physicalId: resource.physicalId });
    if (request.outcome !== 'SUCCESS') {
      this.event(ctx.op, id, resource.type, 'DELETE_FAILED', failureReason(request, 'deletion'), resource.physicalId);
      return false;
    }
    if (ownId && this.live.get(id) === resource) this.live.delete(id);
    this.event(ctx.op, id, resource.type, 'DELETE_COMPLETE', undefined, resource.physicalId);
    return true;
  }

  private async deleteReplaced(changes: Map<string, Change>, ctx: OperationContext): Promise<void> {
    for (const [id, change] of changes) {
      if (change.kind === 'updated' && change.replacedPhysicalId !== undefined) {
        await this.deletePhysical(id, { ...change.before, physicalId: change.replacedPhysicalId }, ctx);
      }
    }
  }

  /** AWS::CloudFormation::WaitCondition: waits for `Count` SUCCESS signals to its handle, at most `Timeout` seconds. */
  private async waitForSignals(id: string, base: Omit<StackResource, 'physicalId'>, ctx: OperationContext): Promise<Completion> {
    const handle = (base.properties.Handle as { Ref?: string } | undefined)?.Ref;
    if (typeof handle !== 'string') throw new Error(`WaitCondition ${id} has no Handle { Ref: <handle> }`);
    const count = Number(base.resolved.Count ?? 1);
    const timeout = Number(base.resolved.Timeout);
    type Signal = { Status?: string; UniqueId?: string; Reason?: string };
    const signals = () => this.deployment.cloudFormation.signals(handle).map((s) => s.body as Signal);
    const failure = () => signals().find((s) => s.Status === 'FAILURE');
    const successes = () => signals().filter((s) => s.Status === 'SUCCESS').length;
    const ended = await this.scheduler.when(() => failure() !== undefined || successes() >= count || ctx.cancelled(), this.now() + timeout);
    const failed = failure();
    let reason: string | undefined;
    if (failed) reason = `WaitCondition received failed message: '${failed.Reason ?? ''}' for uniqueId: ${failed.UniqueId ?? ''}`;
    else if (!ended) reason = `WaitCondition timed out. Received ${successes()} conditions when expecting ${count}`;
    else if (successes() < count) reason = 'Resource creation cancelled';
    const physicalId = this.physicalValueOf(id, base.template);
    if (reason) {
      this.event(ctx.op, id, base.type, 'CREATE_FAILED', reason);
      return failed || !ended ? false : 'cancelled';
    }
    this.live.set(id, { ...base, physicalId });
    this.event(ctx.op, id, base.type, 'CREATE_COMPLETE', undefined, physicalId);
    return true;
  }

  /**
   * The virtual time a resource operation takes, or the injected failure (its reason), or
   * 'cancelled' when the stack operation stopped waiting for it.
   */
  private async operate(id: string, type: string, action: ResourceAction, ctx: OperationContext): Promise<string | undefined> {
    const failure = ctx.failures.find((f) => f.logicalId === id && f.action === action);
    if (failure) ctx.failures.splice(ctx.failures.indexOf(failure), 1);
    const seconds = failure?.afterSeconds ?? this.durationOf(id, type, action);
    const interrupted = await this.scheduler.when(() => ctx.cancelled(), this.now() + seconds);
    if (interrupted && action !== 'Delete') return 'cancelled';
    return failure ? failure.reason ?? 'Injected failure' : undefined;
  }

  private durationOf(logicalId: string, type: string, action: ResourceAction): number {
    const setting = this.options.operationSeconds ?? DEFAULT_OPERATION_SECONDS;
    return typeof setting === 'number' ? setting : setting({ logicalId, type, action });
  }

  /** Sends a request to the waiter function and waits for its answer, ServiceTimeout or cancellation. */
  private async request(
    ctx: OperationContext,
    logicalId: string,
    resourceType: string,
    requestType: RequestType,
    fields: { properties: Json; oldProperties?: Json; physicalId?: string },
  ): Promise<CustomResourceRequest> {
    const serviceToken = String(fields.properties.ServiceToken);
    if (serviceToken !== this.deployment.functionArn) {
      throw new Error(`${logicalId}: its ServiceToken ${serviceToken} is not the function the deployment serves (${this.deployment.functionArn}); the model serves one waiter function`);
    }
    const event = this.deployment.cloudFormation.event(requestType, fields.properties, {
      resourceType,
      logicalResourceId: logicalId,
      physicalResourceId: fields.physicalId,
      oldProperties: fields.oldProperties,
      serviceToken,
    });
    const request: CustomResourceRequest = { logicalId, requestType, phase: ctx.phase, event, sentAt: this.now(), outcome: 'PENDING' };
    ctx.op.requests.push(request);
    this.requests.push(request);
    // CloudFormation invokes the function asynchronously (Lambda retries a failed invocation) and waits for the answer at the ResponseURL.
    void this.deployment.deliver(event).catch(() => undefined);
    const deadline = request.sentAt + Number(fields.properties.ServiceTimeout ?? DEFAULT_SERVICE_TIMEOUT);
    const answers = () => this.deployment.cloudFormation.answers(event.RequestId);
    const cancellable = requestType !== 'Delete';
    await this.scheduler.when(() => answers().length > 0 || (cancellable && ctx.cancelled()), deadline);
    const answer = answers()[0];
    if (answer && answer.receivedAt / 1000 <= deadline) {
      const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as CustomResourceAnswer;
      request.answer = body;
      request.answeredAt = answer.receivedAt / 1000;
      request.outcome = body.Status === 'SUCCESS' && body.PhysicalResourceId ? 'SUCCESS' : 'FAILED';
    } else {
      request.outcome = cancellable && ctx.cancelled() && this.now() < deadline ? 'CANCELLED' : 'TIMED_OUT';
    }
    return request;
  }

  // Values ------------------------------------------------------------------------------------

  private now(): number {
    return this.deployment.clock.now();
  }

  private stackEvent(op: StackOperation, status: string, reason?: string): void {
    op.events.push({ logicalId: this.stackName, type: STACK_TYPE, status, at: this.now(), ...(reason === undefined ? {} : { reason }) });
  }

  private event(op: StackOperation, logicalId: string, type: string, status: string, reason?: string, physicalId?: string): void {
    op.events.push({
      logicalId,
      type,
      status,
      at: this.now(),
      ...(reason === undefined ? {} : { reason }),
      ...(physicalId === undefined ? {} : { physicalId }),
    });
  }

  /** Not documented: `<stack name>-<logical id>-<12 characters>`, the way CloudFormation names resources it names itself. */
  private generatedPhysicalId(logicalId: string): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    let suffix = '';
    for (let i = 0; i < 12; i++) suffix += alphabet[Math.floor(this.random() * alphabet.length)];
    return `${this.stackName}-${logicalId}-${suffix}`;
  }

  /** A custom resource that the waiter function serves (its ServiceToken resolves to the function's ARN, or to another waiter function's). */
  private servedByWaiter(type: string, resolved: Json): boolean {
    if (!type.startsWith('Custom::') && type !== 'AWS::CloudFormation::CustomResource') return false;
    const token = resolved.ServiceToken;
    if (token === this.deployment.functionArn) return true;
    return typeof token === 'string' && this.waiterFunctionArns().includes(token);
  }

  /** ARNs of every function in the templates seen that carries the waiter's environment variable. */
  private waiterFunctionArns(): string[] {
    const arns: string[] = [];
    for (const template of this.knownTemplates) {
      for (const [id, r] of Object.entries(template.Resources)) {
        const variables = ((r.Properties?.Environment as { Variables?: Json } | undefined)?.Variables ?? {});
        if (r.Type === 'AWS::Lambda::Function' && variables[Env.STATE_MACHINE_ARN] !== undefined) arns.push(functionArn(id));
      }
    }
    return arns;
  }

  /** The Ref value of a resource that is not a custom resource. */
  private physicalValueOf(id: string, template: Template): string {
    const pseudo = this.values();
    return pseudo.refs?.[id] ?? pseudo.arns[id] ?? this.plausibleValues(template)[id]?.ref ?? id;
  }

  private plausibleValues(template: Template): Record<string, ResourceValues> {
    let values = this.plausible.get(template);
    if (!values) {
      values = plausibleResourceValues(template, { partition: PARTITION, region: REGION, account: ACCOUNT });
      this.plausible.set(template, values);
    }
    return values;
  }

  /**
   * What Ref and Fn::GetAtt resolve to now: plausible values for every resource of every template
   * seen, the test's own `resourceValues`, the functions' and state machines' ARNs as the deployment
   * names them, WaitConditionHandle URLs of the receiver, parameters, custom resources' physical ids
   * and Data, and WaitConditions' Data once signalled.
   */
  private values(): Pseudo {
    const arns: Record<string, string> = {};
    const refs: Record<string, string> = {};
    const attributes: Record<string, Record<string, string>> = {};
    const add = (id: string, value: ResourceValues) => {
      if (value.ref !== undefined) refs[id] = value.ref;
      if (value.attributes) attributes[id] = { ...attributes[id], ...value.attributes };
    };
    for (const template of this.knownTemplates) {
      for (const [id, value] of Object.entries(this.plausibleValues(template))) add(id, value);
      for (const [id, r] of Object.entries(template.Resources)) {
        if (r.Type === 'AWS::Lambda::Function') arns[id] = functionArn(id);
        if (r.Type === 'AWS::StepFunctions::StateMachine') arns[id] = `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${String(r.Properties?.StateMachineName ?? id)}`;
        if (r.Type === WAIT_CONDITION_HANDLE) refs[id] = this.deployment.cloudFormation.waitConditionHandle(id);
      }
      for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
        if (parameter.Default !== undefined) refs[name] = String(parameter.Default);
      }
    }
    refs['AWS::StackId'] = this.deployment.cloudFormation.stackId;
    refs['AWS::StackName'] = this.stackName;
    Object.assign(refs, this.parameters);
    for (const [id, value] of Object.entries(this.options.resourceValues ?? {})) add(id, value);
    for (const [id, resource] of this.live) {
      if (resource.type.startsWith('Custom::')) add(id, { ref: resource.physicalId, attributes: resource.attributes });
      if (resource.type === WAIT_CONDITION) {
        const handle = (resource.properties.Handle as { Ref?: string } | undefined)?.Ref;
        const receiver = this.deployment.cloudFormation;
        if (handle && receiver.signals(handle).length > 0) add(id, { attributes: { Data: receiver.waitConditionData(handle) } });
      }
    }
    return { partition: PARTITION, region: REGION, account: ACCOUNT, arns, refs, attributes };
  }

  /** Properties as CloudFormation resolves them (and sends them to a custom resource: every scalar a string). */
  private resolveProperties(properties: Json): Json {
    return asCloudFormationSends(resolvePartially(expandSub(properties), this.values())) as Json;
  }

  // The gate: what exists, what IAM allows ---------------------------------------------------------

  private gate(call: GatedCall): CallRefusal | undefined {
    const refusal = this.refusalOf(call);
    if (refusal) this.refusals.push({ call, refusal, at: this.now() });
    return refusal;
  }

  private refusalOf(call: GatedCall): CallRefusal | undefined {
    const api = call.caller === 'handler';
    const input = call.input;
    const field = (name: string) => input[name] ?? input[name.charAt(0).toLowerCase() + name.slice(1)];
    const arn = (service: string, resource: string) => `arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${resource}`;
    const checks: Array<{ action: string; resource: string; context?: Record<string, string> }> = [];
    switch (call.service) {
      case 'states': {
        const machine = String(field('StateMachineArn') ?? '');
        const execution = String(field('ExecutionArn') ?? '');
        if (['StartExecution', 'ListExecutions'].includes(call.operation) && !this.exists('AWS::StepFunctions::StateMachine', machine)) {
          const message = `State Machine Does Not Exist: '${machine}'`;
          return api ? { error: 'StateMachineDoesNotExist', message, httpStatus: 400 } : { error: 'StepFunctions.StateMachineDoesNotExistException', message };
        }
        checks.push({ action: `states:${call.operation}`, resource: machine || execution });
        break;
      }
      case 'lambda': {
        const name = String(field('FunctionName') ?? '');
        const fn = name.startsWith('arn:') ? name : functionArn(name);
        if (!this.exists('AWS::Lambda::Function', fn)) {
          return { error: 'Lambda.ResourceNotFoundException', message: `Function not found: ${fn}` };
        }
        checks.push({ action: 'lambda:InvokeFunction', resource: fn });
        break;
      }
      case 'neptune-graph': {
        const task = arn('neptune-graph', `export-task/${String(field('TaskIdentifier') ?? '*')}`);
        if (call.operation === 'StartExportTask') {
          const graphId = String(field('GraphIdentifier') ?? '');
          checks.push({ action: 'neptune-graph:StartExportTask', resource: arn('neptune-graph', `graph/${graphId}`) });
          checks.push({ action: 'neptune-graph:StartExportTask', resource: task });
          checks.push({ action: 'iam:PassRole', resource: String(field('RoleArn') ?? ''), context: { 'iam:passedtoservice': 'neptune-graph.amazonaws.com' } });
          const tags = field('Tags');
          if (tags && typeof tags === 'object' && Object.keys(tags).length > 0) checks.push({ action: 'neptune-graph:TagResource', resource: task });
        } else {
          checks.push({ action: `neptune-graph:${call.operation}`, resource: task });
        }
        break;
      }
      case 'ssm': {
        const name = String(field('Name') ?? field('Path') ?? '');
        checks.push({ action: `ssm:${call.operation}`, resource: arn('ssm', `parameter/${name.replace(/^\//, '')}`) });
        break;
      }
      default:
        return undefined;
    }
    if (this.options.iam !== false) {
      const role = this.roleOf(call.caller);
      for (const check of checks) {
        const denial = this.denied(role, check.action, check.resource, check.context ?? {});
        if (denial) {
          const prefix = { 'states': 'StepFunctions', 'lambda': 'Lambda', 'neptune-graph': 'NeptuneGraph', 'ssm': 'SSM' }[call.service];
          // Step Functions' name for an IAM denial of its Lambda integration is unverified.
          const error = api ? 'AccessDeniedException' : call.service === 'lambda' ? 'Lambda.AWSLambdaException' : `${prefix}.AccessDeniedException`;
          return { error, message: denial, httpStatus: 400 };
        }
      }
    }
    if (call.service === 'neptune-graph' && call.operation === 'StartExportTask' && this.options.oneExportPerGraph !== false) {
      const graphId = String(field('GraphIdentifier') ?? '');
      const running = this.startedTasks().find((t) => t.graphId === graphId && !TERMINAL_TASK_STATUSES.has(t.status));
      if (running) {
        const message = `Export task ${running.taskId} of graph ${graphId} is still running`;
        return api ? { error: 'ConflictException', message, httpStatus: 409 } : { error: 'NeptuneGraph.ConflictException', message };
      }
    }
    return undefined;
  }

  /** Tasks started through StartExportTask, with their status now. */
  public startedTasks(): Array<{ taskId: string; graphId: string; status: string }> {
    return this.deployment.emulator.calls
      .filter((c) => c.operation === 'StartExportTask' && c.httpStatus === 201 && c.taskId)
      .flatMap((c) => {
        const task = this.deployment.emulator.task(c.taskId!);
        return task ? [{ taskId: c.taskId!, graphId: String(task.describe().graphId ?? ''), status: task.status() }] : [];
      });
  }

  /** Whether a function or state machine with this ARN is a created resource of the stack. */
  private exists(type: string, arn: string): boolean {
    const arns = this.values().arns;
    return [...this.live.values()].some((r) => r.type === type && arns[r.logicalId] === arn);
  }

  /** The logical id of the role the waiter function or the state machine runs as (undefined: not a role of the template). */
  private roleOf(caller: GatedCall['caller']): string | undefined {
    const type = caller === 'handler' ? 'AWS::Lambda::Function' : 'AWS::StepFunctions::StateMachine';
    const arn = caller === 'handler' ? this.deployment.functionArn : this.deployment.stateMachineArn;
    const arns = this.values().arns;
    const owner = [...this.knownTemplates].reverse()
      .flatMap((t) => Object.entries(t.Resources))
      .find(([id, r]) => r.Type === type && arns[id] === arn);
    const role = owner?.[1].Properties?.[caller === 'handler' ? 'Role' : 'RoleArn'] as { 'Fn::GetAtt'?: [string, string] } | undefined;
    return role?.['Fn::GetAtt']?.[0];
  }

  /** Why IAM refuses the call, or undefined when the policies in effect allow it. */
  private denied(roleId: string | undefined, action: string, resource: string, context: Record<string, string>): string | undefined {
    if (roleId === undefined) return undefined;
    const values = this.values();
    const principal = `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/${values.refs?.[roleId] ?? roleId}/local`;
    const refusal = `User: ${principal} is not authorized to perform: ${action} on resource: ${resource}`;
    const role = this.live.get(roleId);
    if (!role) return `${refusal} because the role does not exist (yet)`;
    const statements = this.statementsOf(role, values.refs?.[roleId]);
    const applies = (s: Statement) =>
      matchesAny(s.actions, action, true) && matchesAny(s.resources, resource, false) && conditionsHold(s.conditions, context);
    if (statements.some((s) => s.effect === 'Deny' && applies(s))) return `${refusal} with an explicit deny`;
    if (statements.some((s) => s.effect === 'Allow' && applies(s))) return undefined;
    return `${refusal} because no identity-based policy allows the ${action} action`;
  }

  /** The statements in effect for a role: its inline policies and every created AWS::IAM::Policy attached to it. */
  private statementsOf(role: StackResource, roleName: string | undefined): Statement[] {
    const statements: Statement[] = [];
    const inline = (role.properties.Policies as Array<{ PolicyDocument?: unknown }> | undefined) ?? [];
    statements.push(...this.cachedStatements(role, () => inline.flatMap((p) => parseStatements(p.PolicyDocument))));
    for (const policy of this.live.values()) {
      if (policy.type !== 'AWS::IAM::Policy') continue;
      const roles = (policy.resolved.Roles as unknown[] | undefined) ?? [];
      const attached = (policy.properties.Roles as unknown[] | undefined ?? []).some((r) => (r as { Ref?: string }).Ref === role.logicalId)
        || (roleName !== undefined && roles.includes(roleName));
      if (attached) statements.push(...this.cachedStatements(policy, () => parseStatements(policy.resolved.PolicyDocument)));
    }
    return statements;
  }

  private cachedStatements(resource: StackResource, parse: () => Statement[]): Statement[] {
    let statements = this.statementCache.get(resource);
    if (!statements) {
      statements = parse();
      this.statementCache.set(resource, statements);
    }
    return statements;
  }

  /**
   * The handler reaches Step Functions, Parameter Store and Neptune Analytics through proxies here,
   * so its calls pass the same gate as the state machine's: a refused call is answered the way that
   * API answers errors, and everything else goes on to the deployment's endpoint unchanged.
   */
  private async listen(): Promise<void> {
    const json = (protocol: string) => (refusal: CallRefusal): Reply => ({
      status: refusal.httpStatus ?? 400,
      headers: { 'content-type': `application/x-amz-json-${protocol}`, 'x-amzn-errortype': refusal.error },
      body: JSON.stringify({ __type: refusal.error, message: refusal.message }),
    });
    const targetOperation = (req: http.IncomingMessage) => String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    await this.gateway('AWS_ENDPOINT_URL_SFN', 'states', (req, _path, input) => ({ operation: targetOperation(req), input }), json('1.0'));
    await this.gateway('AWS_ENDPOINT_URL_SSM', 'ssm', (req, _path, input) => ({ operation: targetOperation(req), input }), json('1.1'));
    await this.gateway('AWS_ENDPOINT_URL_NEPTUNE_GRAPH', 'neptune-graph', (req, path, input) => {
      const label = /^\/exporttasks\/([^/]+)$/.exec(path)?.[1];
      const operation = req.method === 'POST' ? 'StartExportTask'
        : req.method === 'DELETE' ? 'CancelExportTask'
          : label === undefined ? 'ListExportTasks' : 'GetExportTask';
      return { operation, input: label === undefined ? input : { ...input, taskIdentifier: decodeURIComponent(label) } };
    }, (refusal) => ({
      // REST-JSON: the error type travels in a header; an IAM denial is a 403.
      status: refusal.error === 'AccessDeniedException' ? 403 : refusal.httpStatus ?? 400,
      headers: { 'content-type': 'application/json', 'x-amzn-errortype': refusal.error },
      body: JSON.stringify({ message: refusal.message }),
    }));
  }

  /** Puts a gate in front of the endpoint that an AWS_ENDPOINT_URL_* variable names (if the deployment set it). */
  private async gateway(
    variable: string,
    service: string,
    read: (req: http.IncomingMessage, path: string, input: Json) => { operation: string; input: Json },
    refuse: (refusal: CallRefusal) => Reply,
  ): Promise<void> {
    const endpoint = process.env[variable];
    if (!endpoint) return;
    const target = new URL(endpoint);
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        let input: Json = {};
        try {
          input = body.length > 0 ? JSON.parse(body.toString('utf8')) : {};
        } catch {
          input = {};
        }
        const call = read(req, (req.url ?? '/').split('?')[0], input);
        const refusal = this.gate({ caller: 'handler', service, operation: call.operation, input: call.input });
        if (refusal) {
          const reply = refuse(refusal);
          res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
          res.end(reply.body);
          return;
        }
        const destination = { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers };
        const forwarded = http.request(destination, (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        });
        forwarded.on('error', () => res.destroy());
        forwarded.end(body);
      });
    });
    await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', () => done()));
    this.proxies.push(proxy);
    // Set after LocalDeployment.start, which remembers (and on stop restores) the value from before it.
    process.env[variable] = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  }
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

// Time ------------------------------------------------------------------------------------------

interface Watch {
  readonly deadline: number;
  ready(): boolean;
  resolve(ready: boolean): void;
}

/**
 * Resolves waits on the virtual clock. Executions move the clock themselves (Wait states, retry
 * pauses); when nothing runs in the deployment, the scheduler moves it to the nearest deadline, and
 * while only the handler runs, with real time.
 */
class Scheduler {
  private watches: Watch[] = [];
  private timer?: NodeJS.Timeout;
  private lastTick = performance.now();

  constructor(private readonly deployment: LocalDeployment) {}

  /** Resolves true once `ready()` holds, false if the virtual clock reaches `deadline` first. */
  public when(ready: () => boolean, deadline: number): Promise<boolean> {
    if (!Number.isFinite(deadline)) throw new Error('Every wait needs a deadline, or the model could wait forever');
    if (ready()) return Promise.resolve(true);
    if (this.deployment.clock.now() >= deadline) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.watches.push({ ready, deadline, resolve });
      if (!this.timer) {
        this.lastTick = performance.now();
        this.timer = setInterval(() => this.tick(), 1);
      }
    });
  }

  public stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const clock = this.deployment.clock;
    const now = clock.now();
    const realNow = performance.now();
    const realSeconds = (realNow - this.lastTick) / 1000;
    this.lastTick = realNow;
    let settled = false;
    for (const watch of [...this.watches]) {
      const ready = watch.ready();
      if (ready || now >= watch.deadline) {
        this.watches.splice(this.watches.indexOf(watch), 1);
        watch.resolve(ready);
        settled = true;
      }
    }
    if (this.watches.length === 0) {
      this.stop();
      return;
    }
    // What a settled wait starts (an invocation, say) shows in `busy` only from the next tick.
    if (settled) return;
    const next = Math.min(...this.watches.map((w) => w.deadline));
    if (!this.deployment.busy) {
      clock.advance(next - now);
    } else if (!this.deployment.executions.some((e) => e.status === 'RUNNING')) {
      clock.advance(Math.min(realSeconds, next - now));
    }
  }
}

// Templates -------------------------------------------------------------------------------------

function asTemplate(stack: Stack | Template): Template {
  return stack instanceof Stack ? CdkTemplate.fromStack(stack).toJSON() as Template : stack;
}

/** The ARN the deployment gives a function of the template (see LocalDeployment.functionArn). */
function functionArn(logicalId: string): string {
  return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;
}

/** Each resource's dependencies: DependsOn, and every resource its properties Ref, Fn::GetAtt or Fn::Sub. */
export function dependencies(template: Template): Map<string, Set<string>> {
  const ids = new Set(Object.keys(template.Resources));
  const result = new Map<string, Set<string>>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if ((resource as { Condition?: unknown }).Condition !== undefined) throw new Error(`${id}: the model does not evaluate Conditions`);
    const deps = new Set<string>(([] as string[]).concat(resource.DependsOn ?? []));
    const visit = (value: unknown): void => {
      if (Array.isArray(value)) return value.forEach(visit);
      if (value === null || typeof value !== 'object') return;
      const object = value as Json;
      if (typeof object.Ref === 'string' && ids.has(object.Ref)) deps.add(object.Ref);
      const getAtt = object['Fn::GetAtt'];
      if (Array.isArray(getAtt) && ids.has(String(getAtt[0]))) deps.add(String(getAtt[0]));
      if (typeof getAtt === 'string' && ids.has(getAtt.split('.')[0])) deps.add(getAtt.split('.')[0]);
      if (object['Fn::If'] !== undefined) throw new Error(`${id}: the model does not evaluate Fn::If`);
      Object.values(expandSub(object) as Json).forEach(visit);
    };
    visit(resource.Properties ?? {});
    deps.delete(id);
    result.set(id, deps);
  }
  return result;
}

/** Rewrites Fn::Sub into the Fn::Join, Ref and Fn::GetAtt it stands for (template.ts resolves those). */
export function expandSub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandSub);
  if (value === null || typeof value !== 'object') return value;
  const object = value as Json;
  const keys = Object.keys(object);
  if (keys.length === 1 && keys[0] === 'Fn::Sub') {
    const argument = object['Fn::Sub'];
    const [text, variables] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Json]);
    const parts: unknown[] = [];
    let rest = text;
    for (let match = /\$\{([^}]*)\}/.exec(rest); match; match = /\$\{([^}]*)\}/.exec(rest)) {
      parts.push(rest.slice(0, match.index));
      const name = match[1];
      if (name.startsWith('!')) parts.push(`\${${name.slice(1)}}`);
      else if (name in variables) parts.push(expandSub(variables[name]));
      else if (name.includes('.') && !name.startsWith('AWS::')) parts.push({ 'Fn::GetAtt': [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)] });
      else parts.push({ Ref: name });
      rest = rest.slice(match.index + match[0].length);
    }
    parts.push(rest);
    return { 'Fn::Join': ['', parts.filter((p) => p !== '')] };
  }
  return Object.fromEntries(keys.map((k) => [k, expandSub(object[k])]));
}

// IAM -------------------------------------------------------------------------------------------

interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: string[];
  readonly resources: string[];
  readonly conditions: Json;
}

function parseStatements(document: unknown): Statement[] {
  const statements = ((document as { Statement?: unknown } | undefined)?.Statement ?? []) as Json[];
  return ([] as Json[]).concat(statements).map((s) => {
    if (s.NotAction !== undefined || s.NotResource !== undefined) throw new Error('The model does not evaluate NotAction or NotResource');
    const list = (v: unknown) => ([] as unknown[]).concat(v ?? []).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
    return { effect: s.Effect === 'Deny' ? 'Deny' : 'Allow', actions: list(s.Action), resources: list(s.Resource), conditions: (s.Condition ?? {}) as Json };
  });
}

/** IAM wildcards: `*` any run of characters, `?` one; actions compare without case. An unresolved intrinsic matches nothing. */
function matchesAny(patterns: string[], value: string, ignoreCase: boolean): boolean {
  return patterns.some((pattern) => {
    if (pattern.startsWith('{')) return false;
    const source = pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
    return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
  });
}

/** String conditions on the context keys the model knows; a key it does not know makes the condition fail. */
function conditionsHold(conditions: Json, context: Record<string, string>): boolean {
  return Object.entries(conditions).every(([operator, tests]) => Object.entries(tests as Json).every(([key, expected]) => {
    const actual = context[key.toLowerCase()];
    const values = ([] as unknown[]).concat(expected).map(String);
    switch (operator) {
      case 'StringEquals': return actual !== undefined && values.includes(actual);
      case 'StringNotEquals': return actual === undefined || !values.includes(actual);
      case 'StringLike': case 'ArnLike': return actual !== undefined && matchesAny(values, actual, false);
      case 'StringNotLike': case 'ArnNotLike': return actual === undefined || !matchesAny(values, actual, false);
      case 'ArnEquals': return actual !== undefined && values.includes(actual);
      default: return false;
    }
  }));
}

// Reporting ---------------------------------------------------------------------------------------

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Json)[k])]));
}

function failureReason(request: CustomResourceRequest, what: 'creation' | 'update' | 'deletion'): string {
  switch (request.outcome) {
    case 'FAILED': return request.answer?.Reason || (request.answer?.PhysicalResourceId ? 'Failed' : 'Invalid PhysicalResourceId');
    case 'TIMED_OUT': return `${NO_ANSWER_REASON} (RequestId ${request.event.RequestId})`;
    case 'CANCELLED': return what === 'creation' ? 'Resource creation cancelled' : what === 'update' ? 'Resource update cancelled' : 'Resource deletion cancelled';
    default: return 'Failed';
  }
}

/** One line per event, relative to the operation's start: what a test prints when an assertion fails. */
export function describeOperation(op: StackOperation): string {
  const lines = op.events.map((e) => `+${String(Math.round(e.at - op.startedAt)).padStart(6)}s ${e.logicalId} ${e.status}${e.reason ? `: ${e.reason}` : ''}`);
  const requests = op.requests.map((r) => `  ${r.phase} ${r.requestType} ${r.logicalId} (${r.event.PhysicalResourceId ?? '-'}) -> ${r.outcome}`
    + `${r.answer ? ` ${r.answer.PhysicalResourceId ?? ''}${r.answer.Reason ? `: ${r.answer.Reason}` : ''}` : ''}`);
  return [`${op.kind} ${op.status}`, ...lines, 'requests:', ...requests].join('\n');
}

/** The reason of a resource's event with that status in an operation, if any. */
export function reasonOf(op: StackOperation, logicalId: string, status: string): string | undefined {
  return op.events.find((e) => e.logicalId === logicalId && e.status === status)?.reason;
}

/** The statuses a resource went through in an operation, in order. */
export function statusesOf(op: StackOperation, logicalId: string): string[] {
  return op.events.filter((e) => e.logicalId === logicalId).map((e) => e.status);
}
