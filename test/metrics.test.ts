/**
 * The metric methods: what each alarm built from them watches (namespace, metric name, dimensions,
 * statistic, period), and which custom resource's logical id names the wait in long-wait mode.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ExportDestination, ExportTaskWaiter, GraphExport, IExportTaskResult } from '../src';
import { WaitMetrics } from '../src/runtime/constants';

type Json = Record<string, any>;

function newStack(): Stack {
  return new Stack(new App(), 'MetricStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

function graphExport(stack: Stack, timeout?: Duration): GraphExport {
  return new GraphExport(stack, 'Export', {
    graphId: 'g-0123456789',
    destination: ExportDestination.fromS3Uri('s3://my-exports/daily/'),
    encryptionKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
    timeout,
  });
}

/** The alarm's properties, and the logical ids of the custom resources of each type. */
function alarmOn(stack: Stack, metric: cloudwatch.IMetric): { alarm: Json; ids: (type: string) => string[] } {
  new cloudwatch.Alarm(stack, 'Alarm', { metric, threshold: 1, evaluationPeriods: 1 });
  const template = Template.fromStack(stack);
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
  expect(alarms).toHaveLength(1);
  return { alarm: alarms[0].Properties, ids: (type) => Object.keys(template.findResources(type)) };
}

const METHODS: Array<[string, (r: IExportTaskResult) => cloudwatch.Metric, string, string]> = [
  ['metricWaitsSucceeded', (r) => r.metricWaitsSucceeded(), WaitMetrics.SUCCEEDED, 'Sum'],
  ['metricWaitsFailed', (r) => r.metricWaitsFailed(), WaitMetrics.FAILED, 'Sum'],
  ['metricWaitsTimedOut', (r) => r.metricWaitsTimedOut(), WaitMetrics.TIMED_OUT, 'Sum'],
  ['metricExportDuration', (r) => r.metricExportDuration(), WaitMetrics.DURATION, 'Maximum'],
  ['metricVerticesWritten', (r) => r.metricVerticesWritten(), WaitMetrics.VERTICES_WRITTEN, 'Maximum'],
  ['metricEdgesWritten', (r) => r.metricEdgesWritten(), WaitMetrics.EDGES_WRITTEN, 'Maximum'],
];

describe.each(METHODS)('%s', (_name, metricOf, metricName, statistic) => {
  test(`an alarm watches ${metricName} of this waiter's custom resource, ${statistic} over 5 minutes`, () => {
    const stack = newStack();
    const waiter = new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789' });
    const { alarm, ids } = alarmOn(stack, metricOf(waiter));
    const [resourceId] = ids('Custom::NeptuneGraphExportTaskWaiter');
    expect(alarm).toMatchObject({
      Namespace: 'NeptuneGraphExport',
      MetricName: metricName,
      Dimensions: [{ Name: 'LogicalResourceId', Value: resourceId }, { Name: 'StackName', Value: 'MetricStack' }],
      Statistic: statistic,
      Period: 300,
    });
  });
});

test('the dimension of a long wait is the GraphExport\'s own custom resource, not the waiter that re-reads the finished task', () => {
  const stack = newStack();
  const exported = graphExport(stack, Duration.hours(6));
  const { alarm, ids } = alarmOn(stack, exported.metricWaitsFailed());
  const [exportId] = ids('Custom::NeptuneGraphExport');
  const [rereadId] = ids('Custom::NeptuneGraphExportTaskWaiter');
  expect(rereadId).toBeDefined();
  const dimensions = alarm.Dimensions;
  expect(dimensions).toContainEqual({ Name: 'LogicalResourceId', Value: exportId });
  expect(dimensions).not.toContainEqual({ Name: 'LogicalResourceId', Value: rereadId });
});

test('options override the defaults, and metric() names any metric of the construct', () => {
  const stack = newStack();
  const exported = graphExport(stack);
  const metric = exported.metricExportDuration({ period: Duration.hours(1), statistic: 'p90' });
  expect(metric.period.toMinutes()).toBe(60);
  expect(metric.statistic).toBe('p90');
  const custom = exported.metric('WaitsFailed');
  expect(custom.namespace).toBe('NeptuneGraphExport');
  expect(custom.dimensions).toEqual(exported.metricWaitsFailed().dimensions);
});
