import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseScenario, runScenario, SCENARIOS } from '../examples/demo';
import { app, consumer, pipeline } from '../examples/export-pipeline/app';
import { DEFAULT_DESTINATION_PARAMETER } from '../examples/export-pipeline/stack';

describe('example app', () => {
  const template = Template.fromStack(pipeline);
  const exportTask = Object.keys(template.findResources('AWS::NeptuneGraph::ExportTask'))[0];
  const waiter = Object.keys(template.findResources('Custom::NeptuneGraphExportTaskWaiter'))[0];
  const fromWaiter = (attribute: string) => ({ 'Fn::GetAtt': [waiter, attribute] });

  test('synthesizes both stacks', () => {
    const stacks = app.synth().stacks.map((stack) => stack.stackName);
    expect(stacks).toEqual(expect.arrayContaining(['ExportPipeline', 'ExportConsumer']));
  });

  test('starts an encrypted export of the graph given by the GraphId parameter', () => {
    template.resourceCountIs('AWS::NeptuneGraph::ExportTask', 1);
    template.hasParameter('GraphId', { Type: 'String', Default: 'g-0123456789' });
    template.hasResource('AWS::NeptuneGraph::ExportTask', {
      Properties: {
        GraphIdentifier: { Ref: 'GraphId' },
        RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExportRole'), 'Arn'] },
        KmsKeyIdentifier: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExportKey'), 'Arn'] },
        Format: 'PARQUET',
        ParquetType: 'COLUMNAR',
        Destination: Match.anyValue(),
      },
      // The export role's policy exists before the service uses the role.
      DependsOn: Match.arrayWith([Match.stringLikeRegexp('^ExportRoleDefaultPolicy')]),
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'neptune-graph.amazonaws.com' } })] },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['s3:PutObject', 's3:GetObject'] }),
          Match.objectLike({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'] }),
        ]),
      },
    });
  });

  test('waits for the export task that CloudFormation started', () => {
    template.hasResourceProperties('Custom::NeptuneGraphExportTaskWaiter', {
      TaskIdentifier: { 'Fn::GetAtt': [exportTask, 'TaskId'] },
      TimeoutSeconds: 50 * 60,
    });
  });

  test('feeds the waiter attributes to outputs and to the SSM parameter', () => {
    template.hasOutput('ExportDestination', { Value: fromWaiter('Destination') });
    template.hasOutput('VerticesWritten', { Value: fromWaiter('NumVerticesWritten') });
    template.hasOutput('EdgesWritten', { Value: fromWaiter('NumEdgesWritten') });
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: DEFAULT_DESTINATION_PARAMETER,
      Type: 'String',
      Value: fromWaiter('Destination'),
    });
  });

  test('the consumer stack reads the SSM parameter', () => {
    const consumerTemplate = Template.fromStack(consumer);
    consumerTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { DESTINATION_PARAMETER: DEFAULT_DESTINATION_PARAMETER } },
    });
    consumerTemplate.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['ssm:GetParameter']) })]) },
    });
  });
});

describe('demo', () => {
  const collect = () => {
    const lines: string[] = [];
    return { lines, out: { write: (text: string) => lines.push(text), isTTY: false }, text: () => lines.join('') };
  };

  test('success: the waiter answers SUCCESS with the export results, then Delete succeeds', async () => {
    const { out, text } = collect();
    const result = await runScenario('success', { out, realSeconds: 0.3 });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.create).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 't-demo12345a',
      Data: { Status: 'SUCCEEDED', NumVerticesWritten: '1250000', NumEdgesWritten: '4800000' },
    });
    expect(result.delete.Status).toBe('SUCCESS');
    expect(result.latenessSeconds).toBeGreaterThanOrEqual(0);
    expect(result.latenessSeconds).toBeLessThan(30);
    expect(text()).toContain('SUCCEEDED    100%');
    expect(text()).toContain(`SSM ${DEFAULT_DESTINATION_PARAMETER}`);
    expect(text()).toMatch(/Summary: \d+ GetExportTask calls \(0 throttled\), \d+ state transitions, lateness [\d.]+ s/);
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

  test('long-export: the custom resource is answered at start, the WaitCondition signal carries the attributes', async () => {
    const { out, text } = collect();
    const result = await runScenario('long-export', { out, realSeconds: 0 });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.create).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 't-demo12345a', Data: { TaskId: 't-demo12345a' } });
    expect(result.signal).toMatchObject({ Status: 'SUCCESS', UniqueId: 't-demo12345a' });
    expect(result.attributes).toMatchObject({ Status: 'SUCCEEDED', NumVerticesWritten: '48000000', NumEdgesWritten: '310000000', TimeElapsedSeconds: '18000' });
    expect(result.latenessSeconds).toBeGreaterThanOrEqual(0);
    expect(result.latenessSeconds).toBeLessThan(30);
    expect(result.delete.Status).toBe('SUCCESS');
    expect(text()).toMatch(/Long-wait mode \(timeout 06:00:00\): CloudFormation got the answer for WaitForExport\w+ at t\+00:00:00/);
    expect(text()).toMatch(/The WaitCondition WaitForExportExportEnded\w+ received the loop's signal at t\+05:00:0\d/);
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
