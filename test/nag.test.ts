/**
 * cdk-nag's AwsSolutions and Serverless packs find nothing left unexplained in what the library
 * creates. The findings that are inherent to the design are suppressed in the library itself
 * (src/private/waiter-infrastructure.ts and src/graph-export.ts, `cdk_nag` metadata), each with a reason and, for IAM5, the exact
 * finding it covers; these tests also pin that list, so a new suppression is a visible change.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ExportDestination, ExportTaskWaiter, GraphExport } from '../src';
import { defaultStack, everyOptionStack, findings, graphExportStack, stackWith } from './nag-stacks';

type Json = Record<string, any>;

/** Every suppression in a template, as "<resource type> <rule> <applies_to>: <reason>". */
function suppressions(stack: Stack): Array<{ type: string; id: string; appliesTo?: unknown; reason: string }> {
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Json>;
  return Object.values(resources).flatMap((resource) =>
    (resource.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((rule: Json) => ({
      type: resource.Type,
      id: rule.id,
      appliesTo: rule.applies_to,
      reason: rule.reason,
    })),
  );
}

describe('a stack with one default waiter', () => {
  test('has no unsuppressed AwsSolutions or Serverless errors', () => {
    expect(findings(defaultStack(), 'Error')).toEqual([]);
  });

  test('has no unsuppressed AwsSolutions or Serverless warnings', () => {
    expect(findings(defaultStack(), 'Warning')).toEqual([]);
  });

  test('suppresses exactly the inherent findings, each with a reason and the narrowest applies_to', () => {
    const list = suppressions(defaultStack());
    expect(list.map(({ type, id, appliesTo }) => ({ type, id, appliesTo }))).toEqual([
      // The handler: its own Parameter Store path, its own state machine's executions, X-Ray.
      {
        type: 'AWS::IAM::Policy',
        id: 'AwsSolutions-IAM5',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ssm:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):parameter\\/cdk-neptune-graph-export\\/[A-Za-z0-9-]+\\/\\*$/' }],
      },
      {
        type: 'AWS::IAM::Policy',
        id: 'AwsSolutions-IAM5',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):execution:[A-Za-z0-9-]+:\\*$/' }],
      },
      { type: 'AWS::IAM::Policy', id: 'AwsSolutions-IAM5', appliesTo: ['Resource::*'] },
      { type: 'AWS::Lambda::Function', id: 'Serverless-LambdaDLQ', appliesTo: undefined },
      // Newer aws-cdk-lib releases know runtimes newer than the pinned Node.js 22.
      { type: 'AWS::Lambda::Function', id: 'AwsSolutions-L1', appliesTo: undefined },
      { type: 'AWS::Lambda::Function', id: 'Serverless-LambdaLatestVersion', appliesTo: undefined },
      {
        type: 'AWS::IAM::Policy',
        id: 'AwsSolutions-IAM5',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:neptune-graph:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):export-task\\/\\*$/' }],
      },
      { type: 'AWS::IAM::Policy', id: 'AwsSolutions-IAM5', appliesTo: [expect.stringMatching(/^Resource::<NeptuneGraphExportWaiterHandler[0-9A-F]{8}\.Arn>:\*$/)] },
      { type: 'AWS::IAM::Policy', id: 'AwsSolutions-IAM5', appliesTo: ['Resource::*'] },
    ]);
    for (const { reason } of list) expect(reason.length).toBeGreaterThan(80);
  });

  test('the Lambda invoke suppression names the handler function of the same stack', () => {
    const stack = defaultStack();
    const template = Template.fromStack(stack);
    const [functionId] = Object.keys(template.findResources('AWS::Lambda::Function'));
    expect(suppressions(stack).map((s) => s.appliesTo)).toContainEqual([`Resource::<${functionId}.Arn>:*`]);
  });
});

describe('a stack with every option turned on', () => {
  test('has no unsuppressed AwsSolutions or Serverless errors', () => {
    expect(findings(everyOptionStack(), 'Error')).toEqual([]);
  });

  test('has no unsuppressed AwsSolutions or Serverless warnings', () => {
    expect(findings(everyOptionStack(), 'Warning')).toEqual([]);
  });

  test('a waiter that logs to an imported log group reports no findings either', () => {
    const stack = stackWith((s) => {
      const logGroup = logs.LogGroup.fromLogGroupName(s, 'Imported', '/my/team/waiters');
      new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: 't-0123456789', logGroup });
    });
    expect([...findings(stack, 'Error'), ...findings(stack, 'Warning')]).toEqual([]);
  });
});

describe('a stack whose waiters run in a VPC', () => {
  test('has no unsuppressed findings: the managed VPC access policy is explained, and only attached with a VPC', () => {
    const stack = stackWith((s) => {
      const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 2, natGateways: 1 });
      new ec2.FlowLog(s, 'FlowLog', { resourceType: ec2.FlowLogResourceType.fromVpc(vpc) });
      new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: 't-0123456789', vpc });
    });
    expect([...findings(stack, 'Error'), ...findings(stack, 'Warning')]).toEqual([]);
    expect(suppressions(stack).filter((s) => s.id === 'AwsSolutions-IAM4').map((s) => s.appliesTo)).toEqual([
      ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
    ]);
  });
});

describe('an environment-agnostic stack', () => {
  test('has no unsuppressed findings (the suppressions match <AWS::Region> and <AWS::AccountId> too)', () => {
    const stack = stackWith((s) => {
      new ExportTaskWaiter(s, 'Imported', { taskIdentifier: 't-0123456789', logGroup: logs.LogGroup.fromLogGroupName(s, 'Logs', 'waiters') });
      new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: 't-0123456789' });
    }, true);
    expect([...findings(stack, 'Error'), ...findings(stack, 'Warning')]).toEqual([]);
  });

  test('with its own log group too', () => {
    const stack = stackWith((s) => {
      new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: 't-0123456789' });
    }, true);
    expect([...findings(stack, 'Error'), ...findings(stack, 'Warning')]).toEqual([]);
  });
});

describe('suppressions do not hide choices the user makes', () => {
  test('a waiter without tracing reports the missing X-Ray tracing', () => {
    const stack = stackWith((s) => {
      new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: 't-0123456789', tracing: false });
    });
    const all = [...findings(stack, 'Error'), ...findings(stack, 'Warning')].join('\n');
    expect(all).toMatch(/Serverless-LambdaTracing/);
    expect(all).toMatch(/AwsSolutions-SF2|Serverless-StepFunctionStateMachineXray/);
    expect(all).not.toMatch(/IAM5/);
  });

  test('a wildcard the user adds to the wait loop\'s role is still reported', () => {
    const stack = stackWith((s) => {
      const waiter = new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: 't-0123456789' });
      waiter.stateMachine.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::my-bucket/*'] }),
      );
    });
    expect(findings(stack, 'Error')).toEqual([expect.stringMatching(/AwsSolutions-IAM5\[Resource::arn:aws:s3:::my-bucket\/\*\]/)]);
  });
});

describe('a stack with GraphExports (default role, cancelOnDelete, tags, long-wait)', () => {
  const userFindings = (stack: Stack) =>
    [...findings(stack, 'Error'), ...findings(stack, 'Warning')].filter((f) => !/\/AccessLogs\//.test(f));

  test('has no unsuppressed AwsSolutions or Serverless errors', () => {
    expect(findings(graphExportStack(), 'Error').filter((f) => !/\/AccessLogs\//.test(f))).toEqual([]);
  });

  test('has no unsuppressed AwsSolutions or Serverless warnings', () => {
    expect(findings(graphExportStack(), 'Warning').filter((f) => !/\/AccessLogs\//.test(f))).toEqual([]);
  });

  test('adds exactly the suppressions of the export roles and of starting and cancelling exports', () => {
    // Everything but what a stack with one default waiter has already.
    const key = ({ type, id, appliesTo }: { type: string; id: string; appliesTo?: unknown }) => JSON.stringify({ type, id, appliesTo });
    const waiterOnly = suppressions(defaultStack()).map(key);
    const added = suppressions(graphExportStack()).filter((s) => {
      const index = waiterOnly.indexOf(key(s));
      if (index === -1) return true;
      waiterOnly.splice(index, 1);
      return false;
    });
    expect(waiterOnly).toEqual([]);
    expect(added.map(({ type, id, appliesTo }) => ({ type, id, appliesTo }))).toEqual([
      {
        type: 'AWS::IAM::Policy',
        id: 'AwsSolutions-IAM5',
        appliesTo: [{ regex: '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):s3:::my-exports\\/graph\\/daily\\/\\*$/' }],
      },
      {
        type: 'AWS::IAM::Policy',
        id: 'AwsSolutions-IAM5',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:neptune-graph:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):export-task\\/\\*$/' }],
      },
      {
        type: 'AWS::IAM::Policy',
        id: 'AwsSolutions-IAM5',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:neptune-graph:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):export-task\\/\\*$/' }],
      },
      {
        type: 'AWS::IAM::Policy',
        id: 'AwsSolutions-IAM5',
        appliesTo: [{ regex: expect.stringMatching(/^\/\^Resource::<Exports[0-9A-F]{8}\\\.Arn>\\\/weekly\\\/\\\*\$\/$/) }],
      },
    ]);
    for (const { reason } of added) expect(reason.length).toBeGreaterThan(80);
  });

  test('a wildcard the user adds to the default export role is still reported', () => {
    const stack = graphExportStack((_, graphExport) => {
      graphExport.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::my-exports/other/*'] }));
    });
    expect(userFindings(stack)).toEqual([expect.stringMatching(/AwsSolutions-IAM5\[Resource::arn:aws:s3:::my-exports\/other\/\*\]/)]);
  });

  test('a role of your own gets no suppression from the construct', () => {
    const stack = stackWith((s) => {
      const role = new iam.Role(s, 'MyExportRole', { assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com') });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: ['arn:aws:s3:::my-exports/*'] }));
      new GraphExport(s, 'Export', {
        graphId: 'g-0123456789',
        destination: ExportDestination.fromS3Uri('s3://my-exports/'),
        encryptionKey: kms.Key.fromKeyArn(s, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
        role,
      });
    });
    expect(findings(stack, 'Error')).toEqual([expect.stringMatching(/MyExportRole.*AwsSolutions-IAM5\[Resource::arn:aws:s3:::my-exports\/\*\]/)]);
  });
});
