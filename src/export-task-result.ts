import { createHash } from 'crypto';
import { CfnWaitCondition, CfnWaitConditionHandle, CustomResource, Duration, Fn, Stack, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Attrs, Limits, MAX_TIMEOUT_SECONDS, Props, SIGNAL_FIELDS, SIGNAL_SEPARATOR } from './constants';
import { checkPollInterval, checkPollRange, checkTimeout } from './validation';
import { WaiterInfrastructure } from './waiter-infrastructure';

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

/** The attribute values of a finished export task, as tokens. */
interface ExportTaskAttributes {
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
export function waitForExportTask(scope: ExportTaskResult, request: WaitRequest): {
  attributes: ExportTaskAttributes;
  infrastructure: WaiterInfrastructure;
  resource: CustomResource;
  longWait: boolean;
} {
  const infrastructure = WaiterInfrastructure.of(scope, request.options);
  const { timeout, minPoll, maxPoll } = waitSeconds(request.options);
  const longWait = !Token.isUnresolved(timeout) && timeout > MAX_TIMEOUT_SECONDS;
  const properties: Record<string, unknown> = {
    ...request.properties,
    [Props.TIMEOUT_SECONDS]: timeout,
    [Props.MIN_POLL_SECONDS]: minPoll,
    [Props.MAX_POLL_SECONDS]: maxPoll,
  };

  if (!longWait) {
    const resource = new CustomResource(scope, 'Resource', {
      serviceToken: infrastructure.handler.functionArn,
      resourceType: request.resourceType,
      properties,
      // CloudFormation gives up shortly after the waiter would have answered "timed out".
      serviceTimeout: Duration.seconds(Token.isUnresolved(timeout) ? Limits.CLOUDFORMATION_MAX_WAIT : timeout + Limits.ANSWER_MARGIN),
    });
    const text = (name: string) => resource.getAttString(name);
    const num = (name: string) => Token.asNumber(resource.getAtt(name));
    return { attributes: attributesFrom(text, num), infrastructure, resource, longWait };
  }

  // A WaitCondition and its handle cannot be updated: a different export gets new ones.
  const identity = createHash('sha256').update(JSON.stringify(Stack.of(scope).resolve(request.identity))).digest('hex').slice(0, 8);
  const handle = new CfnWaitConditionHandle(scope, `ExportSignal${identity}`);
  const resource = new CustomResource(scope, 'Resource', {
    serviceToken: infrastructure.handler.functionArn,
    resourceType: request.resourceType,
    properties: { ...properties, [Props.SIGNAL_URL]: handle.ref },
    // Answered as soon as the task is known (after StartExportTask, for a GraphExport).
    serviceTimeout: Duration.minutes(15),
  });
  const condition = new CfnWaitCondition(scope, `ExportEnded${identity}`, {
    handle: handle.ref,
    count: 1,
    timeout: String(timeout + Limits.ANSWER_MARGIN),
  });
  condition.node.addDependency(resource);
  // Data reads {"<task id>":"|v1|v2|...|"}: splitting on the separator puts field i at i + 1.
  const field = (name: string) => Fn.select(SIGNAL_FIELDS.indexOf(name) + 1, Fn.split(SIGNAL_SEPARATOR, Token.asString(condition.attrData)));
  return {
    attributes: attributesFrom(field, (name) => Token.asNumber(field(name))),
    infrastructure,
    resource,
    longWait,
  };
}

function attributesFrom(text: (name: string) => string, num: (name: string) => number): ExportTaskAttributes {
  return {
    taskId: text(Attrs.TASK_ID),
    graphId: text(Attrs.GRAPH_ID),
    status: text(Attrs.STATUS),
    format: text(Attrs.FORMAT),
    parquetType: text(Attrs.PARQUET_TYPE),
    destination: text(Attrs.DESTINATION),
    kmsKeyIdentifier: text(Attrs.KMS_KEY_IDENTIFIER),
    roleArn: text(Attrs.ROLE_ARN),
    numVerticesWritten: num(Attrs.NUM_VERTICES_WRITTEN),
    numEdgesWritten: num(Attrs.NUM_EDGES_WRITTEN),
    timeElapsedSeconds: num(Attrs.TIME_ELAPSED_SECONDS),
    startTime: text(Attrs.START_TIME),
  };
}
