import { createHash } from 'crypto';
import { ArnFormat, CfnResource, Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Env } from './constants';
import { ExportWaiterFunction } from './export-waiter-function';
import { buildWaitLoop } from './wait-loop';

/** Settings of the shared infrastructure (see ExportWaitOptions). */
export interface InfrastructureSettings {
  readonly logGroup?: logs.ILogGroup;
  readonly tracing?: boolean;
}

/** The function and state machine shared by a stack's waiters that have the same settings. */
export class WaiterInfrastructure extends Construct {
  public static of(scope: Construct, props: InfrastructureSettings): WaiterInfrastructure {
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
  private readonly handlerRole: iam.IRole;
  private readonly loopRole: iam.IRole;
  private readonly exportTasks: string;
  private cancelGranted = false;
  private startSuppressed = false;

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
    this.handlerRole = role;
    this.exportTasks = stack.formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: '*' });

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
    this.loopRole = stateMachine.role;

    this.explainNagFindings(handler, role, stateMachine.role, props.tracing, props.logGroup);
  }

  /**
   * Lets the loop start exports of one graph with one export role (GraphExport). The task id is
   * only known once the export started, so StartExportTask is granted on the graph and on this
   * account's export tasks; PassRole only for that role and only to Neptune Analytics.
   */
  public allowStartingExports(graphArn: string, exportRole: iam.IRole, tagged: boolean): void {
    const loopRole = this.loopRole;
    loopRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['neptune-graph:StartExportTask'],
      resources: [graphArn, this.exportTasks],
    }));
    if (tagged) {
      loopRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['neptune-graph:TagResource'], resources: [this.exportTasks] }));
    }
    loopRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [exportRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'neptune-graph.amazonaws.com' } },
    }));
    if (this.startSuppressed) return;
    this.startSuppressed = true;
    suppress(defaultPolicyOf(loopRole), [{
      id: 'AwsSolutions-IAM5',
      reason: 'GraphExport: the loop starts the export, and StartExportTask (with TagResource when tags are given) authorizes the'
        + ' export task it creates, whose id does not exist before the call, so they are granted on the export tasks of this'
        + ' account and region only; the graph is named exactly.',
      applies_to: [{ regex: '/^Resource::arn:<AWS::Partition>:neptune-graph:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):export-task\\/\\*$/' }],
    }]);
  }

  /** Lets the handler cancel a running export when its GraphExport is deleted (cancelOnDelete). */
  public allowCancellingExports(): void {
    if (this.cancelGranted) return;
    this.cancelGranted = true;
    this.handlerRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['neptune-graph:CancelExportTask', 'neptune-graph:GetExportTask'],
      resources: [this.exportTasks],
    }));
    suppress(defaultPolicyOf(this.handlerRole), [{
      id: 'AwsSolutions-IAM5',
      reason: 'GraphExport with cancelOnDelete: the handler cancels the export its resource started, whose id is only known at'
        + ' deploy time, so CancelExportTask and GetExportTask are granted on the export tasks of this account and region only.',
      applies_to: [{ regex: '/^Resource::arn:<AWS::Partition>:neptune-graph:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):export-task\\/\\*$/' }],
    }]);
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
    }, ...['AwsSolutions-L1', 'Serverless-LambdaLatestVersion'].map((id) => ({
      id,
      reason: 'The handler is bundled for and tested on Node.js 22 (esbuild target node22) and pinned to it on purpose; a newer'
        + ' runtime is adopted by a release of this library that builds and tests for it, not picked up unannounced.',
    }))]);

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

export interface NagSuppression {
  readonly id: string;
  readonly reason: string;
  readonly applies_to?: Array<string | { regex: string }>;
}

/** Adds suppressions to the `cdk_nag` metadata of a resource (the format NagSuppressions writes). */
export function suppress(resource: CfnResource | undefined, rules: NagSuppression[]): void {
  if (!resource) return;
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: NagSuppression[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, ...rules] });
}

/** The CloudFormation policy the CDK creates for statements added to a role. */
export function defaultPolicyOf(role: iam.IRole): CfnResource | undefined {
  return role.node.tryFindChild('DefaultPolicy')?.node.defaultChild as CfnResource | undefined;
}
