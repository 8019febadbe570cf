import { createHash } from 'crypto';
import { CfnWaitCondition, CfnWaitConditionHandle, CustomResource, Duration, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ExportWaitOptions } from '../export-task-result';
import { WaiterInfrastructure } from './waiter-infrastructure';
import { ResourceAttributes, Limits, MAX_TIMEOUT_SECONDS, ResourceProperties, WAITER_RESOURCE_TYPE } from '../runtime/constants';
import { checkPollInterval, checkPollRange, checkTimeout } from '../runtime/validation';

/**
 * How ExportTaskWaiter and GraphExport wait: the custom resource, and in long-wait mode the
 * WaitCondition that waits in its place.
 */

/** Reads one attribute of the finished export task, as a token. */
export type AttributeReader = (name: string) => string;

/** What waitForExportTask created. */
export interface ExportWait {
  /** Reads the attributes of the finished task (in long-wait mode, from the waiter that re-reads it). */
  readonly attribute: AttributeReader;
  readonly infrastructure: WaiterInfrastructure;
  /** The custom resource whose request the wait loop answers (the first one in long-wait mode). */
  readonly resource: CustomResource;
  readonly longWait: boolean;
}

/** What a construct asks of waitForExportTask. */
export interface WaitRequest {
  readonly resourceType: string;
  readonly properties: Record<string, unknown>;
  readonly options: ExportWaitOptions;
  /** What identifies one export: a change replaces the WaitCondition (it cannot be updated). */
  readonly identity: unknown;
}

/** Validates the wait options of a construct (literal values only), or throws naming each problem. */
export function checkWaitOptions(scope: Construct, kind: string, options: ExportWaitOptions, more: Array<string | undefined> = []): void {
  const { timeout, minPoll, maxPoll } = waitSeconds(options);
  const literal = (value: number) => !Token.isUnresolved(value);
  const problems = [
    ...more,
    literal(timeout) ? checkTimeout('timeout', timeout, timeout > MAX_TIMEOUT_SECONDS) : undefined,
    literal(minPoll) ? checkPollInterval('minPollInterval', minPoll) : undefined,
    literal(maxPoll) ? checkPollInterval('maxPollInterval', maxPoll) : undefined,
    literal(minPoll) && literal(maxPoll) ? checkPollRange('minPollInterval', minPoll, 'maxPollInterval', maxPoll) : undefined,
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length > 0) {
    throw new Error(`${kind} ${scope.node.path}: ${problems.join('; ')}`);
  }
}

function waitSeconds(options: ExportWaitOptions) {
  const seconds = (duration: Duration | undefined, fallback: number) => (duration === undefined ? fallback : duration.toSeconds());
  return {
    timeout: seconds(options.timeout, Limits.DEFAULT_TIMEOUT),
    minPoll: seconds(options.minPollInterval, Limits.DEFAULT_MIN_POLL),
    maxPoll: seconds(options.maxPollInterval, Limits.DEFAULT_MAX_POLL),
  };
}

/**
 * Creates the custom resource that waits (and, in long-wait mode, the WaitCondition that waits in
 * its place), and returns the attributes of the finished task.
 */
export function waitForExportTask(scope: Construct, request: WaitRequest): ExportWait {
  const infrastructure = WaiterInfrastructure.getOrCreate(scope, request.options, scope);
  const { timeout, minPoll, maxPoll } = waitSeconds(request.options);
  const longWait = !Token.isUnresolved(timeout) && timeout > MAX_TIMEOUT_SECONDS;
  // Settings left at their defaults are not sent: the handler applies the same defaults.
  const unlessDefault = (name: string, value: number, fallback: number) => (value === fallback ? {} : { [name]: value });
  const properties: Record<string, unknown> = {
    ...request.properties,
    ...unlessDefault(ResourceProperties.TIMEOUT_SECONDS, timeout, Limits.DEFAULT_TIMEOUT),
    ...unlessDefault(ResourceProperties.MIN_POLL_SECONDS, minPoll, Limits.DEFAULT_MIN_POLL),
    ...unlessDefault(ResourceProperties.MAX_POLL_SECONDS, maxPoll, Limits.DEFAULT_MAX_POLL),
  };

  if (!longWait) {
    const resource = new CustomResource(scope, 'Resource', {
      serviceToken: infrastructure.handler.functionArn,
      resourceType: request.resourceType,
      properties,
      // CloudFormation gives up shortly after the waiter would have answered "timed out".
      serviceTimeout: Duration.seconds(Token.isUnresolved(timeout) ? Limits.CLOUDFORMATION_MAX_WAIT : timeout + Limits.ANSWER_MARGIN),
    });
    dependOnInfrastructure(resource, infrastructure);
    return { attribute: (name) => resource.getAttString(name), infrastructure, resource, longWait };
  }

  // A WaitCondition and its handle cannot be updated: a different export, or another timeout, gets
  // new ones (the loop then signals the new handle, even if the task had already ended).
  const identity = createHash('sha256')
    .update(JSON.stringify([Stack.of(scope).resolve(request.identity), timeout]))
    .digest('hex')
    .slice(0, 8);
  const handle = new CfnWaitConditionHandle(scope, `ExportSignal${identity}`);
  const resource = new CustomResource(scope, 'Resource', {
    serviceToken: infrastructure.handler.functionArn,
    resourceType: request.resourceType,
    properties: { ...properties, [ResourceProperties.SIGNAL_URL]: handle.ref },
    // Answered as soon as the task is known (after StartExportTask, for a GraphExport).
    serviceTimeout: Duration.minutes(15),
  });
  dependOnInfrastructure(resource, infrastructure);
  const condition = new CfnWaitCondition(scope, `ExportEnded${identity}`, {
    handle: handle.ref,
    count: 1,
    timeout: String(timeout + Limits.ANSWER_MARGIN),
  });
  condition.node.addDependency(resource);
  // The attributes come from a waiter on the finished task, created once the WaitCondition got its
  // signal: ordinary custom-resource attributes, identical to custom-resource mode, and nothing read
  // out of the WaitCondition's Data (whose rendering by CloudFormation is not documented).
  const result = new CustomResource(scope, 'Result', {
    serviceToken: infrastructure.handler.functionArn,
    resourceType: WAITER_RESOURCE_TYPE,
    properties: {
      [ResourceProperties.TASK_IDENTIFIER]: resource.getAttString(ResourceAttributes.TASK_ID),
      [ResourceProperties.READS_ENDED_WAIT]: 'true',
    },
    serviceTimeout: Duration.seconds(Limits.DEFAULT_TIMEOUT + Limits.ANSWER_MARGIN),
  });
  result.node.addDependency(condition);
  dependOnInfrastructure(result, infrastructure);
  return { attribute: (name) => result.getAttString(name), infrastructure, resource, longWait };
}

/**
 * CloudFormation sends the first request as soon as the resources the custom resource depends on
 * exist: the state machine, and every policy of the handler and the loop, must exist by then (an
 * export added to a deployed stack also adds statements to the loop's policy, which must be updated
 * before the new export starts).
 */
function dependOnInfrastructure(resource: CustomResource, infrastructure: WaiterInfrastructure): void {
  resource.node.addDependency(...infrastructure.neededBeforeFirstRequest);
}
