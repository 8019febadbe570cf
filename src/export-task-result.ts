import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** How long to wait for an export task, and how to poll it. */
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
   * Log group for the handler function and the state machine. Part of the infrastructure that the
   * stack's waiters share: waiters with another log group get their own function and state machine.
   *
   * The state machine logs every event without execution data, so the CloudFormation ResponseURL
   * never reaches the log.
   *
   * @default - a log group with one year of retention
   */
  readonly logGroup?: logs.ILogGroup;

  /**
   * Whether to trace the handler and the state machine with AWS X-Ray. Part of the shared
   * infrastructure, like `logGroup`.
   *
   * @default true
   */
  readonly tracing?: boolean;
}

/** The attribute values of a finished export task, as tokens. @internal */
export interface ExportTaskAttributes {
  readonly taskId: string;
  readonly graphId: string;
  readonly status: string;
  readonly format: string;
  readonly parquetType: string;
  readonly destination: string;
  readonly kmsKeyIdentifier: string;
  readonly roleArn: string;
  readonly numVerticesWritten: number;
  readonly numEdgesWritten: number;
  readonly timeElapsedSeconds: number;
  readonly startTime: string;
}

/**
 * What ExportTaskWaiter and GraphExport expose once the export task succeeded. Anything that
 * references one of these attributes is created only after the export succeeded.
 */
export abstract class ExportTaskResult extends Construct {
  /** @internal */
  protected _attributes!: ExportTaskAttributes;
  /** @internal */
  protected _stateMachine!: sfn.IStateMachine;
  /** @internal */
  protected _longWait = false;

  /** The export task's id. @attribute */
  public get attrTaskId(): string {
    return this._attributes.taskId;
  }
  /** The id of the exported graph. @attribute */
  public get attrGraphId(): string {
    return this._attributes.graphId;
  }
  /** The task's final status (always `SUCCEEDED` once the resource exists). @attribute */
  public get attrStatus(): string {
    return this._attributes.status;
  }
  /** `PARQUET` or `CSV`. @attribute */
  public get attrFormat(): string {
    return this._attributes.format;
  }
  /** The Parquet type (`COLUMNAR`), or an empty string for CSV exports. @attribute */
  public get attrParquetType(): string {
    return this._attributes.parquetType;
  }
  /** The S3 URI the export was written to. @attribute */
  public get attrDestination(): string {
    return this._attributes.destination;
  }
  /** The KMS key that encrypted the export. @attribute */
  public get attrKmsKeyIdentifier(): string {
    return this._attributes.kmsKeyIdentifier;
  }
  /** The IAM role the service used to write the export. @attribute */
  public get attrRoleArn(): string {
    return this._attributes.roleArn;
  }
  /** The number of vertices written. @attribute */
  public get attrNumVerticesWritten(): number {
    return this._attributes.numVerticesWritten;
  }
  /** The number of edges written. @attribute */
  public get attrNumEdgesWritten(): number {
    return this._attributes.numEdgesWritten;
  }
  /** How long the export ran, in seconds. @attribute */
  public get attrTimeElapsedSeconds(): number {
    return this._attributes.timeElapsedSeconds;
  }
  /** When the export started, as an ISO 8601 timestamp (empty if the service did not say). @attribute */
  public get attrStartTime(): string {
    return this._attributes.startTime;
  }

  /** The state machine that polls the task (shared by the stack's waiters with the same settings). */
  public get stateMachine(): sfn.IStateMachine {
    return this._stateMachine;
  }

  /**
   * Whether a CloudFormation WaitCondition waits for the export (timeouts over 55 minutes) rather
   * than the custom resource itself.
   */
  public get longWait(): boolean {
    return this._longWait;
  }
}

