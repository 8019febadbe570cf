import { CfnResource, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { WaitMetrics } from '../runtime/constants';

/**
 * A metric the handler publishes for the wait of one custom resource (see WaitMetrics): the stack's
 * name and the resource's logical id are the dimensions the handler reads from the request.
 */
export function waitMetric(
  resource: CfnResource, metricName: string, defaults: cloudwatch.MetricOptions, props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  const stack = Stack.of(resource);
  return new cloudwatch.Metric({
    namespace: WaitMetrics.NAMESPACE,
    metricName,
    dimensionsMap: {
      [WaitMetrics.STACK_DIMENSION]: stack.stackName,
      [WaitMetrics.RESOURCE_DIMENSION]: stack.getLogicalId(resource),
    },
    period: Duration.minutes(5),
    ...defaults,
    ...props,
  });
}
