import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { IConstruct } from 'constructs';

/** How long to wait for an export task, how to poll it, and where the stack's shared handler runs. */
export interface ExportWaitOptions {
  /**
   * How long to wait for the task to end before failing the deployment.
   *
   * Up to 55 minutes the custom resource itself waits (CloudFormation waits at most an hour for a
   * custom resource, and the waiter keeps 5 minutes to answer). Longer timeouts, up to 11 hours 55
   * minutes, switch to long-wait mode: the custom resource answers as soon as the task is known and
   * a CloudFormation WaitCondition (at most 12 hours) waits for the loop's signal. See the README.
   *
   * @default Duration.minutes(30)
   */
  readonly timeout?: Duration;

  /**
   * The shortest time between two `GetExportTask` calls. Near the end of an export the waiter
   * polls this often, so it bounds how late the deployment moves on.
   *
   * @default Duration.seconds(5)
   */
  readonly minPollInterval?: Duration;

  /**
   * The longest time between two `GetExportTask` calls, whatever the task's progress suggests.
   *
   * @default Duration.minutes(15)
   */
  readonly maxPollInterval?: Duration;

  /**
   * Log group for the handler function and the state machine. Part of the infrastructure that all
   * waiters and exports of a stack share: constructs of one stack that give different log groups fail
   * synthesis (a deployed custom resource cannot move to another handler); leave it unset on all but one.
   * Changing it on a deployed stack updates the shared function and state machine in place.
   *
   * The state machine logs every event without execution data.
   *
   * @default - a log group under /aws/vendedlogs/states/ with one year of retention
   */
  readonly logGroup?: logs.ILogGroup;

  /**
   * Whether to trace the handler and the state machine with AWS X-Ray. Part of the infrastructure the
   * stack's waiters and exports share, like `logGroup`.
   *
   * @default true
   */
  readonly tracing?: boolean;

  /**
   * The VPC to run the shared handler function in. Shared by the stack's waiters and exports, like
   * `logGroup`; changing it on a deployed stack updates the function in place.
   *
   * The handler calls AWS Step Functions, AWS Systems Manager Parameter Store and Amazon Neptune
   * Analytics, and answers CloudFormation with an HTTPS PUT to a presigned Amazon S3 URL: its subnets
   * need a route to all four (a NAT gateway, or VPC endpoints for `states`, `ssm`, `neptune-graph` and
   * an S3 gateway endpoint), or no deployment gets its answer.
   *
   * @default - the function runs outside any VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Where in `vpc` to place the shared handler function. Requires `vpc`; shared like `vpc`.
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The security groups of the shared handler function. Requires `vpc`; shared like `vpc`. They must
   * allow outbound HTTPS to the services named under `vpc`.
   *
   * @default - a security group that allows all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * The results of an Amazon Neptune Analytics export task that ended with SUCCEEDED, as
 * `ExportTaskWaiter` and `GraphExport` expose them.
 *
 * Every attribute is a CloudFormation attribute of the custom resource that waited: anything that
 * references one is created only after the export succeeded.
 */
export interface IExportTaskResult extends IConstruct {
  /**
   * The export task's id (`t-` and 10 lowercase letters or digits).
   * @attribute
   */
  readonly exportTaskId: string;

  /**
   * The export task's ARN, `arn:<partition>:neptune-graph:<region>:<account>:export-task/<id>`.
   * @attribute
   */
  readonly exportTaskArn: string;

  /**
   * The id of the exported graph.
   * @attribute
   */
  readonly graphId: string;

  /**
   * The format of the exported files, `PARQUET` or `CSV`.
   * @attribute
   */
  readonly format: string;

  /**
   * The Parquet type of a Parquet export (`COLUMNAR`), or an empty string when the service gives none
   * (CSV exports).
   * @attribute
   */
  readonly parquetType: string;

  /**
   * The S3 URI the export was written to, as `s3://<bucket>/<prefix>`.
   * @attribute
   */
  readonly destination: string;

  /**
   * The ARN of the KMS key that encrypted the exported files.
   * @attribute
   */
  readonly kmsKeyIdentifier: string;

  /**
   * The ARN of the IAM role Neptune Analytics used to write the export.
   * @attribute
   */
  readonly roleArn: string;

  /**
   * The number of vertices written (0 when the service did not report it).
   * @attribute
   */
  readonly numVerticesWritten: number;

  /**
   * The number of edges written (0 when the service did not report it).
   * @attribute
   */
  readonly numEdgesWritten: number;

  /**
   * How long the export ran, in seconds.
   * @attribute
   */
  readonly timeElapsedSeconds: number;

  /**
   * When the export started, as an ISO 8601 timestamp (an empty string when the service did not say).
   * @attribute
   */
  readonly startTime: string;

  /**
   * Lets a principal read the exported files: `s3:GetObject` on the objects under the destination
   * prefix, `s3:ListBucket` on its bucket for keys under that prefix, and `kms:Decrypt` on the key
   * that encrypted them.
   */
  grantRead(grantee: iam.IGrantable): iam.Grant;

  /**
   * A metric of this construct's waits in the `NeptuneGraphExport` namespace, published by the
   * shared handler when a wait ends.
   *
   * @param metricName one of `WaitsSucceeded`, `WaitsFailed`, `WaitsTimedOut`, `ExportDuration`,
   * `VerticesWritten`, `EdgesWritten`
   */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * Waits that ended with the export task SUCCEEDED.
   * @default - sum over 5 minutes
   */
  metricWaitsSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * Waits that failed the deployment: the task failed, was cancelled or deleted, could not be read, or
   * the timeout passed (those are also counted by `metricWaitsTimedOut`).
   * @default - sum over 5 minutes
   */
  metricWaitsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * Waits that failed because the timeout passed before the task ended.
   * @default - sum over 5 minutes
   */
  metricWaitsTimedOut(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * How long a succeeded export ran, in seconds (the task's `timeElapsedSeconds`).
   * @default - maximum over 5 minutes
   */
  metricExportDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * Vertices a succeeded export wrote.
   * @default - maximum over 5 minutes
   */
  metricVerticesWritten(props?: cloudwatch.MetricOptions): cloudwatch.Metric;

  /**
   * Edges a succeeded export wrote.
   * @default - maximum over 5 minutes
   */
  metricEdgesWritten(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}
