/**
 * Fine-grained assertions on what ExportTaskWaiter synthesizes: the resources and how waiters share
 * them, the exact IAM, the function, the custom resource, the wait loop's definition, synth-time
 * validation and the attributes.
 */
import { App, CfnParameter, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { resolve } from '../harness/template';
import { ExportDestination, ExportTaskWaiter, ExportTaskWaiterProps, GraphExport } from '../src';

const TASK_ID = 't-0123456789';
const WAITER_TYPE = 'Custom::NeptuneGraphExportTaskWaiter';
/** Resources one waiter infrastructure adds: log group, 2 roles, 2 policies, function, state machine. */
const SHARED_RESOURCES = 7;
const PSEUDO = { partition: 'aws', region: 'us-east-1', account: '123456789012' };

type Json = Record<string, any>;

function newStack(): Stack {
  return new Stack(new App(), 'TestStack');
}

function waiterStack(props: Partial<ExportTaskWaiterProps> = {}): { stack: Stack; waiter: ExportTaskWaiter; template: Template } {
  const stack = newStack();
  const waiter = new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, ...props });
  return { stack, waiter, template: Template.fromStack(stack) };
}

function only(template: Template, type: string): [string, Json] {
  const found = Object.entries(template.findResources(type));
  expect(found).toHaveLength(1);
  return found[0];
}

/** Resolves intrinsics the way CloudFormation would in us-east-1 / 123456789012. */
function resolved(template: Template, value: unknown): unknown {
  const arns: Record<string, string> = {};
  for (const [id, resource] of Object.entries(template.toJSON().Resources as Record<string, Json>)) {
    if (resource.Type === 'AWS::Lambda::Function') arns[id] = `arn:aws:lambda:us-east-1:123456789012:function:${id}`;
    if (resource.Type === 'AWS::StepFunctions::StateMachine') {
      arns[id] = `arn:aws:states:us-east-1:123456789012:stateMachine:${resource.Properties.StateMachineName}`;
    }
    if (resource.Type === 'AWS::Logs::LogGroup') arns[id] = `arn:aws:logs:us-east-1:123456789012:log-group:${id}:*`;
    if (resource.Type === 'AWS::IAM::Role') arns[id] = `arn:aws:iam::123456789012:role/${id}`;
  }
  return resolve(value, { ...PSEUDO, arns });
}

function definitionOf(template: Template): { StartAt: string; States: Record<string, Json>; QueryLanguage?: string } {
  const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
  return JSON.parse(String(resolved(template, machine.Properties.DefinitionString)));
}

/** The policy attached to the role whose trust policy names this service. */
function policyOfRoleFor(template: Template, service: string): Json[] {
  const roles = Object.entries(template.findResources('AWS::IAM::Role')).filter(
    ([, role]) => role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === service,
  );
  expect(roles).toHaveLength(1);
  const [roleId] = roles[0];
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    policy.Properties.Roles.some((role: Json) => role.Ref === roleId),
  );
  expect(policies).toHaveLength(1);
  return resolved(template, policies[0].Properties.PolicyDocument.Statement) as Json[];
}

/** The handler's and the loop's roles. */
function policyRoles(template: Template): { lambda: Json; states: Json } {
  const roles = Object.values(template.findResources('AWS::IAM::Role'));
  const trusting = (service: string) => roles.filter((role) => role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === service);
  expect(trusting('lambda.amazonaws.com')).toHaveLength(1);
  return { lambda: trusting('lambda.amazonaws.com')[0], states: trusting('states.amazonaws.com')[0] };
}

/** The first retrier (or catcher) of a state that matches an error, as Step Functions picks it. */
function firstMatching(entries: Json[] | undefined, error: string): Json | undefined {
  return (entries ?? []).find((entry) => entry.ErrorEquals.includes(error) || entry.ErrorEquals.includes('States.ALL'));
}

describe('resources', () => {
  test('creates one custom resource of type Custom::NeptuneGraphExportTaskWaiter per waiter', () => {
    const stack = newStack();
    new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID });
    new ExportTaskWaiter(stack, 'B', { taskIdentifier: 't-abcdefghij' });

    const template = Template.fromStack(stack);
    template.resourceCountIs(WAITER_TYPE, 2);
    template.hasResourceProperties(WAITER_TYPE, { TaskIdentifier: TASK_ID });
    template.hasResourceProperties(WAITER_TYPE, { TaskIdentifier: 't-abcdefghij' });
  });

  test('two waiters in one stack share one function, one state machine and one log group', () => {
    const stack = newStack();
    new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID });
    new ExportTaskWaiter(stack, 'B', { taskIdentifier: 't-abcdefghij' });

    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    template.resourceCountIs('AWS::IAM::Role', 2);
  });

  test.each([1, 3])('%i waiter(s) add that many resources to a constant set', (count) => {
    const stack = newStack();
    for (let i = 0; i < count; i++) new ExportTaskWaiter(stack, `Waiter${i}`, { taskIdentifier: `t-000000000${i}` });

    const resources = Template.fromStack(stack).toJSON().Resources as Json;
    expect(Object.keys(resources)).toHaveLength(count + SHARED_RESOURCES);
  });

  test('every waiter points at the shared function', () => {
    const stack = newStack();
    new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID });
    new ExportTaskWaiter(stack, 'B', { taskIdentifier: 't-abcdefghij' });

    const template = Template.fromStack(stack);
    const [functionId] = only(template, 'AWS::Lambda::Function');
    const tokens = Object.values(template.findResources(WAITER_TYPE)).map((r) => r.Properties.ServiceToken);
    expect(tokens).toEqual([{ 'Fn::GetAtt': [functionId, 'Arn'] }, { 'Fn::GetAtt': [functionId, 'Arn'] }]);
  });

  test('fails when two waiters of a stack ask for different tracing, naming both and the ServiceToken rule', () => {
    const stack = newStack();
    new ExportTaskWaiter(stack, 'Traced', { taskIdentifier: TASK_ID });
    expect(() => new ExportTaskWaiter(stack, 'Untraced', { taskIdentifier: TASK_ID, tracing: false }))
      .toThrow(/TestStack\/Untraced: tracing false \(the infrastructure uses true\).*first of them \(TestStack\/Traced\).*ServiceToken/);
  });

  test('fails when two waiters of a stack ask for different log groups', () => {
    const stack = newStack();
    const logGroup = new logs.LogGroup(stack, 'MyLogs');
    new ExportTaskWaiter(stack, 'Default', { taskIdentifier: TASK_ID });
    expect(() => new ExportTaskWaiter(stack, 'Custom', { taskIdentifier: TASK_ID, logGroup }))
      .toThrow(/TestStack\/Custom: logGroup TestStack\/MyLogs \(the infrastructure uses its own log group\)/);
  });

  test('a waiter that leaves the settings unset joins the infrastructure another waiter configured', () => {
    const stack = newStack();
    const logGroup = new logs.LogGroup(stack, 'MyLogs');
    const a = new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID, logGroup, tracing: false });
    const b = new ExportTaskWaiter(stack, 'B', { taskIdentifier: 't-abcdefghij' });
    expect(a.stateMachine).toBe(b.stateMachine);
    const myLogsId = stack.getLogicalId(logGroup.node.defaultChild as logs.CfnLogGroup);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: myLogsId } }, TracingConfig: Match.absent() });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: false } });
  });

  test('changing tracing or the log group keeps the function (and so every ServiceToken) the same', () => {
    const handlerIdFor = (options: { tracing?: boolean; logGroup?: boolean }) => {
      const stack = newStack();
      const logGroup = options.logGroup ? new logs.LogGroup(stack, 'MyLogs') : undefined;
      new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, tracing: options.tracing, logGroup });
      const template = Template.fromStack(stack).toJSON();
      const [functionId] = Object.keys(template.Resources).filter((id) => template.Resources[id].Type === 'AWS::Lambda::Function');
      const serviceTokens = Object.values(template.Resources as Record<string, any>)
        .filter((r) => r.Type.startsWith('Custom::')).map((r) => JSON.stringify(r.Properties.ServiceToken));
      return { functionId, serviceTokens };
    };
    const before = handlerIdFor({});
    expect(handlerIdFor({ tracing: false })).toEqual(before);
    expect(handlerIdFor({ logGroup: true })).toEqual(before);
  });

  test('the default log group is named under /aws/vendedlogs/ and unique to the stack instance', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: {
        'Fn::Join': ['', ['/aws/vendedlogs/states/neptune-graph-export-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]],
      },
    });
  });

  test('waiters with equal non-default settings share their function and state machine', () => {
    const stack = newStack();
    const logGroup = new logs.LogGroup(stack, 'MyLogs');
    const a = new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID, logGroup, tracing: false });
    const b = new ExportTaskWaiter(stack, 'B', { taskIdentifier: 't-abcdefghij', logGroup, tracing: false });

    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    // Only the user's log group: the shared infrastructure creates none of its own.
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    expect(a.stateMachine).toBe(b.stateMachine);
  });

  test('the default log group keeps logs for one year', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });
});

describe('shared handler and state machine', () => {
  test('every waiter and export of a stack exposes the same handlerFunction and stateMachine, those of the template', () => {
    const stack = newStack();
    const a = new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID });
    const b = new GraphExport(stack, 'B', {
      graphId: 'g-0123456789',
      destination: ExportDestination.fromS3Uri('s3://bucket/prefix/'),
      encryptionKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
    });
    expect(b.handlerFunction).toBe(a.handlerFunction);
    expect(b.stateMachine).toBe(a.stateMachine);
    const template = Template.fromStack(stack);
    const [functionId] = only(template, 'AWS::Lambda::Function');
    const [machineId] = only(template, 'AWS::StepFunctions::StateMachine');
    expect(stack.resolve(a.handlerFunction.functionArn)).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
    expect(stack.resolve(a.stateMachine.stateMachineArn)).toEqual({ Ref: machineId });
  });
});

describe('VPC placement of the shared handler', () => {
  function vpcStack() {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    return { stack, vpc };
  }
  const subnetRefs = (stack: Stack, subnets: ec2.ISubnet[]) => subnets.map((subnet) => stack.resolve(subnet.subnetId));

  test('runs the function in the private subnets of the VPC, with a security group of its own, by default', () => {
    const { stack, vpc } = vpcStack();
    new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, vpc });
    const template = Template.fromStack(stack);
    const [, fn] = only(template, 'AWS::Lambda::Function');
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual(subnetRefs(stack, vpc.privateSubnets));
    const [groupId] = only(template, 'AWS::EC2::SecurityGroup');
    expect(fn.Properties.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [groupId, 'GroupId'] }]);
  });

  test('fails when asked for public subnets, where the function could reach no AWS API', () => {
    const { stack, vpc } = vpcStack();
    expect(() => new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, vpc, vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }))
      .toThrow(/public subnet can NOT access the internet/);
  });

  test('takes the given subnets and security groups', () => {
    const other = vpcStack();
    const isolatedGroup = new ec2.SecurityGroup(other.stack, 'Group', { vpc: other.vpc });
    new ExportTaskWaiter(other.stack, 'Waiter', {
      taskIdentifier: TASK_ID, vpc: other.vpc, vpcSubnets: { subnets: [other.vpc.privateSubnets[1]] }, securityGroups: [isolatedGroup],
    });
    const [, fn] = only(Template.fromStack(other.stack), 'AWS::Lambda::Function');
    expect(fn.Properties.VpcConfig).toEqual({
      SubnetIds: subnetRefs(other.stack, [other.vpc.privateSubnets[1]]),
      SecurityGroupIds: [other.stack.resolve(isolatedGroup.securityGroupId)],
    });
  });

  test('the handler role gets the managed VPC access policy only with a VPC', () => {
    const managed = (template: Template) => policyRoles(template).lambda.Properties.ManagedPolicyArns;
    expect(managed(waiterStack().template)).toBeUndefined();
    const { stack, vpc } = vpcStack();
    new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, vpc });
    expect(managed(Template.fromStack(stack))).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole']] },
    ]);
  });

  test('placing the function in a VPC keeps its logical id (and so every ServiceToken): VpcConfig updates in place', () => {
    const functionId = (withVpc: boolean) => {
      const { stack, vpc } = vpcStack();
      new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, vpc: withVpc ? vpc : undefined });
      const template = Template.fromStack(stack);
      const [id] = only(template, 'AWS::Lambda::Function');
      const [, waiter] = only(template, WAITER_TYPE);
      return { id, serviceToken: waiter.Properties.ServiceToken };
    };
    expect(functionId(true)).toEqual(functionId(false));
  });

  test('fails when two waiters of a stack ask for different VPCs, naming both and the ServiceToken rule', () => {
    const { stack, vpc } = vpcStack();
    const other = new ec2.Vpc(stack, 'Other', { maxAzs: 1, natGateways: 0 });
    new ExportTaskWaiter(stack, 'First', { taskIdentifier: TASK_ID, vpc });
    expect(() => new ExportTaskWaiter(stack, 'Second', { taskIdentifier: TASK_ID, vpc: other }))
      .toThrow(/TestStack\/Second: vpc TestStack\/Other \(the infrastructure uses TestStack\/Vpc\)\. All waiters and exports of a stack share one handler .*ServiceToken/);
  });

  test('fails when two waiters of a stack ask for different subnets or security groups', () => {
    const { stack, vpc } = vpcStack();
    const group = new ec2.SecurityGroup(stack, 'Group', { vpc });
    new ExportTaskWaiter(stack, 'First', { taskIdentifier: TASK_ID, vpc });
    expect(() => new ExportTaskWaiter(stack, 'Second', { taskIdentifier: TASK_ID, vpc, vpcSubnets: { subnets: [vpc.privateSubnets[0]] } }))
      .toThrow(/TestStack\/Second: vpcSubnets \[\{"Ref":"VpcPrivateSubnet1Subnet[0-9A-F]{8}"\}\] \(the infrastructure uses "the default subnets"\)/);
    expect(() => new ExportTaskWaiter(stack, 'Third', { taskIdentifier: TASK_ID, vpc, securityGroups: [group] }))
      .toThrow(/TestStack\/Third: securityGroups \[TestStack\/Group\] \(the infrastructure uses a security group of its own\)/);
  });

  test('a waiter that names the same VPC, subnets and security groups joins the infrastructure', () => {
    const { stack, vpc } = vpcStack();
    const group = new ec2.SecurityGroup(stack, 'Group', { vpc });
    const options = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, securityGroups: [group] };
    const a = new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID, ...options });
    const b = new ExportTaskWaiter(stack, 'B', { taskIdentifier: TASK_ID, ...options, vpcSubnets: { subnets: vpc.privateSubnets } });
    const c = new ExportTaskWaiter(stack, 'C', { taskIdentifier: TASK_ID });
    expect(b.handlerFunction).toBe(a.handlerFunction);
    expect(c.handlerFunction).toBe(a.handlerFunction);
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 1);
  });
});

describe('IAM', () => {
  test('the state machine may call neptune-graph:GetExportTask on the export tasks of its account and region', () => {
    const { template } = waiterStack();
    const statements = policyOfRoleFor(template, 'states.amazonaws.com');

    expect(statements).toContainEqual({
      Action: 'neptune-graph:GetExportTask',
      Effect: 'Allow',
      Resource: 'arn:aws:neptune-graph:us-east-1:123456789012:export-task/*',
    });
    // Not the action IAM does not know, which CallAwsService derives without an explicit iamAction.
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .flatMap((statement: Json) => [statement.Action].flat());
    expect(actions.filter((action: string) => /^neptunegraph:/i.test(action))).toEqual([]);
  });

  test('the export-task grant is built from the partition, region and account of the stack', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'neptune-graph:GetExportTask',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':neptune-graph:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':export-task/*']],
            },
          },
        ]),
      },
    });
  });

  test('the state machine may invoke only the handler function', () => {
    const { template } = waiterStack();
    const [functionId] = only(template, 'AWS::Lambda::Function');
    const functionArn = `arn:aws:lambda:us-east-1:123456789012:function:${functionId}`;
    const invokes = policyOfRoleFor(template, 'states.amazonaws.com').filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));

    expect(invokes).toEqual([{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [functionArn, `${functionArn}:*`] }]);
  });

  test('the handler may start, list and stop executions of its own state machine only', () => {
    const { template } = waiterStack();
    const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
    const name = machine.Properties.StateMachineName;
    const machineArn = `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`;
    const starts = policyOfRoleFor(template, 'lambda.amazonaws.com').filter((s) => JSON.stringify(s.Action).includes('states:'));

    expect(starts).toEqual([
      { Action: ['states:StartExecution', 'states:ListExecutions'], Effect: 'Allow', Resource: machineArn },
      { Action: ['states:StopExecution', 'states:DescribeExecution'], Effect: 'Allow', Resource: `arn:aws:states:us-east-1:123456789012:execution:${name}:*` },
    ]);
  });

  test('the loop may start executions of its own state machine only (to continue in a new one)', () => {
    const { template } = waiterStack();
    const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
    const machineArn = `arn:aws:states:us-east-1:123456789012:stateMachine:${machine.Properties.StateMachineName}`;
    const starts = policyOfRoleFor(template, 'states.amazonaws.com').filter((s) => JSON.stringify(s.Action).includes('states:'));
    expect(starts).toEqual([{ Action: 'states:StartExecution', Effect: 'Allow', Resource: machineArn }]);
  });

  test('no statement anywhere has a wildcard action', () => {
    const stack = newStack();
    new ExportTaskWaiter(stack, 'A', { taskIdentifier: TASK_ID });
    new GraphExport(stack, 'B', {
      graphId: 'g-0123456789',
      destination: ExportDestination.fromS3Uri('s3://bucket/prefix/'),
      encryptionKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
      cancelOnDelete: true,
      tags: { team: 'graph' },
      timeout: Duration.hours(3),
    });
    const template = Template.fromStack(stack);

    const documents = [
      ...Object.values(template.findResources('AWS::IAM::Policy')).map((p) => p.Properties.PolicyDocument),
      ...Object.values(template.findResources('AWS::IAM::Role')).flatMap((r) => [
        r.Properties.AssumeRolePolicyDocument,
        ...(r.Properties.Policies ?? []).map((p: Json) => p.PolicyDocument),
      ]),
    ];
    const actions = documents.flatMap((d) => d.Statement).flatMap((s: Json) => [s.Action, s.NotAction].flat()).filter(Boolean);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action: string) => action.includes('*'))).toEqual([]);
  });

  test('every statement the library creates, listed', () => {
    const { template } = waiterStack();
    const [functionId] = only(template, 'AWS::Lambda::Function');
    const [logGroupId] = only(template, 'AWS::Logs::LogGroup');
    const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
    const functionArn = `arn:aws:lambda:us-east-1:123456789012:function:${functionId}`;

    const name = machine.Properties.StateMachineName;
    expect(policyOfRoleFor(template, 'lambda.amazonaws.com')).toEqual([
      {
        Action: ['states:StartExecution', 'states:ListExecutions'],
        Effect: 'Allow',
        Resource: `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`,
      },
      { Action: ['states:StopExecution', 'states:DescribeExecution'], Effect: 'Allow', Resource: `arn:aws:states:us-east-1:123456789012:execution:${name}:*` },
      // The ResponseURL of each waiting request, and the results of each answer.
      {
        Action: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:DeleteParameter'],
        Effect: 'Allow',
        Resource: `arn:aws:ssm:us-east-1:123456789012:parameter/cdk-neptune-graph-export/${name}/*`,
      },
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: `arn:aws:logs:us-east-1:123456789012:log-group:${logGroupId}:*` },
      // X-Ray's write actions support no resource-level permissions.
      { Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' },
    ]);
    expect(policyOfRoleFor(template, 'states.amazonaws.com')).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [functionArn, `${functionArn}:*`] },
      { Action: 'neptune-graph:GetExportTask', Effect: 'Allow', Resource: 'arn:aws:neptune-graph:us-east-1:123456789012:export-task/*' },
      // Step Functions log delivery: these actions support no resource-level permissions.
      {
        Action: [
          'logs:CreateLogDelivery',
          'logs:GetLogDelivery',
          'logs:UpdateLogDelivery',
          'logs:DeleteLogDelivery',
          'logs:ListLogDeliveries',
          'logs:PutResourcePolicy',
          'logs:DescribeResourcePolicies',
          'logs:DescribeLogGroups',
        ],
        Effect: 'Allow',
        Resource: '*',
      },
      {
        Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
        Effect: 'Allow',
        Resource: '*',
      },
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: `arn:aws:states:us-east-1:123456789012:stateMachine:${name}` },
    ]);
  });

  test('the roles trust only Lambda and Step Functions respectively, and carry no inline or managed policies', () => {
    const { template } = waiterStack();
    const roles = Object.values(template.findResources('AWS::IAM::Role'));
    // Newer aws-cdk-lib releases add confused-deputy conditions to the Step Functions trust: allowed.
    expect(roles.map((r) => r.Properties.AssumeRolePolicyDocument.Statement)).toEqual(
      expect.arrayContaining([
        [expect.objectContaining({ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } })],
        [expect.objectContaining({ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' } })],
      ]),
    );
    for (const role of roles) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
    }
  });
});

describe('function', () => {
  test('runs nodejs22.x, set explicitly, with handler index.handler on arm64', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Architectures: ['arm64'],
    });
  });

  test('knows its state machine through WAIT_LOOP_STATE_MACHINE_ARN, which equals the state machine ARN', () => {
    const { template, waiter, stack } = waiterStack();
    const [, fn] = only(template, 'AWS::Lambda::Function');
    const [machineId, machine] = only(template, 'AWS::StepFunctions::StateMachine');
    const variable = fn.Properties.Environment.Variables.WAIT_LOOP_STATE_MACHINE_ARN;

    expect(resolved(template, variable)).toBe(`arn:aws:states:us-east-1:123456789012:stateMachine:${machine.Properties.StateMachineName}`);
    // The state machine's own ARN (Ref) is the same ARN, and the variable does not reference it (no cycle).
    expect(stack.resolve(waiter.stateMachine.stateMachineArn)).toEqual({ Ref: machineId });
    expect(JSON.stringify(variable)).not.toContain(machineId);
  });

  test('traces with X-Ray by default', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::Lambda::Function', { TracingConfig: { Mode: 'Active' } });
  });
});

describe('custom resource', () => {
  test.each([
    ['the default 30 minutes', undefined, '2100'],
    ['55 minutes', Duration.minutes(55), '3600'],
    ['1 minute', Duration.minutes(1), '360'],
  ])('ServiceTimeout is the timeout plus 300 s for %s', (_name, timeout, expected) => {
    const { template } = waiterStack({ timeout });
    template.hasResourceProperties(WAITER_TYPE, { ServiceTimeout: expected });
  });

  test('passes TaskIdentifier, TimeoutSeconds, MinPollIntervalSeconds and MaxPollIntervalSeconds', () => {
    const { template } = waiterStack({ timeout: Duration.minutes(20), minPollInterval: Duration.seconds(10), maxPollInterval: Duration.minutes(2) });
    const [, resource] = only(template, WAITER_TYPE);
    const { ServiceToken: _token, ...properties } = resource.Properties;
    expect(properties).toEqual({
      ServiceTimeout: '1500',
      TaskIdentifier: TASK_ID,
      TimeoutSeconds: 1200,
      MinPollIntervalSeconds: 10,
      MaxPollIntervalSeconds: 120,
    });
  });

  test('leaves out settings at their defaults (the handler applies the same 30 minutes, 5 s and 15 minutes)', () => {
    const { template } = waiterStack();
    template.hasResourceProperties(WAITER_TYPE, {
      TimeoutSeconds: Match.absent(),
      MinPollIntervalSeconds: Match.absent(),
      MaxPollIntervalSeconds: Match.absent(),
    });
    template.hasResource(WAITER_TYPE, { Properties: Match.objectLike({ TaskIdentifier: TASK_ID }) });
  });

  test('is deleted with the stack (it never touches the task)', () => {
    const { template } = waiterStack();
    template.hasResource(WAITER_TYPE, { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });
});

describe('wait loop', () => {
  test('calls GetExportTask through the AWS SDK integration with the task id', () => {
    const definition = definitionOf(waiterStack().template);
    const state = definition.States.GetExportTask;
    expect(state.Type).toBe('Task');
    expect(state.Resource).toBe('arn:aws:states:::aws-sdk:neptunegraph:getExportTask');
    expect(state.Parameters).toEqual({ 'TaskIdentifier.$': '$.taskId' });
  });

  test.each(['NeptuneGraph.ThrottlingException', 'NeptuneGraph.InternalServerException'])(
    'retries %s with backoff, full jitter and a maximum delay',
    (error) => {
      const retrier = firstMatching(definitionOf(waiterStack().template).States.GetExportTask.Retry, error);
      expect(retrier).toBeDefined();
      expect(retrier!.ErrorEquals).toContain(error);
      expect(retrier!.MaxAttempts).toBeGreaterThan(0);
      expect(retrier!.BackoffRate).toBeGreaterThan(1);
      expect(retrier!.JitterStrategy).toBe('FULL');
      expect(retrier!.MaxDelaySeconds).toEqual(expect.any(Number));
    },
  );

  test.each(['NeptuneGraph.ResourceNotFoundException', 'NeptuneGraph.ValidationException', 'NeptuneGraph.AccessDeniedException'])(
    'does not retry %s and answers CloudFormation at once',
    (error) => {
      const { States: states } = definitionOf(waiterStack().template);
      const getExportTask = states.GetExportTask;
      const retrier = firstMatching(getExportTask.Retry, error);
      expect(retrier?.MaxAttempts ?? 0).toBe(0);

      const catcher = firstMatching(getExportTask.Catch, error);
      expect(catcher?.ErrorEquals).toContain(error);
      // The caught error leads straight to the answer, without waiting.
      const path: string[] = [];
      let next = catcher!.Next as string | undefined;
      while (next && path.length < 10) {
        path.push(next);
        next = states[next].Next;
      }
      expect(path).toEqual(['CallFailed', 'AnswerCloudFormation', 'Answered']);
    },
  );

  test('is a JSONPath state machine', () => {
    const definition = definitionOf(waiterStack().template);
    expect([undefined, 'JSONPath']).toContain(definition.QueryLanguage);
    for (const state of Object.values(definition.States)) expect([undefined, 'JSONPath']).toContain(state.QueryLanguage);
  });

  test('logs every event without execution data (the ResponseURL stays out of the logs)', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
  });

  test('traces with X-Ray by default', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
  });

  test('is a standard workflow', () => {
    const { template } = waiterStack();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
  });

  test('answers by invoking the handler function', () => {
    const { template } = waiterStack();
    const [functionId] = only(template, 'AWS::Lambda::Function');
    const answer = definitionOf(template).States.AnswerCloudFormation;
    expect(answer.Resource).toBe('arn:aws:states:::lambda:invoke');
    expect(answer.Parameters.FunctionName).toBe(`arn:aws:lambda:us-east-1:123456789012:function:${functionId}`);
    expect(Object.keys(answer.Parameters.Payload)).toEqual(['neptuneGraphExportWaiterAnswer']);
  });
});

describe('synth-time validation', () => {
  test.each(['T-BAD', 't-123', '', 't-0123456789 ', 't-ABCDEFGHIJ'])('fails when taskIdentifier is %j', (taskIdentifier) => {
    expect(() => new ExportTaskWaiter(newStack(), 'Waiter', { taskIdentifier })).toThrow(
      new RegExp(`taskIdentifier .*got ${escapeRegExp(JSON.stringify(taskIdentifier))}`),
    );
  });

  test.each([
    ['12 hours', Duration.hours(12), '43200', 42900],
    ['30 seconds', Duration.seconds(30), '30', 3300],
  ])('fails when timeout is %s', (_name, timeout, shown, max) => {
    expect(() => new ExportTaskWaiter(newStack(), 'Waiter', { taskIdentifier: TASK_ID, timeout })).toThrow(
      new RegExp(`timeout must be .* from 60 to ${max}, got ${shown}\\b`),
    );
  });

  test('accepts a timeout of exactly 55 minutes', () => {
    expect(() => new ExportTaskWaiter(newStack(), 'Waiter', { taskIdentifier: TASK_ID, timeout: Duration.minutes(55) })).not.toThrow();
  });

  test('fails when minPollInterval exceeds maxPollInterval', () => {
    expect(
      () => new ExportTaskWaiter(newStack(), 'Waiter', {
        taskIdentifier: TASK_ID,
        minPollInterval: Duration.minutes(2),
        maxPollInterval: Duration.minutes(1),
      }),
    ).toThrow(/minPollInterval \(120 s\) must not exceed maxPollInterval \(60 s\)/);
  });

  test.each([
    ['minPollInterval', 'of 0 s', Duration.seconds(0), '0'],
    ['minPollInterval', 'of 2 h', Duration.hours(2), '7200'],
    ['maxPollInterval', 'of 0 s', Duration.seconds(0), '0'],
    ['maxPollInterval', 'of 2 h', Duration.hours(2), '7200'],
  ])('fails when %s is %s', (property, _name, interval, shown) => {
    expect(() => new ExportTaskWaiter(newStack(), 'Waiter', { taskIdentifier: TASK_ID, [property]: interval })).toThrow(
      new RegExp(`${property} must be a whole number of seconds from 1 to 3600, got ${shown}\\b`),
    );
  });

  test('names the construct path in the error', () => {
    expect(() => new ExportTaskWaiter(newStack(), 'MyWaiter', { taskIdentifier: 'T-BAD' })).toThrow(/TestStack\/MyWaiter/);
  });

  test('reports every problem at once', () => {
    expect(() => new ExportTaskWaiter(newStack(), 'Waiter', { taskIdentifier: 'T-BAD', timeout: Duration.hours(13) })).toThrow(
      /taskIdentifier .*; timeout /,
    );
  });

  test('does not validate a task identifier that is a token', () => {
    const stack = newStack();
    const taskId = new CfnParameter(stack, 'TaskId');
    new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: taskId.valueAsString });
    Template.fromStack(stack).hasResourceProperties(WAITER_TYPE, { TaskIdentifier: { Ref: 'TaskId' } });
  });

  test('does not validate durations that are tokens, and lets CloudFormation wait its full hour', () => {
    const stack = newStack();
    const number = (id: string) => Token.asNumber(new CfnParameter(stack, id, { type: 'Number' }).value);
    new ExportTaskWaiter(stack, 'Waiter', {
      taskIdentifier: TASK_ID,
      timeout: Duration.seconds(number('Timeout')),
      minPollInterval: Duration.seconds(number('MinPoll')),
      maxPollInterval: Duration.seconds(number('MaxPoll')),
    });
    Template.fromStack(stack).hasResourceProperties(WAITER_TYPE, {
      ServiceTimeout: '3600',
      TimeoutSeconds: { Ref: 'Timeout' },
      MinPollIntervalSeconds: { Ref: 'MinPoll' },
      MaxPollIntervalSeconds: { Ref: 'MaxPoll' },
    });
  });

  test('checks the literal poll interval when the other one is a token', () => {
    const stack = newStack();
    const max = Token.asNumber(new CfnParameter(stack, 'MaxPoll', { type: 'Number' }).value);
    expect(() => new ExportTaskWaiter(stack, 'Waiter', {
      taskIdentifier: TASK_ID,
      minPollInterval: Duration.seconds(0),
      maxPollInterval: Duration.seconds(max),
    })).toThrow(/minPollInterval .*got 0\b/);
  });
});

describe('attributes', () => {
  test.each([
    ['exportTaskId', 'TaskId'],
    ['graphId', 'GraphId'],
    ['format', 'Format'],
    ['parquetType', 'ParquetType'],
    ['destination', 'Destination'],
    ['kmsKeyIdentifier', 'KmsKeyIdentifier'],
    ['roleArn', 'RoleArn'],
    ['numVerticesWritten', 'NumVerticesWritten'],
    ['numEdgesWritten', 'NumEdgesWritten'],
    ['timeElapsedSeconds', 'TimeElapsedSeconds'],
    ['startTime', 'StartTime'],
  ] as const)('%s renders as Fn::GetAtt of %s', (property, attribute) => {
    const { stack, waiter, template } = waiterStack();
    const [resourceId] = only(template, WAITER_TYPE);
    expect(stack.resolve(waiter[property])).toEqual({ 'Fn::GetAtt': [resourceId, attribute] });
  });

  test('exportTaskArn is the export task\'s ARN, built from the TaskId attribute', () => {
    const { stack, waiter, template } = waiterStack();
    const [resourceId] = only(template, WAITER_TYPE);
    expect(stack.resolve(waiter.exportTaskArn)).toEqual({
      'Fn::Join': ['', [
        'arn:', { Ref: 'AWS::Partition' }, ':neptune-graph:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
        ':export-task/', { 'Fn::GetAtt': [resourceId, 'TaskId'] },
      ]],
    });
    const attributes = { [resourceId]: { TaskId: TASK_ID } };
    expect(resolve(stack.resolve(waiter.exportTaskArn), { ...PSEUDO, arns: {}, attributes }))
      .toBe(`arn:aws:neptune-graph:us-east-1:123456789012:export-task/${TASK_ID}`);
  });

  test('numeric attributes are number tokens', () => {
    const { waiter } = waiterStack();
    for (const value of [waiter.numVerticesWritten, waiter.numEdgesWritten, waiter.timeElapsedSeconds]) {
      expect(typeof value).toBe('number');
      expect(Token.isUnresolved(value)).toBe(true);
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('creation order', () => {
  test('the custom resource is created after the state machine and every policy of the handler and the loop', () => {
    const { template } = waiterStack();
    const [, waiter] = only(template, 'Custom::NeptuneGraphExportTaskWaiter');
    const [machineId] = only(template, 'AWS::StepFunctions::StateMachine');
    const policyIds = Object.keys(template.findResources('AWS::IAM::Policy'));
    expect(policyIds).toHaveLength(2);
    expect(waiter.DependsOn).toEqual(expect.arrayContaining([machineId, ...policyIds]));
  });

  test('an export added to a deployed stack is created after the loop policy that lets it start', () => {
    const stack = newStack();
    new ExportTaskWaiter(stack, 'Existing', { taskIdentifier: TASK_ID });
    new GraphExport(stack, 'Added', {
      graphId: 'g-0123456789',
      destination: ExportDestination.fromS3Uri('s3://bucket/prefix/'),
      encryptionKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
    });
    const template = Template.fromStack(stack);
    const [, added] = only(template, 'Custom::NeptuneGraphExport');
    const loopPolicy = Object.entries(template.findResources('AWS::IAM::Policy'))
      .find(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes('neptune-graph:StartExportTask'));
    expect(loopPolicy).toBeDefined();
    expect(added.DependsOn).toEqual(expect.arrayContaining([loopPolicy![0]]));
  });
});
