import { createHash } from 'crypto';
import { ArnFormat, CfnResource, CustomResource, Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Attrs, Env, Limits, Props, WAITER_RESOURCE_TYPE } from './constants';
import { ExportWaiterFunction } from './export-waiter-function';
import { checkPollInterval, checkPollRange, checkTaskIdentifier, checkTimeout } from './validation';
import { buildWaitLoop } from './wait-loop';

/**
 * Settings of the infrastructure that all waiters of a stack share (one function, one state
 * machine). Waiters with equal settings share it; waiters with different settings get their own.
 */
export interface ExportTaskWaiterInfrastructureProps {
  /**
   * Log group for the handler function and the state machine.
   *
   * The state machine logs every event without execution data, so the CloudFormation ResponseURL
   * never reaches the log.
   *
   * @default - a log group with one year of retention
   */
  readonly logGroup?: logs.ILogGroup;

  /**
   * Whether to trace the handler and the state machine with AWS X-Ray.
   *
   * @default true
   */
  readonly tracing?: boolean;
}

export interface ExportTaskWaiterProps extends ExportTaskWaiterInfrastructureProps {
  /**
   * The export task to wait for: `t-` followed by 10 lowercase letters or digits.
   *
   * Usually a token, for example the `TaskId` attribute of an `AWS::NeptuneGraph::ExportTask`.
   * A literal is checked at synth time, a token at deploy time.
   */
  readonly taskIdentifier: string;

  /**
   * How long to wait for the task to end before failing the deployment.
   *
   * At most 55 minutes: CloudFormation waits at most one hour for a custom resource and the
   * waiter keeps 5 minutes to answer. CloudFormation's own timeout for the resource is set to
   * this timeout plus those 5 minutes.
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
}

/**
 * Waits for an Amazon Neptune Analytics export task to end, and exposes its results.
 *
 * Creating (or updating to another task id) this resource waits until the task reaches a terminal
 * status. SUCCEEDED makes the resource succeed with the task's destination, format and counts as
 * attributes; FAILED, CANCELLED or DELETED fail the deployment with the service's reason. Deleting
 * the resource never touches the task.
 */
export class ExportTaskWaiter extends Construct {
  /** The export task's id. @attribute */
  public readonly attrTaskId: string;
  /** The id of the exported graph. @attribute */
  public readonly attrGraphId: string;
  /** The task's final status (always `SUCCEEDED` once the resource exists). @attribute */
  public readonly attrStatus: string;
  /** `PARQUET` or `CSV`. @attribute */
  public readonly attrFormat: string;
  /** The Parquet type (`COLUMNAR`), or an empty string for CSV exports. @attribute */
  public readonly attrParquetType: string;
  /** The S3 URI the export was written to. @attribute */
  public readonly attrDestination: string;
  /** The KMS key that encrypted the export. @attribute */
  public readonly attrKmsKeyIdentifier: string;
  /** The IAM role the service used to write the export. @attribute */
  public readonly attrRoleArn: string;
  /** The number of vertices written. @attribute */
  public readonly attrNumVerticesWritten: number;
  /** The number of edges written. @attribute */
  public readonly attrNumEdgesWritten: number;
  /** How long the export ran, in seconds. @attribute */
  public readonly attrTimeElapsedSeconds: number;
  /** When the export started, as an ISO 8601 timestamp (empty if the service did not say). @attribute */
  public readonly attrStartTime: string;

  /** The state machine that polls the task (shared by the stack's waiters with the same settings). */
  public readonly stateMachine: sfn.IStateMachine;

  private readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: ExportTaskWaiterProps) {
    super(scope, id);

    const timeout = seconds(props.timeout, Limits.DEFAULT_TIMEOUT);
    const minPoll = seconds(props.minPollInterval, Limits.DEFAULT_MIN_POLL);
    const maxPoll = seconds(props.maxPollInterval, Limits.DEFAULT_MAX_POLL);
    const problems = [
      Token.isUnresolved(props.taskIdentifier) ? undefined : checkTaskIdentifier('taskIdentifier', props.taskIdentifier),
      Token.isUnresolved(timeout) ? undefined : checkTimeout('timeout', timeout),
      Token.isUnresolved(minPoll) ? undefined : checkPollInterval('minPollInterval', minPoll),
      Token.isUnresolved(maxPoll) ? undefined : checkPollInterval('maxPollInterval', maxPoll),
      Token.isUnresolved(minPoll) || Token.isUnresolved(maxPoll) ? undefined : checkPollRange('minPollInterval', minPoll, 'maxPollInterval', maxPoll),
    ].filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) {
      throw new Error(`ExportTaskWaiter ${this.node.path}: ${problems.join('; ')}`);
    }

    const infrastructure = WaiterInfrastructure.of(this, props);
    this.stateMachine = infrastructure.stateMachine;

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: infrastructure.handler.functionArn,
      resourceType: WAITER_RESOURCE_TYPE,
      properties: {
        [Props.TASK_IDENTIFIER]: props.taskIdentifier,
        [Props.TIMEOUT_SECONDS]: timeout,
        [Props.MIN_POLL_SECONDS]: minPoll,
        [Props.MAX_POLL_SECONDS]: maxPoll,
      },
      // CloudFormation gives up shortly after the waiter would have answered "timed out".
      serviceTimeout: Duration.seconds(
        Token.isUnresolved(timeout) ? Limits.CLOUDFORMATION_MAX_WAIT : timeout + Limits.ANSWER_MARGIN,
      ),
    });

    this.attrTaskId = this.resource.getAttString(Attrs.TASK_ID);
    this.attrGraphId = this.resource.getAttString(Attrs.GRAPH_ID);
    this.attrStatus = this.resource.getAttString(Attrs.STATUS);
    this.attrFormat = this.resource.getAttString(Attrs.FORMAT);
    this.attrParquetType = this.resource.getAttString(Attrs.PARQUET_TYPE);
    this.attrDestination = this.resource.getAttString(Attrs.DESTINATION);
    this.attrKmsKeyIdentifier = this.resource.getAttString(Attrs.KMS_KEY_IDENTIFIER);
    this.attrRoleArn = this.resource.getAttString(Attrs.ROLE_ARN);
    this.attrNumVerticesWritten = Token.asNumber(this.resource.getAtt(Attrs.NUM_VERTICES_WRITTEN));
    this.attrNumEdgesWritten = Token.asNumber(this.resource.getAtt(Attrs.NUM_EDGES_WRITTEN));
    this.attrTimeElapsedSeconds = Token.asNumber(this.resource.getAtt(Attrs.TIME_ELAPSED_SECONDS));
    this.attrStartTime = this.resource.getAttString(Attrs.START_TIME);
  }
}

function seconds(duration: Duration | undefined, fallback: number): number {
  return duration === undefined ? fallback : duration.toSeconds();
}

/** The function and state machine shared by a stack's waiters that have the same settings. */
class WaiterInfrastructure extends Construct {
  public static of(scope: Construct, props: ExportTaskWaiterInfrastructureProps): WaiterInfrastructure {
    const stack = Stack.of(scope);
    const tracing = props.tracing ?? true;
    // The default settings keep a plain id; other settings get an id derived from them.
    const isDefault = props.logGroup === undefined && tracing;
    const settings = JSON.stringify([props.logGroup ? Names.nodeUniqueId(props.logGroup.node) : null, tracing]);
    const id = isDefault
      ? 'NeptuneGraphExportWaiter'
      : `NeptuneGraphExportWaiter${createHash('sha256').update(settings).digest('hex').slice(0, 8)}`;
    const existing = stack.node.tryFindChild(id);
    return existing instanceof WaiterInfrastructure ? existing : new WaiterInfrastructure(stack, id, { logGroup: props.logGroup, tracing });
  }

  public readonly handler: lambda.IFunction;
  public readonly stateMachine: sfn.IStateMachine;

  private constructor(scope: Construct, id: string, props: { logGroup?: logs.ILogGroup; tracing: boolean }) {
    super(scope, id);
    const stack = Stack.of(this);
    const logGroup = props.logGroup ?? new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR });

    // A fixed name lets the function know the state machine's ARN without a dependency cycle
    // (the state machine invokes the function, the function starts the state machine).
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    const stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const role = new iam.Role(this, 'HandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Starts and answers Neptune Analytics export waits',
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }));
    logGroup.grantWrite(role);

    const handler = new ExportWaiterFunction(this, 'Handler', {
      description: 'Answers CloudFormation for Neptune Analytics export task waiters',
      role,
      logGroup,
      timeout: Duration.minutes(1),
      memorySize: 256,
      architecture: lambda.Architecture.ARM_64,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: { [Env.STATE_MACHINE_ARN]: stateMachineArn },
    });
    this.handler = handler;

    const stateMachine = new sfn.StateMachine(this, 'WaitLoop', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(buildWaitLoop(this, { answerFunction: handler })),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: props.tracing,
      comment: 'Polls a Neptune Analytics export task until it ends, then answers CloudFormation',
    });
    this.stateMachine = stateMachine;

    this.explainNagFindings(handler, role, stateMachine.role, props.tracing, props.logGroup);
  }

  /**
   * Records, where cdk-nag reads them (the `cdk_nag` metadata of each CloudFormation resource), the
   * findings of the AwsSolutions and Serverless packs that are inherent to this design, each with its
   * reason and, for IAM5, the exact finding it covers. cdk-nag itself is not a dependency.
   */
  private explainNagFindings(
    handler: lambda.Function,
    handlerRole: iam.IRole,
    loopRole: iam.IRole,
    tracing: boolean,
    userLogGroup?: logs.ILogGroup,
  ): void {
    const stack = Stack.of(this);
    const xray = 'X-Ray tracing (on by default, `tracing: false` removes it) adds xray:PutTraceSegments and xray:PutTelemetryRecords'
      + ' (and, for Step Functions, xray:GetSamplingRules and xray:GetSamplingTargets), which support no resource-level permissions.';

    suppress(handler.node.defaultChild as CfnResource, [{
      id: 'Serverless-LambdaDLQ',
      reason: 'The handler never throws on a CloudFormation event: it answers every request itself (FAILED on any error, and before'
        + ' the Lambda timeout), so a dead-letter queue of the asynchronous invocation would stay empty, and nothing could answer'
        + ' CloudFormation from it. The wait loop invokes the handler synchronously and retries it (a DLQ does not apply there).',
    }]);

    if (tracing) {
      suppress(defaultPolicyOf(handlerRole), [{ id: 'AwsSolutions-IAM5', reason: xray, applies_to: ['Resource::*'] }]);
    }
    if (userLogGroup && !Token.isUnresolved(userLogGroup.logGroupName)) {
      // An imported log group's ARN is `...:log-group:<name>:*` in the template: its log streams.
      const name = userLogGroup.logGroupName.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      suppress(defaultPolicyOf(handlerRole), [{
        id: 'AwsSolutions-IAM5',
        reason: 'logs:CreateLogStream and logs:PutLogEvents act on the log streams of the log group given in `logGroup`;'
          + ' `<log group ARN>:*` is how CloudWatch Logs names the streams of that one group.',
        applies_to: [{ regex: `/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):logs:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):log-group:${name}:\\*$/` }],
      }]);
    }

    const handlerId = stack.getLogicalId(handler.node.defaultChild as CfnResource);
    suppress(defaultPolicyOf(loopRole), [
      {
        id: 'AwsSolutions-IAM5',
        reason: 'One state machine serves every waiter of the stack and learns each task id at deploy time from the custom'
          + ' resource, so the read-only neptune-graph:GetExportTask is granted on the export tasks of this account and region only.',
        applies_to: [{ regex: '/^Resource::arn:<AWS::Partition>:neptune-graph:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):export-task\\/\\*$/' }],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason: 'The CDK LambdaInvoke task grants lambda:InvokeFunction on the handler and its versions and aliases (<arn>:*);'
          + ' the loop only invokes the handler of this same construct, so the wildcard covers nothing else.',
        applies_to: [`Resource::<${handlerId}.Arn>:*`],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason: 'Step Functions logging to CloudWatch Logs needs the log delivery actions (logs:CreateLogDelivery,'
          + ' logs:GetLogDelivery, logs:UpdateLogDelivery, logs:DeleteLogDelivery, logs:ListLogDeliveries, logs:PutResourcePolicy,'
          + ` logs:DescribeResourcePolicies, logs:DescribeLogGroups), which support only Resource "*".${tracing ? ` ${xray}` : ''}`,
        applies_to: ['Resource::*'],
      },
    ]);
  }
}

interface NagSuppression {
  readonly id: string;
  readonly reason: string;
  readonly applies_to?: Array<string | { regex: string }>;
}

/** Adds suppressions to the `cdk_nag` metadata of a resource (the format NagSuppressions writes). */
function suppress(resource: CfnResource | undefined, rules: NagSuppression[]): void {
  if (!resource) return;
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: NagSuppression[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, ...rules] });
}

/** The CloudFormation policy the CDK creates for statements added to a role. */
function defaultPolicyOf(role: iam.IRole): CfnResource | undefined {
  return role.node.tryFindChild('DefaultPolicy')?.node.defaultChild as CfnResource | undefined;
}
