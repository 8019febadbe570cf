import { ArnFormat, Aws, CfnResource, Duration, Fn, Names, Stack, Token } from 'aws-cdk-lib';
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

const INFRASTRUCTURE_ID = 'NeptuneGraphExportWaiter';
const EXPORT_TASK_ARN_REGEX = '/^Resource::arn:<AWS::Partition>:neptune-graph:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):export-task\\/\\*$/';

/**
 * The function and state machine that all waiters and exports of a stack share. There is exactly one
 * per stack: a custom resource's ServiceToken (the function's ARN) can never change once deployed
 * ("Modifying service token is not allowed"), so settings must not move a waiter to other
 * infrastructure; changing a setting updates this infrastructure in place instead.
 */
export class WaiterInfrastructure extends Construct {
  public static getOrCreate(scope: Construct, settings: InfrastructureSettings, requester: Construct): WaiterInfrastructure {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(INFRASTRUCTURE_ID);
    if (existing instanceof WaiterInfrastructure) {
      existing.checkSameSettings(settings, requester);
      return existing;
    }
    return new WaiterInfrastructure(stack, INFRASTRUCTURE_ID, settings, requester);
  }

  public readonly handler: lambda.IFunction;
  public readonly stateMachine: sfn.IStateMachine;
  private readonly handlerRole: iam.IRole;
  private readonly loopRole: iam.IRole;
  private readonly exportTasks: string;
  private readonly settings: { logGroup?: logs.ILogGroup; tracing: boolean };
  private readonly settingsFrom: string;
  private cancelGranted = false;
  private startSuppressed = false;

  private constructor(scope: Construct, id: string, settings: InfrastructureSettings, requester: Construct) {
    super(scope, id);
    const stack = Stack.of(this);
    const tracing = settings.tracing ?? true;
    this.settings = { logGroup: settings.logGroup, tracing };
    this.settingsFrom = requester.node.path;
    const logGroup = settings.logGroup ?? new logs.LogGroup(this, 'Logs', {
      // Step Functions adds a log group outside /aws/vendedlogs/ to the account's CloudWatch Logs
      // resource policy, whose size is limited. The stack's own id keeps the name unique when a
      // deleted stack's (retained) log group still exists.
      logGroupName: `/aws/vendedlogs/states/neptune-graph-export-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
      retention: logs.RetentionDays.ONE_YEAR,
    });

    // A fixed name lets the function know the state machine's ARN without a dependency cycle
    // (the state machine invokes the function, the function starts the state machine).
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    const stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const executionArns = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const parameterPrefix = `/cdk-neptune-graph-export/${stateMachineName}`;
    const parameters = stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${parameterPrefix.slice(1)}/*` });
    this.exportTasks = stack.formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: '*' });

    const role = new iam.Role(this, 'HandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Starts and answers Neptune Analytics export waits',
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution', 'states:ListExecutions'], resources: [stateMachineArn] }));
    // A Delete of a Create that CloudFormation cancelled stops the execution still waiting for it; a
    // redelivered request asks whether the execution that serves it still runs.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StopExecution', 'states:DescribeExecution'], resources: [executionArns] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:DeleteParameter'],
      resources: [parameters],
    }));
    logGroup.grantWrite(role);
    this.handlerRole = role;

    const handler = new ExportWaiterFunction(this, 'Handler', {
      description: 'Answers CloudFormation for Neptune Analytics export task waiters',
      role,
      logGroup,
      timeout: Duration.minutes(1),
      memorySize: 256,
      architecture: lambda.Architecture.ARM_64,
      tracing: tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: { [Env.STATE_MACHINE_ARN]: stateMachineArn, [Env.PARAMETER_PREFIX]: parameterPrefix },
    });
    this.handler = handler;

    const stateMachine = new sfn.StateMachine(this, 'WaitLoop', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(buildWaitLoop(this, { answerFunction: handler, stateMachineArn })),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: tracing,
      comment: 'Polls a Neptune Analytics export task until it ends, then answers CloudFormation',
    });
    // The loop continues in a new execution of itself before it nears the history-event limit.
    stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }));
    this.stateMachine = stateMachine;
    this.loopRole = stateMachine.role;

    this.explainNagFindings(handler, role, stateMachine.role, tracing, settings.logGroup);
  }

  /** Fails synthesis when a construct asks for other settings than the stack's infrastructure has. */
  private checkSameSettings(settings: InfrastructureSettings, requester: Construct): void {
    const problems: string[] = [];
    if (settings.logGroup !== undefined && settings.logGroup !== this.settings.logGroup) {
      problems.push(`logGroup ${settings.logGroup.node.path} (the infrastructure uses ${this.settings.logGroup?.node.path ?? 'its own log group'})`);
    }
    if (settings.tracing !== undefined && settings.tracing !== this.settings.tracing) {
      problems.push(`tracing ${settings.tracing} (the infrastructure uses ${this.settings.tracing})`);
    }
    if (problems.length === 0) return;
    throw new Error(`${requester.node.path}: ${problems.join(' and ')}. All waiters and exports of a stack share one handler and `
      + `state machine, configured by the first of them (${this.settingsFrom}): a deployed custom resource cannot move to `
      + 'another handler (CloudFormation refuses to change its ServiceToken). Give every waiter and export of the stack the '
      + 'same logGroup and tracing, or leave them unset on all but one.');
  }

  /**
   * Lets the loop start exports of one graph with one export role (GraphExport). The task id is
   * only known once the export started, so StartExportTask is granted on the graph and on this
   * account's export tasks; PassRole only for that role and only to Neptune Analytics.
   */
  public allowStartingExports(graphArn: string, exportRole: iam.IRole): void {
    const loopRole = this.loopRole;
    // Tags travel with StartExportTask itself (the Service Authorization Reference lists
    // aws:RequestTag for it, and no export-task resource for neptune-graph:TagResource).
    loopRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['neptune-graph:StartExportTask'],
      resources: [graphArn, this.exportTasks],
    }));
    loopRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [exportRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'neptune-graph.amazonaws.com' } },
    }));
    if (this.startSuppressed) return;
    this.startSuppressed = true;
    suppress(defaultPolicyOf(loopRole), [{
      id: 'AwsSolutions-IAM5',
      reason: 'GraphExport: the loop starts the export, and StartExportTask authorizes the export task it creates, whose id'
        + ' does not exist before the call, so it is granted on the export tasks of this account and region only; the graph'
        + ' is named exactly. The loop cancels an export it started when its wait times out (cancelOnDelete).',
      applies_to: [{ regex: EXPORT_TASK_ARN_REGEX }],
    }]);
  }

  /** Lets the handler cancel a running export when its GraphExport is deleted (cancelOnDelete). */
  public allowCancellingExports(): void {
    if (this.cancelGranted) return;
    this.cancelGranted = true;
    // ListExportTasks finds the export of a Create that CloudFormation cancelled before it named the task.
    this.handlerRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['neptune-graph:CancelExportTask', 'neptune-graph:GetExportTask', 'neptune-graph:ListExportTasks'],
      resources: [this.exportTasks],
    }));
    // The loop cancels the export it started when its wait times out.
    this.loopRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['neptune-graph:CancelExportTask'], resources: [this.exportTasks] }));
    suppress(defaultPolicyOf(this.handlerRole), [{
      id: 'AwsSolutions-IAM5',
      reason: 'GraphExport with cancelOnDelete: the handler cancels the export its resource started, whose id is only known at'
        + ' deploy time, so CancelExportTask, GetExportTask and ListExportTasks are granted on the export tasks of this account'
        + ' and region only.',
      applies_to: [{ regex: EXPORT_TASK_ARN_REGEX }],
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

    suppress(defaultPolicyOf(handlerRole), [
      {
        id: 'AwsSolutions-IAM5',
        reason: 'The handler keeps each waiting request\'s ResponseURL (a secret) and each answer\'s results in Parameter Store'
          + ' under one path of its own, named per request and per resource at deploy time: ssm:PutParameter, GetParameter and'
          + ' DeleteParameter are granted on that path only.',
        applies_to: [{ regex: '/^Resource::arn:<AWS::Partition>:ssm:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):parameter\\/cdk-neptune-graph-export\\/[A-Za-z0-9-]+\\/\\*$/' }],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason: 'A Delete of a Create that CloudFormation cancelled stops the execution that still waits for it, and a redelivered'
          + ' request asks whether its execution still runs; execution names are only known at deploy time, so'
          + ' states:StopExecution and states:DescribeExecution are granted on the executions of this one state machine.',
        applies_to: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):execution:[A-Za-z0-9-]+:\\*$/' }],
      },
      ...(tracing ? [{ id: 'AwsSolutions-IAM5', reason: xray, applies_to: ['Resource::*'] }] : []),
    ]);
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
        applies_to: [{ regex: EXPORT_TASK_ARN_REGEX }],
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
