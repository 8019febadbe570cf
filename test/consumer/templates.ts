// What the consumer app (test/consumer/app/app.ts) must synthesize, as a user of the installed package
// would see it in `cdk synth`: the export and waiter resources carry what the app asked for, every
// attribute output reads the package's custom resource, and the shared infrastructure takes the app's
// log group and tracing choice.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

interface Resource { readonly Type: string; readonly Properties?: Record<string, any> }
interface Template { readonly Resources: Record<string, Resource>; readonly Outputs: Record<string, { readonly Value: unknown }> }

const ATTRIBUTES = [
  'TaskId', 'GraphId', 'Format', 'ParquetType', 'Destination', 'KmsKeyIdentifier', 'RoleArn',
  'NumVerticesWritten', 'NumEdgesWritten', 'TimeElapsedSeconds', 'StartTime',
];
const OUTPUT_TYPES = ['Any', 'Byte', 'Short', 'Int', 'Long', 'Float', 'Double', 'String', 'Boolean', 'Float[]', 'Double[]'];

function load(outdir: string, stack: string): Template {
  return JSON.parse(fs.readFileSync(path.join(outdir, `${stack}.template.json`), 'utf8'));
}

function ofType(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function only(template: Template, type: string): [string, Resource] {
  const found = ofType(template, type);
  assert.strictEqual(found.length, 1, `expected one ${type}, found ${found.map(([id]) => id).join(', ') || 'none'}`);
  return found[0];
}

/** Each attribute output `<prefix><Attribute>` reads that attribute of one of the package's custom resources. */
function checkAttributeOutputs(template: Template, prefix: string): string {
  const readers = new Set<string>();
  for (const attribute of ATTRIBUTES) {
    const value = template.Outputs[`${prefix}${attribute}`]?.Value as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const [logicalId, name] = value?.['Fn::GetAtt'] ?? [];
    assert.strictEqual(name, attribute, `output ${prefix}${attribute} should read attribute ${attribute}, is ${JSON.stringify(value)}`);
    assert.match(template.Resources[logicalId!]?.Type ?? '', /^Custom::NeptuneGraphExport/, `output ${prefix}${attribute} reads ${logicalId}`);
    readers.add(logicalId!);
  }
  assert.strictEqual(readers.size, 1, `the attributes of ${prefix} come from one resource, not ${[...readers].join(', ')}`);
  // The task's ARN is built from its id.
  const arn = JSON.stringify(template.Outputs[`${prefix}TaskArn`]?.Value);
  assert.ok(arn.includes(':neptune-graph:') && arn.includes(':export-task/') && arn.includes(JSON.stringify({ 'Fn::GetAtt': [[...readers][0], 'TaskId'] })),
    `output ${prefix}TaskArn is the export task's ARN, is ${arn}`);
  return [...readers][0];
}

function checkParquetStack(template: Template): void {
  const [, exportResource] = only(template, 'Custom::NeptuneGraphExport');
  const request = exportResource.Properties!;
  const [bucketId] = only(template, 'AWS::S3::Bucket');
  const [keyId] = only(template, 'AWS::KMS::Key');
  assert.deepStrictEqual(
    { graph: request.Export.GraphIdentifier, format: request.Export.Format, parquetType: request.Export.ParquetType, tags: request.Export.Tags },
    { graph: 'g-0123456789', format: 'PARQUET', parquetType: 'COLUMNAR', tags: { team: 'graph' } },
  );
  assert.deepStrictEqual(request.Export.Destination, { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, '/nightly/']] });
  assert.deepStrictEqual(request.Export.KmsKeyIdentifier, { 'Fn::GetAtt': [keyId, 'Arn'] });
  assert.strictEqual(request.CancelOnDelete, 'true');
  const vertexProperties = Object.values(request.Export.ExportFilter.VertexFilter.person.Properties) as Array<Record<string, string>>;
  assert.deepStrictEqual(vertexProperties.map((property) => property.OutputType), OUTPUT_TYPES);
  assert.ok(vertexProperties.every((property) => property.SourcePropertyName === 'score' && property.MultiValueHandling === 'PICK_FIRST'));
  assert.deepStrictEqual(request.Export.ExportFilter.EdgeFilter, { knows: { Properties: { since: { OutputType: 'Long', MultiValueHandling: 'TO_LIST' } } } });

  // The export role the construct made for the service, and the one the app reads back.
  const roleArn = request.Export.RoleArn as { 'Fn::GetAtt': [string, string] };
  assert.deepStrictEqual(template.Outputs.ParquetExportRole.Value, roleArn);
  const trust = template.Resources[roleArn['Fn::GetAtt'][0]].Properties!.AssumeRolePolicyDocument.Statement[0];
  assert.strictEqual(trust.Principal.Service, 'neptune-graph.amazonaws.com');

  // Two hours is past what a custom resource may wait: both waits are long waits behind WaitConditions.
  assert.strictEqual(ofType(template, 'AWS::CloudFormation::WaitCondition').length, 2);
  assert.deepStrictEqual([template.Outputs.ParquetLongWait.Value, template.Outputs.WaitedLongWait.Value], ['long', 'long']);

  // The second waiter waits for the first export's task, with the app's polling settings.
  const exportResult = checkAttributeOutputs(template, 'Parquet');
  const waitedResult = checkAttributeOutputs(template, 'Waited');
  const waiters = ofType(template, 'Custom::NeptuneGraphExportTaskWaiter')
    .filter(([, resource]) => JSON.stringify(resource.Properties!.TaskIdentifier) === JSON.stringify({ 'Fn::GetAtt': [exportResult, 'TaskId'] }));
  assert.strictEqual(waiters.length, 1, 'one ExportTaskWaiter waits for the Parquet export\'s task id');
  assert.deepStrictEqual(
    [waiters[0][1].Properties!.TimeoutSeconds, waiters[0][1].Properties!.MinPollIntervalSeconds, waiters[0][1].Properties!.MaxPollIntervalSeconds],
    [7200, 10, 300],
  );
  assert.notStrictEqual(waitedResult, exportResult);

  // One state machine for the stack, logging to the app's log group, without X-Ray.
  const [stateMachineId, stateMachine] = only(template, 'AWS::StepFunctions::StateMachine');
  const [logGroupId] = only(template, 'AWS::Logs::LogGroup');
  assert.deepStrictEqual(stateMachine.Properties!.LoggingConfiguration.Destinations, [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }]);
  assert.deepStrictEqual(stateMachine.Properties!.TracingConfiguration, { Enabled: false });
  assert.strictEqual(only(template, 'AWS::Lambda::Function')[1].Properties!.TracingConfig, undefined);
  assert.deepStrictEqual(
    [template.Outputs.ParquetStateMachineArn.Value, template.Outputs.WaitedStateMachineArn.Value],
    [{ Ref: stateMachineId }, { Ref: stateMachineId }],
  );
}

function checkCsvStack(template: Template): void {
  const [, exportResource] = only(template, 'Custom::NeptuneGraphExport');
  const [graphId] = only(template, 'AWS::NeptuneGraph::Graph');
  const userRole = Object.entries(template.Resources).find(([id, resource]) => resource.Type === 'AWS::IAM::Role' && id.startsWith('CsvExportRole'));
  assert.ok(userRole, 'the app\'s own export role is in the template');
  assert.deepStrictEqual(exportResource.Properties!.Export.GraphIdentifier, { 'Fn::GetAtt': [graphId, 'GraphId'] });
  assert.strictEqual(exportResource.Properties!.Export.Format, 'CSV');
  assert.strictEqual(exportResource.Properties!.Export.ParquetType, undefined);
  assert.strictEqual(exportResource.Properties!.Export.Destination, 's3://shared-exports-bucket/csv/');
  assert.deepStrictEqual(exportResource.Properties!.Export.RoleArn, { 'Fn::GetAtt': [userRole[0], 'Arn'] });
  // No export role of the construct's own: the app's export and reader roles, the handler's and the state machine's.
  assert.strictEqual(ofType(template, 'AWS::IAM::Role').length, 4);
  assert.strictEqual(ofType(template, 'AWS::CloudFormation::WaitCondition').length, 0);
  assert.strictEqual(template.Outputs.CsvLongWait.Value, 'short');
  checkAttributeOutputs(template, 'Csv');
  assert.strictEqual(template.Outputs.CsvDestinationUri.Value, 's3://shared-exports-bucket/csv/');
  assert.strictEqual(template.Outputs.KnownValues.Value, 'CSV,PARQUET,COLUMNAR,TO_LIST');
}

/** The reader role of `<prefix>` may read and list the objects, and each metric has its alarm. */
function checkGrantAndAlarms(template: Template, prefix: string, resource: string): void {
  const policies = ofType(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => JSON.stringify(policy.Properties!.Roles).includes(`${prefix}Reader`));
  const actions = policies.flatMap(([, policy]) =>
    policy.Properties!.PolicyDocument.Statement.flatMap((statement: { Action: string | string[] }) => statement.Action));
  for (const action of ['s3:GetObject', 's3:ListBucket', 'kms:Decrypt']) {
    assert.ok(actions.includes(action), `${prefix}Reader is granted ${action}; it has ${JSON.stringify(actions)}`);
  }
  const alarms = ofType(template, 'AWS::CloudWatch::Alarm').filter(([id]) => id.startsWith(prefix));
  assert.deepStrictEqual(
    alarms.map(([, alarm]) => alarm.Properties!.MetricName).sort(),
    ['EdgesWritten', 'ExportDuration', 'VerticesWritten', 'WaitsFailed', 'WaitsFailed', 'WaitsSucceeded', 'WaitsTimedOut'],
  );
  for (const [, alarm] of alarms) {
    assert.strictEqual(alarm.Properties!.Namespace, 'NeptuneGraphExport');
    const dimensions = Object.fromEntries((alarm.Properties!.Dimensions as Array<{ Name: string; Value: string }>).map((d) => [d.Name, d.Value]));
    assert.strictEqual(dimensions.LogicalResourceId, resource, `the alarms of ${prefix} watch the resource that waits`);
  }
}

function checkVpcStack(template: Template): void {
  const [, fn] = only(template, 'AWS::Lambda::Function');
  const [securityGroupId] = ofType(template, 'AWS::EC2::SecurityGroup').find(([id]) => id.startsWith('HandlerSecurityGroup'))!;
  assert.deepStrictEqual(fn.Properties!.VpcConfig.SecurityGroupIds, [{ 'Fn::GetAtt': [securityGroupId, 'GroupId'] }]);
  assert.strictEqual(fn.Properties!.VpcConfig.SubnetIds.length, 2);
  assert.deepStrictEqual(template.Outputs.InVpcHandlerArn.Value, { 'Fn::GetAtt': [only(template, 'AWS::Lambda::Function')[0], 'Arn'] });
}

/** The user's state machine starts the export, polls both tasks, and catches the fragment's errors. */
function checkMachineStack(template: Template): void {
  const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
  const definition = JSON.stringify(machine.Properties!.DefinitionString);
  for (const text of ['neptunegraph:startExportTask', 'neptunegraph:getExportTask', 'NeptuneGraphExport.TaskFailed', 'NeptuneGraphExport.StartFailed', '$.tonight']) {
    assert.ok(definition.includes(text), `the state machine's definition contains ${text}`);
  }
  const actions = ofType(template, 'AWS::IAM::Policy').flatMap(([, policy]) =>
    policy.Properties!.PolicyDocument.Statement.flatMap((statement: { Action: string | string[] }) => statement.Action));
  for (const action of ['neptune-graph:StartExportTask', 'neptune-graph:GetExportTask', 'iam:PassRole']) {
    assert.ok(actions.includes(action), `the state machine's role is granted ${action}; it has ${JSON.stringify(actions)}`);
  }
}

export function checkTemplates(outdir: string): void {
  const parquet = load(outdir, 'ParquetExportStack');
  checkParquetStack(parquet);
  checkGrantAndAlarms(parquet, 'Parquet', only(parquet, 'Custom::NeptuneGraphExport')[0]);
  const csv = load(outdir, 'CsvExportStack');
  checkCsvStack(csv);
  checkGrantAndAlarms(csv, 'Csv', only(csv, 'Custom::NeptuneGraphExport')[0]);
  checkVpcStack(load(outdir, 'VpcWaiterStack'));
  checkMachineStack(load(outdir, 'NightlyMachineStack'));
}
