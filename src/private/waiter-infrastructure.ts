import { ArnFormat, Aws, Duration, Fn, Names, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, IDependable } from 'constructs';
import { buildWaitLoop } from './custom-resource-loop';
import { ExportWaiterFunction } from './export-waiter-function';
import { explainCancelExportFindings, explainHandlerFindings, explainHandlerVpcFindings, explainLoopFindings, explainStartExportFindings } from './nag-suppressions';
import { Env } from '../runtime/constants';

/** Settings of the shared infrastructure (see ExportWaitOptions). */
export interface InfrastructureSettings {
  readonly logGroup?: logs.ILogGroup;
  readonly tracing?: boolean;
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
}

const INFRASTRUCTURE_ID = 'NeptuneGraphExportWaiter';

interface InfrastructureNames {
  readonly stateMachineName: string;
  readonly stateMachineArn: string;
  readonly executionArns: string;
  readonly parameterPrefix: string;
  readonly parameterArns: string;
}

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
  /**
   * What must exist, with its latest statements in effect, before a custom resource's first request:
   * the state machine with its role and policy (the loop's grants, such as a new GraphExport's), and
   * the handler's policy. (The function itself is its ServiceToken, a dependency already.)
   */
  public readonly neededBeforeFirstRequest: IDependable[];
  private readonly handlerRole: iam.IRole;
  private readonly loopRole: iam.IRole;
  private readonly exportTasks: string;
  private readonly settings: InfrastructureSettings & { tracing: boolean };
  private readonly settingsFrom: string;
  private cancelGranted = false;
  private startSuppressed = false;

  private constructor(scope: Construct, id: string, settings: InfrastructureSettings, requester: Construct) {
    super(scope, id);
    const tracing = settings.tracing ?? true;
    this.settings = { ...settings, tracing };
    this.settingsFrom = requester.node.path;
    const logGroup = settings.logGroup ?? new logs.LogGroup(this, 'Logs', {
      // Step Functions adds a log group outside /aws/vendedlogs/ to the account's CloudWatch Logs
      // resource policy, whose size is limited. The stack's own id keeps the name unique when a
      // deleted stack's (retained) log group still exists.
      logGroupName: `/aws/vendedlogs/states/neptune-graph-export-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
      retention: logs.RetentionDays.ONE_YEAR,
    });
    const names = this.names();
    this.exportTasks = Stack.of(this).formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: '*' });

    const handlerRole = this.createHandlerRole(names, logGroup);
    this.handlerRole = handlerRole;
    const handler = this.createHandler(handlerRole, logGroup, names);
    this.handler = handler;
    const stateMachine = this.createStateMachine(handler, logGroup, names);
    this.stateMachine = stateMachine;
    this.loopRole = stateMachine.role;
    this.neededBeforeFirstRequest = [stateMachine, this.handlerRole];

    explainHandlerFindings(handler, this.handlerRole, tracing, settings.logGroup);
    explainLoopFindings(stateMachine.role, handler, tracing);
  }

  /**
   * A fixed state machine name lets the function know the state machine's ARN without a dependency
   * cycle (the state machine invokes the function, the function starts the state machine).
   */
  private names(): InfrastructureNames {
    const stack = Stack.of(this);
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    const parameterPrefix = `/cdk-neptune-graph-export/${stateMachineName}`;
    return {
      stateMachineName,
      stateMachineArn: stack.formatArn({
        service: 'states', resource: 'stateMachine', resourceName: stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      executionArns: stack.formatArn({
        service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      parameterPrefix,
      parameterArns: stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${parameterPrefix.slice(1)}/*` }),
    };
  }

  private createHandlerRole(names: InfrastructureNames, logGroup: logs.ILogGroup): iam.Role {
    const role = new iam.Role(this, 'HandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Starts and answers Neptune Analytics export waits',
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution', 'states:ListExecutions'], resources: [names.stateMachineArn] }));
    // A Delete of a Create that CloudFormation cancelled stops the execution still waiting for it; a
    // redelivered request asks whether the execution that serves it still runs.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StopExecution', 'states:DescribeExecution'], resources: [names.executionArns] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:DeleteParameter'],
      resources: [names.parameterArns],
    }));
    logGroup.grantWrite(role);
    return role;
  }

  private createHandler(role: iam.Role, logGroup: logs.ILogGroup, names: InfrastructureNames): lambda.Function {
    const settings = this.settings;
    const handler = new ExportWaiterFunction(this, 'Handler', {
      description: 'Answers CloudFormation for Neptune Analytics export task waiters',
      role,
      logGroup,
      timeout: Duration.minutes(1),
      memorySize: 256,
      architecture: lambda.Architecture.ARM_64,
      tracing: settings.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: { [Env.STATE_MACHINE_ARN]: names.stateMachineArn, [Env.PARAMETER_PREFIX]: names.parameterPrefix },
      // VpcConfig is not a replacement property of AWS::Lambda::Function (@aws-cdk/aws-service-spec):
      // placing the function in a VPC, or moving it, updates it in place and keeps its ARN, the
      // ServiceToken of every deployed waiter.
      vpc: settings.vpc,
      vpcSubnets: settings.vpcSubnets,
      securityGroups: settings.securityGroups,
    });
    if (settings.vpc) {
      // lambda.Function adds the managed VPC access policy only to a role it creates itself.
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      explainHandlerVpcFindings(role);
    }
    return handler;
  }

  private createStateMachine(handler: lambda.IFunction, logGroup: logs.ILogGroup, names: InfrastructureNames): sfn.StateMachine {
    const stateMachine = new sfn.StateMachine(this, 'WaitLoop', {
      stateMachineName: names.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(buildWaitLoop(this, { answerFunction: handler, stateMachineArn: names.stateMachineArn })),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: this.settings.tracing,
      comment: 'Polls a Neptune Analytics export task until it ends, then answers CloudFormation',
    });
    // The loop continues in a new execution of itself before it nears the history-event limit.
    stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [names.stateMachineArn] }));
    return stateMachine;
  }

  /** Fails synthesis when a construct asks for other settings than the stack's infrastructure has. */
  private checkSameSettings(settings: InfrastructureSettings, requester: Construct): void {
    const problems = this.differences(settings);
    if (problems.length === 0) return;
    throw new Error(`${requester.node.path}: ${problems.join(' and ')}. All waiters and exports of a stack share one handler and `
      + `state machine, configured by the first of them (${this.settingsFrom}): a deployed custom resource cannot move to `
      + 'another handler (CloudFormation refuses to change its ServiceToken). Give every waiter and export of the stack the '
      + 'same logGroup, tracing, vpc, vpcSubnets and securityGroups, or leave them unset on all but one.');
  }

  /** Each setting given that differs from the infrastructure's, as "<name> <value> (the infrastructure uses <value>)". */
  private differences(settings: InfrastructureSettings): string[] {
    const own = this.settings;
    const path = (construct: Construct | undefined, fallback: string) => construct?.node.path ?? fallback;
    const groups = (list: ec2.ISecurityGroup[] | undefined) => (list === undefined ? 'a security group of its own' : `[${list.map((g) => g.node.path).join(', ')}]`);
    const subnets = (selection: ec2.SubnetSelection | undefined) => (selection === undefined || own.vpc === undefined
      ? JSON.stringify(selection ?? 'the default subnets')
      : JSON.stringify(Stack.of(this).resolve(own.vpc.selectSubnets(selection).subnetIds)));
    const problems: string[] = [];
    if (settings.logGroup !== undefined && settings.logGroup !== own.logGroup) {
      problems.push(`logGroup ${settings.logGroup.node.path} (the infrastructure uses ${path(own.logGroup, 'its own log group')})`);
    }
    if (settings.tracing !== undefined && settings.tracing !== own.tracing) {
      problems.push(`tracing ${settings.tracing} (the infrastructure uses ${own.tracing})`);
    }
    if (settings.vpc !== undefined && settings.vpc !== own.vpc) {
      problems.push(`vpc ${settings.vpc.node.path} (the infrastructure uses ${path(own.vpc, 'no VPC')})`);
    }
    if (settings.vpcSubnets !== undefined && subnets(settings.vpcSubnets) !== subnets(own.vpcSubnets)) {
      problems.push(`vpcSubnets ${subnets(settings.vpcSubnets)} (the infrastructure uses ${subnets(own.vpcSubnets)})`);
    }
    const sameGroups = (a: ec2.ISecurityGroup[], b: ec2.ISecurityGroup[] | undefined) =>
      b !== undefined && a.length === b.length && a.every((g) => b.includes(g));
    if (settings.securityGroups !== undefined && !sameGroups(settings.securityGroups, own.securityGroups)) {
      problems.push(`securityGroups ${groups(settings.securityGroups)} (the infrastructure uses ${groups(own.securityGroups)})`);
    }
    return problems;
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
    explainStartExportFindings(loopRole);
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
    explainCancelExportFindings(this.handlerRole);
  }
}
