import { Duration, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ResourceAttributes } from './runtime/constants';

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
}

/** Reads one attribute of the finished export task, as a token. @internal */
export type AttributeReader = (name: string) => string;

/**
 * What ExportTaskWaiter and GraphExport expose once the export task succeeded. Anything that
 * references one of these attributes is created only after the export succeeded.
 */
export abstract class ExportTaskResult extends Construct {
  /** @internal */
  protected _attribute!: AttributeReader;
  /** @internal */
  protected _stateMachine!: sfn.IStateMachine;
  /** @internal */
  protected _longWait = false;

  /** The export task's id. @attribute */
  public get attrTaskId(): string {
    return this._attribute(ResourceAttributes.TASK_ID);
  }
  /** The id of the exported graph. @attribute */
  public get attrGraphId(): string {
    return this._attribute(ResourceAttributes.GRAPH_ID);
  }
  /** The task's final status (always `SUCCEEDED` once the resource exists). @attribute */
  public get attrStatus(): string {
    return this._attribute(ResourceAttributes.STATUS);
  }
  /** `PARQUET` or `CSV`. @attribute */
  public get attrFormat(): string {
    return this._attribute(ResourceAttributes.FORMAT);
  }
  /** The Parquet type (`COLUMNAR`), or an empty string for CSV exports. @attribute */
  public get attrParquetType(): string {
    return this._attribute(ResourceAttributes.PARQUET_TYPE);
  }
  /** The S3 URI the export was written to. @attribute */
  public get attrDestination(): string {
    return this._attribute(ResourceAttributes.DESTINATION);
  }
  /** The KMS key that encrypted the export. @attribute */
  public get attrKmsKeyIdentifier(): string {
    return this._attribute(ResourceAttributes.KMS_KEY_IDENTIFIER);
  }
  /** The IAM role the service used to write the export. @attribute */
  public get attrRoleArn(): string {
    return this._attribute(ResourceAttributes.ROLE_ARN);
  }
  /** The number of vertices written. @attribute */
  public get attrNumVerticesWritten(): number {
    return Token.asNumber(this._attribute(ResourceAttributes.NUM_VERTICES_WRITTEN));
  }
  /** The number of edges written. @attribute */
  public get attrNumEdgesWritten(): number {
    return Token.asNumber(this._attribute(ResourceAttributes.NUM_EDGES_WRITTEN));
  }
  /** How long the export ran, in seconds. @attribute */
  public get attrTimeElapsedSeconds(): number {
    return Token.asNumber(this._attribute(ResourceAttributes.TIME_ELAPSED_SECONDS));
  }
  /** When the export started, as an ISO 8601 timestamp (empty if the service did not say). @attribute */
  public get attrStartTime(): string {
    return this._attribute(ResourceAttributes.START_TIME);
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

