/**
 * End-to-end: the CloudWatch metrics of a wait (WaitMetrics), as the handler bundle publishes them
 * (Embedded Metric Format records on stdout) when the synthesized wait loop answers, and as the
 * constructs' metrics (src/private/metrics.ts `waitMetric`) name them: the dimensions the handler
 * derives from the request must be the ones the construct renders for the deployed resource, or a
 * user's alarm watches a metric nobody publishes.
 */
import { CfnResource, Duration, Stack } from 'aws-cdk-lib';
import { answeredOnce, deploymentsStoppedAfterEach, TASK_ID, waiterStack } from './helpers';
import { expectStatus, exportStack, NINETY_MINUTES, orchestratedStacksStoppedAfterEach, runExportsAs, TEN_MINUTES } from './orchestration-helpers';
import { RecordedAnswer } from '../../harness/cloudformation';
import { LocalDeployment } from '../../harness/local-deployment';
import { waitMetric } from '../../src/private/metrics';
import { WaitMetrics } from '../../src/runtime/constants';
import { emfViolations } from '../lambda/emf-spec';

const deploy = deploymentsStoppedAfterEach();

type Json = Record<string, unknown>;

/** The EMF records the handler wrote (whole stdout lines with `_aws`). */
const recordsOf = (d: LocalDeployment): string[] => d.stdout.filter((line) => line.includes('"_aws"'));

/** A stack with one waiter, and the dimensions its construct's metrics use, resolved as the template would hold them. */
function stackWithMetrics(props: Parameters<typeof waiterStack>[0] = {}): { stack: Stack; dimensions: Json } {
  const stack = waiterStack(props);
  const resource = stack.node.findChild('Waiter').node.findChild('Resource').node.defaultChild as CfnResource;
  const metric = waitMetric(resource, WaitMetrics.FAILED, { statistic: 'Sum' });
  return { stack, dimensions: stack.resolve(metric.dimensions) as Json };
}

/** The one record of the deployment: valid EMF, no secret in it, written when the answer went out. */
function theRecord(d: LocalDeployment, answer: RecordedAnswer): Json {
  answeredOnce(d, answer);
  const records = recordsOf(d);
  expect(records).toHaveLength(1);
  expect(emfViolations(records[0])).toEqual([]);
  const record = JSON.parse(records[0]) as Json & { _aws: { Timestamp: number } };
  // Written after the answer was delivered, on the deployment's (virtual) clock.
  expect(record._aws.Timestamp).toBeGreaterThanOrEqual(answer.receivedAt);
  expect(record._aws.Timestamp - answer.receivedAt).toBeLessThan(5_000);
  return record;
}

const EXPORT = { taskId: TASK_ID, initializingSeconds: 20, exportingSeconds: 580, vertices: 123_456, edges: 654_321 };

test('a succeeded wait publishes one record: a success, the export\'s duration and counts, under the dimensions of the construct\'s metrics', async () => {
  const { stack, dimensions } = stackWithMetrics();
  const d = await deploy(stack, { stackName: stack.stackName });
  d.emulator.addTask(EXPORT);

  const answer = await d.run(d.event('Create'));

  const record = theRecord(d, answer);
  expect(answer.body).toMatchObject({ Status: 'SUCCESS' });
  expect(dimensions).toEqual({ StackName: 'S', LogicalResourceId: expect.stringMatching(/^Waiter/) });
  expect(record).toMatchObject({
    ...dimensions,
    WaitsSucceeded: 1,
    WaitsFailed: 0,
    WaitsTimedOut: 0,
    ExportDuration: 600,
    VerticesWritten: 123_456,
    EdgesWritten: 654_321,
    TaskId: TASK_ID,
  });
  // The logical id the metric names is the one CloudFormation sent.
  expect(record.LogicalResourceId).toBe(d.event('Create').LogicalResourceId);
});

test('a failed wait publishes one record counting one failure, and no duration or counts', async () => {
  const { stack, dimensions } = stackWithMetrics();
  const d = await deploy(stack, { stackName: stack.stackName });
  d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 300, outcome: 'FAILED', statusReason: 'The destination bucket denied access' });

  const answer = await d.run(d.event('Create'));

  const record = theRecord(d, answer);
  expect(answer.body).toMatchObject({ Status: 'FAILED' });
  expect(record).toMatchObject({ ...dimensions, WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 0 });
  expect(record).not.toHaveProperty(WaitMetrics.DURATION);
  expect(record).not.toHaveProperty(WaitMetrics.VERTICES_WRITTEN);
});

test('a timed-out wait publishes one record counting it as failed and as timed out', async () => {
  const { stack, dimensions } = stackWithMetrics({ timeout: Duration.minutes(2) });
  const d = await deploy(stack, { stackName: stack.stackName });
  d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 2 * 3600 });

  const answer = await d.run(d.event('Create'));

  const record = theRecord(d, answer);
  expect(answer.body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('did not finish within 2 minutes') });
  expect(record).toMatchObject({ ...dimensions, WaitsSucceeded: 0, WaitsFailed: 1, WaitsTimedOut: 1 });
});

test('an answering invoke that Lambda reports as timed out after it answered is retried without a second record', async () => {
  const { stack } = stackWithMetrics();
  const d = await deploy(stack, { stackName: stack.stackName });
  d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 300, outcome: 'FAILED' });
  d.lambdaFault({ caller: 'stepFunctions', kind: 'timedOut', times: 1 });

  const answer = await d.run(d.event('Create'));

  expect(d.lambdaFaults.injected).toHaveLength(1);
  expect(d.invocations.length).toBeGreaterThanOrEqual(3);
  expect(theRecord(d, answer)).toMatchObject({ WaitsFailed: 1 });
});

test('an Update that only changes the timeout re-reads the task: one record for the wait, none for the re-read', async () => {
  const { stack } = stackWithMetrics();
  const d = await deploy(stack, { stackName: stack.stackName });
  d.emulator.addTask(EXPORT);
  const created = await d.run(d.event('Create'));
  expect(recordsOf(d)).toHaveLength(1);
  const properties = d.properties();

  const updated = await d.run(d.event('Update', {
    physicalResourceId: TASK_ID,
    properties: { ...properties, TimeoutSeconds: '900' },
    oldProperties: properties,
  }));

  expect(answeredOnce(d, updated)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
  expect(created.body).toMatchObject({ Status: 'SUCCESS' });
  expect(d.executions).toHaveLength(2);
  expect(recordsOf(d)).toHaveLength(1);
});

describe('through a model of CloudFormation', () => {
  const orchestrate = orchestratedStacksStoppedAfterEach();
  const FAILED_EXPORT = { ...TEN_MINUTES, outcome: 'FAILED' as const, statusReason: 'Access denied writing to the destination' };

  test('a long-wait GraphExport counts its Create and its failed Update once each under the construct\'s dimensions; the rollback and the reads of the finished task count nothing', async () => {
    const version = () => exportStack({ timeout: Duration.hours(2) });
    const first = version();
    const resource = first.node.findChild('Export').node.findChild('Resource').node.defaultChild as CfnResource;
    const dimensions = first.resolve(waitMetric(resource, WaitMetrics.FAILED, {}).dimensions) as Json;
    const stack = await orchestrate(first, { stackName: first.stackName });
    runExportsAs(stack.deployment.emulator, [NINETY_MINUTES, FAILED_EXPORT]);
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');

    const updated = await stack.update(exportStack({ timeout: Duration.hours(2), format: 'CSV' }));

    expectStatus(updated, 'UPDATE_ROLLBACK_COMPLETE');
    expect(updated.requests.some((r) => r.phase === 'rollback' && r.logicalId === dimensions.LogicalResourceId)).toBe(true);
    const records = recordsOf(stack.deployment).map((line) => JSON.parse(line) as Json);
    records.forEach((record) => expect(emfViolations(JSON.stringify(record))).toEqual([]));
    const counted = records
      .filter((record) => record.StackName === dimensions.StackName && record.LogicalResourceId === dimensions.LogicalResourceId)
      .map((record) => ({ succeeded: record.WaitsSucceeded, failed: record.WaitsFailed, duration: record.ExportDuration }));
    expect(counted).toEqual([
      { succeeded: 1, failed: 0, duration: 90 * 60 },
      { succeeded: 0, failed: 1, duration: undefined },
    ]);
    // The waiter that reads the finished task (long-wait mode) is another resource: no record of its own.
    expect(records.filter((record) => record.LogicalResourceId !== dimensions.LogicalResourceId)).toEqual([]);
    expect(stack.deployment.logs.filter((line) => stack.deployment.cloudFormation.secrets.some((secret) => line.includes(secret)))).toEqual([]);
  });
});
