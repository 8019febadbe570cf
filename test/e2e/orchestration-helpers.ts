/**
 * Stacks, export scripts and invariants shared by the orchestration scenarios and the seeded
 * lifecycles: what CloudFormation does to the library's resources (harness/orchestration.ts).
 */
import { App, CfnParameter, CfnResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NeptuneGraphEmulator, TaskScript } from '../../harness/neptune-emulator';
import { CustomResourceRequest, describeOperation, OrchestratedStack, OrchestrationOptions, StackOperation } from '../../harness/orchestration';
import { Template } from '../../harness/template';
import { ExportDestination, ExportFormat, ExportTaskWaiter, GraphExport, ParquetType } from '../../src';
import { GRAPH_EXPORT_RESOURCE_TYPE, WAITER_RESOURCE_TYPE } from '../../src/runtime/constants';

export { GRAPH_EXPORT_RESOURCE_TYPE, WAITER_RESOURCE_TYPE };

export const ENV = { account: '123456789012', region: 'us-east-1' };
export const GRAPH_ID = 'g-abcdef0123';
export const OTHER_GRAPH_ID = 'g-zyxwvu9876';
export const EXISTING_ROLE_ARN = 'arn:aws:iam::123456789012:role/ExistingExportRole';
export const EXISTING_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
/** Logical id of a resource unrelated to the waiters, which tests make fail. */
export const UNRELATED = 'Unrelated';

/*
 * Cancellations take no virtual time: the handler waits for CANCELLED in real 2-second sleeps (its
 * Date is virtual), so each second an export stays CANCELLING would cost a real second.
 */
export const TEN_MINUTES: TaskScript = { initializingSeconds: 60, exportingSeconds: 540, vertices: 1000, edges: 2000, cancellingSeconds: 0 };
export const TWENTY_MINUTES: TaskScript = { initializingSeconds: 60, exportingSeconds: 1140, vertices: 4242, edges: 8484, cancellingSeconds: 0 };
export const NINETY_MINUTES: TaskScript = { initializingSeconds: 120, exportingSeconds: 5280, vertices: 9000, edges: 18000, cancellingSeconds: 0 };
export const THREE_HOURS: TaskScript = { initializingSeconds: 120, exportingSeconds: 3 * 3600 - 120, cancellingSeconds: 0 };

/** Starts orchestrated stacks and stops every one of them after each test. */
export function orchestratedStacksStoppedAfterEach(): (stack: Stack | Template, options?: OrchestrationOptions) => Promise<OrchestratedStack> {
  const started: OrchestratedStack[] = [];
  afterEach(async () => {
    for (const stack of started.splice(0)) await stack.stop();
  });
  return async (stack, options = {}) => {
    const orchestrated = await OrchestratedStack.start(stack, { seed: 1, ...options });
    started.push(orchestrated);
    return orchestrated;
  };
}

/** A stack named S in the test account, so every version of a test's app has the same logical ids. */
export function emptyStack(): Stack {
  return new Stack(new App(), 'S', { env: ENV });
}

export interface ExportVersion {
  readonly format?: 'PARQUET' | 'CSV';
  readonly timeout?: Duration;
  readonly cancelOnDelete?: boolean;
  /** The export role and key exist outside the stack (the custom resource then depends only on the function). */
  readonly existingRole?: boolean;
  /** The graph id is a template parameter (a token: its value can change behind the same template). */
  readonly graphIdParameter?: boolean;
  /**
   * An SNS topic that depends on nothing: a resource that can fail while the export runs. A string is
   * its display name, so that a version with another one updates it.
   */
  readonly unrelated?: boolean | string;
  /** An ExportTaskWaiter of `waiterTaskId` in the same stack. */
  readonly waiterTaskId?: string;
}

/** A stack with one GraphExport (and what a version asks for besides). */
export function exportStack(version: ExportVersion = {}): Stack {
  const stack = emptyStack();
  if (version.waiterTaskId) new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: version.waiterTaskId });
  const graphId = version.graphIdParameter ? new CfnParameter(stack, 'GraphId', { default: GRAPH_ID }).valueAsString : GRAPH_ID;
  const parquet = (version.format ?? 'PARQUET') === 'PARQUET';
  const common = {
    graphId,
    format: parquet ? ExportFormat.PARQUET : ExportFormat.CSV,
    parquetType: parquet ? ParquetType.COLUMNAR : undefined,
    timeout: version.timeout,
    cancelOnDelete: version.cancelOnDelete,
  };
  if (version.existingRole) {
    new GraphExport(stack, 'Export', {
      ...common,
      destination: ExportDestination.fromS3Uri('s3://existing-exports/graph/'),
      encryptionKey: kms.Key.fromKeyArn(stack, 'ExistingKey', EXISTING_KEY_ARN),
      role: iam.Role.fromRoleArn(stack, 'ExistingRole', EXISTING_ROLE_ARN, { mutable: false }),
    });
  } else {
    const key = new kms.Key(stack, 'ExportKey', { enableKeyRotation: true });
    const bucket = new s3.Bucket(stack, 'ExportBucket');
    new GraphExport(stack, 'Export', { ...common, destination: ExportDestination.fromBucket(bucket, 'graph/'), encryptionKey: key });
  }
  if (version.unrelated) {
    const properties = typeof version.unrelated === 'string' ? { DisplayName: version.unrelated } : undefined;
    new CfnResource(stack, UNRELATED, { type: 'AWS::SNS::Topic', properties });
  }
  return stack;
}

/**
 * The n-th export the emulator starts runs as `scripts[n]` (the last script for every later one), so
 * a test can make the export of an update fail while the first one succeeds.
 */
export function runExportsAs(emulator: NeptuneGraphEmulator, scripts: TaskScript[]): void {
  let started = 0;
  Object.defineProperty(emulator, 'startDefaults', {
    configurable: true,
    // The emulator reads startDefaults once per StartExportTask.
    get: () => scripts[Math.min(started++, scripts.length - 1)],
    set: () => undefined,
  });
}

/** Fails with the operation's event log when its status is not the one expected. */
export function expectStatus(op: StackOperation, status: StackOperation['status']): void {
  if (op.status !== status) throw new Error(`Expected ${status}, got ${op.status}:\n${describeOperation(op)}`);
}

/** The only resource of a type in the stack's current template. */
export function onlyOfType(stack: OrchestratedStack, type: string): string {
  const ids = stack.logicalIdsOfType(type);
  if (ids.length !== 1) throw new Error(`Expected one ${type}, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

/** Names of the state machine's states that start an export (the aws-sdk StartExportTask integration). */
function startExportStates(stack: OrchestratedStack): Set<string> {
  const states = stack.deployment.stateMachineDefinition.States;
  return new Set(Object.entries(states).filter(([, s]) => String(s.Resource).endsWith(':startExportTask')).map(([name]) => name));
}

/** How many times the executions started for a request entered a StartExportTask state. */
export function exportsStartedFor(stack: OrchestratedStack, request: CustomResourceRequest): number {
  const states = startExportStates(stack);
  return executionsFor(stack, request).reduce((sum, e) => sum + e.path.filter((name) => states.has(name)).length, 0);
}

/** The executions started for a request (their names carry its RequestId), continuations included. */
export function executionsFor(stack: OrchestratedStack, request: CustomResourceRequest) {
  return stack.deployment.executions.filter((e) => e.name.includes(request.event.RequestId));
}

/** Tasks the stack's exports started (StartExportTask answered 201), oldest first. */
export function startedTaskIds(stack: OrchestratedStack): string[] {
  return stack.startedTasks().map((t) => t.taskId);
}

const RUNNING = new Set(['INITIALIZING', 'EXPORTING']);

/**
 * The invariants every lifecycle must keep, as a list of what broke (empty when all hold):
 * - no operation ends ROLLBACK_FAILED, UPDATE_ROLLBACK_FAILED or DELETE_FAILED, and no Delete fails;
 * - IAM never refuses a call of the handler or of the state machine (the grants are complete, and in
 *   effect before they are needed);
 * - every request CloudFormation waited for to the end is answered exactly once, any other at most
 *   once, and no answer breaks CloudFormation's contract;
 * - only a forward Create, or a forward Update that changes what is exported, may start an export
 *   (one at most): a rollback re-reads, a Delete never exports;
 * - with `cancelOnDelete`, no export is left running that no resource of the stack stands for.
 */
export function brokenInvariants(stack: OrchestratedStack, cancelOnDelete: boolean): string[] {
  const problems: string[] = [];
  for (const op of stack.operations) {
    if (['ROLLBACK_FAILED', 'UPDATE_ROLLBACK_FAILED', 'DELETE_FAILED'].includes(op.status)) problems.push(`${op.kind} ended ${op.status}`);
    for (const e of op.events) {
      if (e.status === 'DELETE_FAILED') problems.push(`${e.logicalId} DELETE_FAILED: ${e.reason ?? ''}`);
    }
  }
  for (const { call, refusal } of stack.refusals) {
    if (/AccessDenied|AWSLambdaException/.test(refusal.error)) problems.push(`IAM refused ${call.caller}'s ${call.service} ${call.operation}: ${refusal.message}`);
  }
  const receiver = stack.deployment.cloudFormation;
  if (receiver.violations.length > 0) problems.push(`answers broke the contract: ${receiver.violations.join('; ')}`);
  for (const request of stack.requests) {
    const answers = receiver.answers(request.event.RequestId).length;
    const waitedToTheEnd = request.outcome === 'SUCCESS' || request.outcome === 'FAILED';
    if (waitedToTheEnd ? answers !== 1 : answers > 1) {
      problems.push(`${request.phase} ${request.requestType} of ${request.logicalId} (${request.outcome}) answered ${answers} times`);
    }
    const exports = exportsStartedFor(stack, request);
    const mayExport = request.phase === 'forward' && request.requestType !== 'Delete' && exportChanged(request);
    if (exports > (mayExport ? 1 : 0)) {
      problems.push(`${request.phase} ${request.requestType} of ${request.logicalId} started ${exports} export(s)`);
    }
  }
  if (cancelOnDelete) {
    const standing = [...stack.logicalIdsOfType(GRAPH_EXPORT_RESOURCE_TYPE)]
      .map((id) => stack.resource(id)?.physicalId ?? '')
      .filter((id) => id !== '');
    for (const task of stack.startedTasks()) {
      if (RUNNING.has(task.status) && !standing.some((physicalId) => physicalId.startsWith(task.taskId))) {
        problems.push(`export ${task.taskId} is still ${task.status} though no resource stands for it`);
      }
    }
  }
  return problems;
}

/** Whether a Create or Update asks for another export than the resource had (always, for a Create). */
function exportChanged(request: CustomResourceRequest): boolean {
  if (request.requestType === 'Create') return true;
  const json = (value: unknown) => JSON.stringify(value ?? null);
  return json(request.event.ResourceProperties.Export) !== json(request.event.OldResourceProperties?.Export);
}

/** Waits (real time) until the condition holds. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const giveUpAt = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > giveUpAt) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
