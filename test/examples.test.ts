import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { app as startedExportApp, stack as startedExport } from '../examples/aws-custom-resource-export/app';
import { parseScenario, runScenario, SCENARIOS } from '../examples/demo';
import { app, consumer, pipeline } from '../examples/export-pipeline/app';
import { DEFAULT_DESTINATION_PARAMETER } from '../examples/export-pipeline/stack';
import { app as taskIdApp, stack as taskIdWait } from '../examples/pipeline-task-id/app';

/**
 * Whether CloudFormation knows a resource type: `Custom::` types are custom resources; an `AWS::`
 * type needs an L1 class in aws-cdk-lib, which is generated from CloudFormation's resource
 * specification (a type newer than the aws-cdk-lib in devDependencies would be reported too).
 */
function unknownResourceTypes(template: { Resources: Record<string, { Type: string }> }): string[] {
  const types = new Set(Object.values(template.Resources).map((resource) => resource.Type));
  return [...types].filter((type) => {
    if (type.startsWith('Custom::')) return false;
    const [vendor, service] = type.split('::');
    if (vendor !== 'AWS' || !service) return true;
    let module: Record<string, unknown>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      module = require(`aws-cdk-lib/aws-${service.toLowerCase()}`);
    } catch {
      return true;
    }
    return !Object.values(module).some((member) => (member as { CFN_RESOURCE_TYPE_NAME?: string } | undefined)?.CFN_RESOURCE_TYPE_NAME === type);
  });
}

describe('every example and the integration test deploy only resource types that exist', () => {
  const stacks: Stack[] = [pipeline, consumer, taskIdWait, startedExport];
  test.each(stacks.map((stack) => [stack.stackName, stack]))('%s', (_name, stack) => {
    expect(unknownResourceTypes(Template.fromStack(stack as Stack).toJSON() as never)).toEqual([]);
  });

  test('the integration test snapshot', () => {
    const snapshot = path.join(__dirname, 'integ.export-waiter.ts.snapshot');
    const templates = fs.readdirSync(snapshot).filter((file) => file.endsWith('.template.json'));
    expect(templates.length).toBeGreaterThan(0);
    for (const file of templates) {
      expect({ file, unknown: unknownResourceTypes(JSON.parse(fs.readFileSync(path.join(snapshot, file), 'utf8'))) }).toEqual({ file, unknown: [] });
    }
  });

  test('the check itself rejects a resource type CloudFormation does not have', () => {
    expect(unknownResourceTypes({ Resources: { Export: { Type: 'AWS::NeptuneGraph::ExportTask' }, Graph: { Type: 'AWS::NeptuneGraph::Graph' } } }))
      .toEqual(['AWS::NeptuneGraph::ExportTask']);
  });
});

describe('example: export-pipeline (GraphExport)', () => {
  const template = Template.fromStack(pipeline);
  const graphExport = Object.keys(template.findResources('Custom::NeptuneGraphExport'))[0];
  const fromExport = (attribute: string) => ({ 'Fn::GetAtt': [graphExport, attribute] });

  test('synthesizes both stacks', () => {
    const stacks = app.synth().stacks.map((stack) => stack.stackName);
    expect(stacks).toEqual(expect.arrayContaining(['ExportPipeline', 'ExportConsumer']));
  });

  test('exports the graph given by the GraphId parameter to the encrypted bucket, as columnar Parquet, with the key', () => {
    template.resourceCountIs('Custom::NeptuneGraphExport', 1);
    template.hasParameter('GraphId', { Type: 'String', Default: 'g-0123456789' });
    template.hasResource('Custom::NeptuneGraphExport', {
      Properties: {
        Export: {
          GraphIdentifier: { Ref: 'GraphId' },
          RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExportExportRole'), 'Arn'] },
          KmsKeyIdentifier: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExportKey'), 'Arn'] },
          Format: 'PARQUET',
          ParquetType: 'COLUMNAR',
          Destination: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^ExportBucket') }, '/exports/']] },
        },
        TimeoutSeconds: 50 * 60,
      },
      // The export role's policy exists before the service uses the role.
      DependsOn: Match.arrayWith([Match.stringLikeRegexp('^ExportExportRoleDefaultPolicy')]),
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'neptune-graph.amazonaws.com' } })] },
    });
  });

  test('feeds the export attributes to outputs and to the SSM parameter', () => {
    template.hasOutput('ExportTaskId', { Value: fromExport('TaskId') });
    template.hasOutput('ExportDestination', { Value: fromExport('Destination') });
    template.hasOutput('VerticesWritten', { Value: fromExport('NumVerticesWritten') });
    template.hasOutput('EdgesWritten', { Value: fromExport('NumEdgesWritten') });
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: DEFAULT_DESTINATION_PARAMETER,
      Type: 'String',
      Value: fromExport('Destination'),
    });
  });

  test('the consumer stack reads the SSM parameter', () => {
    const consumerTemplate = Template.fromStack(consumer);
    consumerTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { DESTINATION_PARAMETER: DEFAULT_DESTINATION_PARAMETER } },
    });
    consumerTemplate.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'ssm:GetParameter' })]) },
    });
  });

  test('the consumer may read the export\'s prefix and decrypt with its key (grantRead), not the whole bucket', () => {
    const [policy] = Object.values(Template.fromStack(consumer).findResources('AWS::IAM::Policy'));
    const statements = consumer.resolve(policy.Properties.PolicyDocument.Statement) as Array<Record<string, any>>;
    const byAction = (action: string) => statements.filter((s) => s.Action === action);
    expect(statements.map((s) => s.Action)).toEqual(['ssm:GetParameter', 's3:GetObject', 's3:ListBucket', 'kms:Decrypt']);
    expect(JSON.stringify(byAction('s3:GetObject')[0].Resource)).toContain('/exports/*');
    expect(byAction('s3:ListBucket')[0].Condition).toEqual({ StringLike: { 's3:prefix': ['exports/*'] } });
  });
});

describe('example: pipeline-task-id (ExportTaskWaiter on a task id passed in)', () => {
  const template = Template.fromStack(taskIdWait);

  test('synthesizes', () => {
    expect(taskIdApp.synth().stacks.map((stack) => stack.stackName)).toEqual(['ExportTaskWait']);
  });

  test('waits for the task named by the ExportTaskId parameter, which has no default and must look like a task id', () => {
    template.hasParameter('ExportTaskId', { Type: 'String', AllowedPattern: '^t-[a-z0-9]{10}$', Default: Match.absent() });
    template.hasResourceProperties('Custom::NeptuneGraphExportTaskWaiter', { TaskIdentifier: { Ref: 'ExportTaskId' }, TimeoutSeconds: 50 * 60 });
    const waiter = Object.keys(template.findResources('Custom::NeptuneGraphExportTaskWaiter'))[0];
    template.hasOutput('ExportDestination', { Value: { 'Fn::GetAtt': [waiter, 'Destination'] } });
  });

  test('waits in custom-resource mode, so that each run\'s new task id is an ordinary update', () => {
    expect(taskIdWait.waiter.longWait).toBe(false);
    template.resourceCountIs('AWS::CloudFormation::WaitCondition', 0);
  });
});

describe('example: aws-custom-resource-export (AwsCustomResource starts, ExportTaskWaiter waits)', () => {
  const template = Template.fromStack(startedExport);
  const startExport = Object.keys(template.findResources('Custom::AWS'))[0];
  /** The SDK call, its tokens (Ref, Fn::GetAtt) shown as <token>. */
  const call = (which: 'Create' | 'Update') => JSON.parse((template.toJSON().Resources[startExport].Properties[which]['Fn::Join'][1] as unknown[])
    .map((part) => (typeof part === 'string' ? part : '<token>')).join(''));

  test('synthesizes', () => {
    expect(startedExportApp.synth().stacks.map((stack) => stack.stackName)).toEqual(['StartedExport']);
  });

  test('calls neptune-graph StartExportTask on create and on update, with the task id as physical id and only attribute', () => {
    for (const which of ['Create', 'Update'] as const) {
      expect(call(which)).toMatchObject({
        service: 'neptune-graph',
        action: 'StartExportTask',
        parameters: { graphIdentifier: '<token>', roleArn: '<token>', kmsKeyIdentifier: '<token>', destination: 's3://<token>/exports/', format: 'PARQUET', parquetType: 'COLUMNAR' },
        physicalResourceId: { responsePath: 'taskId' },
        outputPaths: ['taskId'],
      });
    }
    template.hasResource('Custom::AWS', { Properties: { InstallLatestAwsSdk: true }, DependsOn: Match.arrayWith([Match.stringLikeRegexp('^ExportRoleDefaultPolicy')]) });
  });

  test('may start exports of the graph and pass only the export role, only to Neptune Analytics', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('^StartExportCustomResourcePolicy'),
      PolicyDocument: {
        Statement: [
          {
            Action: 'neptune-graph:StartExportTask',
            Effect: 'Allow',
            Resource: [
              { 'Fn::Join': ['', Match.arrayWith([':graph/', { Ref: 'GraphId' }])] },
              { 'Fn::Join': ['', Match.arrayWith([':export-task/*'])] },
            ],
          },
          {
            Action: 'iam:PassRole',
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExportRole'), 'Arn'] },
            Condition: { StringEquals: { 'iam:PassedToService': 'neptune-graph.amazonaws.com' } },
          },
        ],
      },
    });
  });

  test('the waiter waits for the task id the AwsCustomResource returned', () => {
    template.hasResourceProperties('Custom::NeptuneGraphExportTaskWaiter', { TaskIdentifier: { 'Fn::GetAtt': [startExport, 'taskId'] } });
  });
});

describe('demo', () => {
  const collect = () => {
    const lines: string[] = [];
    return { lines, out: { write: (text: string) => lines.push(text), isTTY: false }, text: () => lines.join('') };
  };

  test('success: the GraphExport starts one export and answers SUCCESS with its results, then Delete succeeds', async () => {
    const { out, text } = collect();
    const result = await runScenario('success', { out, realSeconds: 0.3 });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.startExportTaskCalls).toBe(1);
    expect(result.taskId).toMatch(/^t-[a-z0-9]{10}$/);
    expect(result.create).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: expect.stringMatching(new RegExp(`^${result.taskId}:[0-9a-f]{16}$`)),
      Data: { TaskId: result.taskId, Status: 'SUCCEEDED', NumVerticesWritten: '1250000', NumEdgesWritten: '4800000' },
    });
    expect(result.delete.Status).toBe('SUCCESS');
    expect(result.latenessSeconds).toBeGreaterThanOrEqual(0);
    expect(result.latenessSeconds).toBeLessThan(30);
    expect(text()).toContain('SUCCEEDED    100%');
    expect(text()).toContain(`SSM ${DEFAULT_DESTINATION_PARAMETER}`);
    expect(text()).toContain('(Custom::NeptuneGraphExport, the GraphExport of examples/export-pipeline): its wait loop calls StartExportTask');
    expect(text()).toMatch(/Summary: 1 StartExportTask call, \d+ GetExportTask calls \(0 throttled\), \d+ state transitions, lateness [\d.]+ s/);
  });

  test('passed-in: the ExportTaskWaiter waits for the task id the pipeline passed as a parameter', async () => {
    const { out, text } = collect();
    const result = await runScenario('passed-in', { out, realSeconds: 0 });
    expect(result.problems).toEqual([]);
    expect(result.startExportTaskCalls).toBe(0);
    expect(result.create).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 't-demo12345a', Data: { TaskId: 't-demo12345a', NumVerticesWritten: '1250000' } });
    expect(text()).toContain('deployed examples/pipeline-task-id with ExportTaskId=t-demo12345a');
    expect(text()).toContain('Output ExportDestination');
  });

  test('no scenario tells of a resource type CloudFormation does not have', async () => {
    for (const name of ['success', 'not-found']) {
      const { out, text } = collect();
      await runScenario(name, { out, realSeconds: 0 });
      expect(text()).not.toMatch(/AWS::NeptuneGraph::(?!Graph\b|GraphSnapshot\b|PrivateGraphEndpoint\b)/);
    }
  });

  test('timeout: an export longer than the waiter timeout fails the deployment, as expected', async () => {
    const { out, text } = collect();
    const result = await runScenario('timeout', { out, realSeconds: 0 });
    expect(result.ok).toBe(true);
    expect(result.create.Status).toBe('FAILED');
    expect(result.create.Reason).toMatch(/did not finish within 10 minutes \(last status EXPORTING/);
    expect(result.latenessSeconds).toBeUndefined();
    expect(text()).toContain('Scenario timeout behaved as expected (FAILED)');
  });

  test('long-export: the custom resource is answered at start, the WaitCondition signalled at the end, a waiter on the finished task carries the attributes', async () => {
    const { out, text } = collect();
    const result = await runScenario('long-export', { out, realSeconds: 0 });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    // A GraphExport's physical id: its task and the fingerprint of the export it started.
    expect(result.create).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: expect.stringMatching(new RegExp(`^${result.taskId}:[0-9a-f]{16}$`)), Data: { TaskId: result.taskId } });
    expect(result.signal).toMatchObject({ Status: 'SUCCESS', UniqueId: result.taskId });
    expect(result.attributes).toMatchObject({ Status: 'SUCCEEDED', NumVerticesWritten: '48000000', NumEdgesWritten: '310000000', TimeElapsedSeconds: '18000' });
    expect(result.latenessSeconds).toBeGreaterThanOrEqual(0);
    expect(result.latenessSeconds).toBeLessThan(30);
    expect(result.delete.Status).toBe('SUCCESS');
    expect(text()).toMatch(/Long-wait mode \(timeout 06:00:00\): CloudFormation got the answer for Export\w+ at t\+00:00:00/);
    expect(text()).toMatch(/The WaitCondition ExportExportEnded\w+ received the loop's signal at t\+05:00:0\d/);
    expect(text()).toContain('Output VerticesWritten                        48000000');
    expect(text()).toContain('Scenario long-export behaved as expected (SUCCESS)');
  });

  test('command line: --scenario <name>, --scenario=<name>, and unknown names', () => {
    expect(parseScenario([])).toBe('success');
    expect(parseScenario(['--scenario', 'failed'])).toBe('failed');
    expect(parseScenario(['--scenario=not-found'])).toBe('not-found');
    expect(() => parseScenario(['--scenario', 'nope'])).toThrow(`Valid scenarios: ${Object.keys(SCENARIOS).join(', ')}`);
    expect(() => parseScenario(['--scenario'])).toThrow('--scenario needs a value');
  });
});
