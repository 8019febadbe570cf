/**
 * What GraphExport synthesizes: the StartExportTask request, the IAM it grants (the wait loop's
 * role, the handler's role, the default export role), long-wait wiring, and synth-time validation.
 */
import { App, CfnParameter, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as neptunegraph from 'aws-cdk-lib/aws-neptunegraph';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  ExportDestination, ExportFormat, ExportOutputType, GraphExport, GraphExportProps, MultiValueHandling, ParquetType,
} from '../src';
import { GRAPH_EXPORT_RESOURCE_TYPE, WAITER_RESOURCE_TYPE } from '../src/runtime/constants';

type Json = Record<string, any>;

const GRAPH_ID = 'g-0123456789';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/service-role/MyExportRole';
const ATTRIBUTES: Array<[string, (e: GraphExport) => unknown]> = [
  ['TaskId', (e) => e.exportTaskId],
  ['GraphId', (e) => e.graphId],
  ['Format', (e) => e.format],
  ['ParquetType', (e) => e.parquetType],
  ['Destination', (e) => e.destination],
  ['KmsKeyIdentifier', (e) => e.kmsKeyIdentifier],
  ['RoleArn', (e) => e.roleArn],
  ['NumVerticesWritten', (e) => e.numVerticesWritten],
  ['NumEdgesWritten', (e) => e.numEdgesWritten],
  ['TimeElapsedSeconds', (e) => e.timeElapsedSeconds],
  ['StartTime', (e) => e.startTime],
];

function newStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

interface Built {
  stack: Stack;
  graphExport: GraphExport;
  template: Template;
  bucket: s3.Bucket;
  key: kms.Key;
}

/** A GraphExport of a bucket prefix encrypted with a key of the stack, plus the given props. */
function build(props: Partial<GraphExportProps> = {}, configure?: (stack: Stack) => Partial<GraphExportProps>): Built {
  const stack = newStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const bucket = new s3.Bucket(stack, 'Bucket');
  const graphExport = new GraphExport(stack, 'Export', {
    graphId: GRAPH_ID,
    destination: ExportDestination.fromBucket(bucket, 'exports/'),
    encryptionKey: key,
    ...props,
    ...configure?.(stack),
  });
  return { stack, graphExport, template: Template.fromStack(stack), bucket, key };
}

function logicalIdOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as any);
}

function only(template: Template, type: string): [string, Json] {
  const found = Object.entries(template.findResources(type));
  expect(found).toHaveLength(1);
  return found[0];
}

/** The statements of the policy attached to a role, by the role's logical id. */
function statementsOfRole(template: Template, roleId: string): Json[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    policy.Properties.Roles.some((role: Json) => role.Ref === roleId),
  );
  return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

/** The role whose trust policy names the service principal. */
function roleTrusting(template: Template, service: string): [string, Json] {
  const roles = Object.entries(template.findResources('AWS::IAM::Role')).filter(
    ([, role]) => role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === service,
  );
  expect(roles).toHaveLength(1);
  return roles[0];
}

const loopStatements = (template: Template) => statementsOfRole(template, roleTrusting(template, 'states.amazonaws.com')[0]);
const handlerStatements = (template: Template) => statementsOfRole(template, roleTrusting(template, 'lambda.amazonaws.com')[0]);
const actionsOf = (statement: Json): string[] => [].concat(statement.Action);
const withAction = (statements: Json[], action: string) => statements.filter((s) => actionsOf(s).includes(action));

const exportTasks = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':neptune-graph:eu-west-1:123456789012:export-task/*']],
};

describe('custom resource', () => {
  test('is a Custom::NeptuneGraphExport carrying the StartExportTask request in PascalCase', () => {
    const { template, stack, graphExport, bucket, key } = build({
      parquetType: ParquetType.COLUMNAR,
      exportFilter: {
        vertexFilter: {
          Person: {
            properties: {
              name: { outputType: ExportOutputType.STRING, sourcePropertyName: 'fullName', multiValueHandling: MultiValueHandling.TO_LIST },
            },
          },
        },
        edgeFilter: { KNOWS: {} },
      },
      tags: { team: 'graph' },
    });
    const [, resource] = only(template, GRAPH_EXPORT_RESOURCE_TYPE);
    expect(resource.Properties.Export).toEqual({
      GraphIdentifier: GRAPH_ID,
      RoleArn: { 'Fn::GetAtt': [logicalIdOf(stack, graphExport.role), 'Arn'] },
      Format: 'PARQUET',
      ParquetType: 'COLUMNAR',
      Destination: { 'Fn::Join': ['', ['s3://', { Ref: logicalIdOf(stack, bucket) }, '/exports/']] },
      KmsKeyIdentifier: { 'Fn::GetAtt': [logicalIdOf(stack, key), 'Arn'] },
      ExportFilter: {
        VertexFilter: { Person: { Properties: { name: { OutputType: 'String', SourcePropertyName: 'fullName', MultiValueHandling: 'TO_LIST' } } } },
        EdgeFilter: { KNOWS: {} },
      },
      Tags: { team: 'graph' },
    });
    // Settings at their defaults are left to the handler.
    expect(Object.keys(resource.Properties as object)).not.toEqual(expect.arrayContaining(['TimeoutSeconds']));
    expect(resource.Properties).not.toHaveProperty('CancelOnDelete');
    expect(resource.Properties).not.toHaveProperty('SignalURL');
    // The export starts as soon as the resource is created: the role and its policy must exist.
    expect(resource.DependsOn).toEqual(expect.arrayContaining([
      logicalIdOf(stack, graphExport.role),
      expect.stringMatching(/^ExportExportRoleDefaultPolicy/),
    ]));
  });

  test('exports the graph of the stack by its GraphId attribute', () => {
    const { template, stack } = build({}, (s) => ({ graphId: new neptunegraph.CfnGraph(s, 'Graph', { provisionedMemory: 16 }).attrGraphId }));
    const graphId = logicalIdOf(stack, { node: { defaultChild: stack.node.findChild('Graph') } });
    template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { Export: Match.objectLike({ GraphIdentifier: { 'Fn::GetAtt': [graphId, 'GraphId'] } }) });
    const [start] = withAction(loopStatements(template), 'neptune-graph:StartExportTask');
    expect(JSON.stringify(start.Resource)).toContain(`{"Fn::GetAtt":["${graphId}","GraphId"]}`);
  });

  test('attributes are Fn::GetAtt of the custom resource when the custom resource waits', () => {
    const { stack, graphExport, template } = build();
    const [resourceId] = only(template, GRAPH_EXPORT_RESOURCE_TYPE);
    expect(graphExport.longWait).toBe(false);
    template.resourceCountIs('AWS::CloudFormation::WaitCondition', 0);
    template.resourceCountIs('AWS::CloudFormation::WaitConditionHandle', 0);
    for (const [name, read] of ATTRIBUTES) expect(stack.resolve(read(graphExport))).toEqual({ 'Fn::GetAtt': [resourceId, name] });
  });
});

describe('IAM of the wait loop', () => {
  test('StartExportTask on the graph and on the export tasks of the account and region', () => {
    const { template } = build();
    const starts = withAction(loopStatements(template), 'neptune-graph:StartExportTask');
    expect(starts).toEqual([{
      Action: 'neptune-graph:StartExportTask',
      Effect: 'Allow',
      Resource: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:neptune-graph:eu-west-1:123456789012:graph/${GRAPH_ID}`]] }, exportTasks],
    }]);
  });

  test('PassRole only for the export role, and only to Neptune Analytics', () => {
    const { template, stack, graphExport } = build();
    const passRole = withAction(loopStatements(template), 'iam:PassRole');
    expect(passRole).toEqual([{
      Action: 'iam:PassRole',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [logicalIdOf(stack, graphExport.role), 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'neptune-graph.amazonaws.com' } },
    }]);
    // No other statement of any role mentions PassRole.
    const all = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(withAction(all, 'iam:PassRole')).toHaveLength(1);
  });

  test('tags need no neptune-graph:TagResource: StartExportTask carries them, and TagResource knows no export-task resource', () => {
    expect(withAction(loopStatements(build({ tags: { team: 'graph' } }).template), 'neptune-graph:TagResource')).toEqual([]);
    build({ tags: { team: 'graph' } }).template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { Export: Match.objectLike({ Tags: { team: 'graph' } }) });
  });

  test('the loop may cancel exports only with cancelOnDelete (it cancels the export it started when the wait times out)', () => {
    expect(withAction(loopStatements(build().template), 'neptune-graph:CancelExportTask')).toEqual([]);
    expect(withAction(loopStatements(build({ cancelOnDelete: true }).template), 'neptune-graph:CancelExportTask')).toEqual([
      { Action: 'neptune-graph:CancelExportTask', Effect: 'Allow', Resource: exportTasks },
    ]);
  });

  test('the loop calls StartExportTask through the SDK integration with the request as input', () => {
    const { template } = build();
    const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain(':states:::aws-sdk:neptunegraph:startExportTask');
    expect(definition).toContain('\\"InputPath\\":\\"$.export\\"');
  });
});

describe('IAM of the handler (cancelOnDelete)', () => {
  test('cancelOnDelete lets the handler cancel, read and list export tasks, and tells it to', () => {
    const { template } = build({ cancelOnDelete: true });
    template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { CancelOnDelete: 'true' });
    expect(withAction(handlerStatements(template), 'neptune-graph:CancelExportTask')).toEqual([{
      Action: ['neptune-graph:CancelExportTask', 'neptune-graph:GetExportTask', 'neptune-graph:ListExportTasks'],
      Effect: 'Allow',
      Resource: exportTasks,
    }]);
  });

  test('without cancelOnDelete the handler may touch no export task', () => {
    const { template } = build();
    const neptune = handlerStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('neptune-graph:')));
    expect(neptune).toEqual([]);
  });

  test('two GraphExports with cancelOnDelete grant it once', () => {
    const { template } = build({ cancelOnDelete: true }, (s) => {
      new GraphExport(s, 'Second', {
        graphId: 'g-abcdefghij', destination: ExportDestination.fromS3Uri('s3://other-bucket/x/'), encryptionKey: kms.Key.fromKeyArn(s, 'K', KEY_ARN), cancelOnDelete: true,
      });
      return {};
    });
    expect(withAction(handlerStatements(template), 'neptune-graph:CancelExportTask')).toHaveLength(1);
  });
});

describe('the default export role', () => {
  test('is trusted by Neptune Analytics for this account only', () => {
    const { template, stack, graphExport } = build();
    const [roleId, role] = roleTrusting(template, 'neptune-graph.amazonaws.com');
    expect(roleId).toBe(logicalIdOf(stack, graphExport.role));
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'neptune-graph.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    }]);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('may write the destination prefix, list it, and use the key: nothing else', () => {
    const { template, stack, graphExport, bucket, key } = build();
    const bucketArn = { 'Fn::GetAtt': [logicalIdOf(stack, bucket), 'Arn'] };
    expect(statementsOfRole(template, logicalIdOf(stack, graphExport.role))).toEqual([
      {
        Action: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [bucketArn, '/exports/*']] },
      },
      {
        Action: 's3:ListBucket',
        Effect: 'Allow',
        Resource: bucketArn,
        Condition: { StringLike: { 's3:prefix': ['exports/*'] } },
      },
      {
        Action: ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:DescribeKey'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalIdOf(stack, key), 'Arn'] },
      },
    ]);
  });

  test('for a literal S3 URI, is scoped to that bucket and prefix', () => {
    const { template, stack, graphExport } = build({ destination: ExportDestination.fromS3Uri('s3://my-exports/graph/daily/'), encryptionKey: undefined }, (s) => ({
      encryptionKey: kms.Key.fromKeyArn(s, 'Imported', KEY_ARN),
    }));
    const bucketArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-exports']] };
    const statements = statementsOfRole(template, logicalIdOf(stack, graphExport.role));
    expect(statements[0].Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-exports/graph/daily/*']] });
    expect(statements[1]).toEqual({ Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': ['graph/daily/*'] } } });
    expect(statements[2]).toMatchObject({ Resource: KEY_ARN });
    template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { Export: Match.objectLike({ Destination: 's3://my-exports/graph/daily/', KmsKeyIdentifier: KEY_ARN }) });
  });

  test('a bucket encrypted with its own key: the role may use that key too', () => {
    const { template, stack, graphExport } = build({}, (s) => {
      const bucketKey = new kms.Key(s, 'BucketKey', { enableKeyRotation: true });
      return { destination: ExportDestination.fromBucket(new s3.Bucket(s, 'Encrypted', { encryptionKey: bucketKey }), 'x/') };
    });
    const keys = statementsOfRole(template, logicalIdOf(stack, graphExport.role)).filter((s) => actionsOf(s).includes('kms:GenerateDataKey'));
    expect(keys).toHaveLength(2);
  });
});

describe('a role of your own', () => {
  test('gets no statement from the construct, and is the one passed and used', () => {
    const { template, stack, graphExport } = build({}, (s) => ({
      role: new iam.Role(s, 'MyRole', { assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com') }),
    }));
    const roleId = logicalIdOf(stack, graphExport.role);
    expect(roleId).toMatch(/^MyRole/);
    expect(statementsOfRole(template, roleId)).toEqual([]);
    template.resourceCountIs('AWS::IAM::Role', 3); // yours, the handler's, the loop's
    expect(withAction(loopStatements(template), 'iam:PassRole')[0].Resource).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { Export: Match.objectLike({ RoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] } }) });
  });

  test('an imported role gets no policy either', () => {
    const { template } = build({}, (s) => ({ role: iam.Role.fromRoleArn(s, 'Imported', ROLE_ARN) }));
    template.resourceCountIs('AWS::IAM::Role', 2);
    expect(Object.values(template.findResources('AWS::IAM::Policy')).map((p) => p.Properties.Roles)).not.toContainEqual(
      expect.arrayContaining([expect.stringContaining('MyExportRole')]),
    );
    expect(withAction(loopStatements(template), 'iam:PassRole')[0].Resource).toBe(ROLE_ARN);
  });
});

describe('long-wait mode (timeout over 55 minutes)', () => {
  const sixHours = () => build({ timeout: Duration.hours(6) });

  test('a WaitConditionHandle and a WaitCondition that waits timeout + 5 minutes, after the custom resource', () => {
    const { template, graphExport } = sixHours();
    expect(graphExport.longWait).toBe(true);
    const [handleId] = only(template, 'AWS::CloudFormation::WaitConditionHandle');
    const [, condition] = only(template, 'AWS::CloudFormation::WaitCondition');
    const [resourceId, resource] = only(template, GRAPH_EXPORT_RESOURCE_TYPE);
    expect(handleId).toMatch(/^ExportExportSignal[0-9a-f]{8}/);
    expect(condition.Properties).toEqual({ Count: 1, Handle: { Ref: handleId }, Timeout: String(6 * 3600 + 300) });
    expect(condition.DependsOn).toEqual([resourceId]);
    expect(resource.Properties.SignalURL).toEqual({ Ref: handleId });
    expect(resource.Properties.TimeoutSeconds).toBe(6 * 3600);
    // The custom resource is answered once the export started.
    expect(resource.Properties.ServiceTimeout).toBe('900');
  });

  test('attributes are ordinary custom-resource attributes of a waiter created after the WaitCondition, nothing parsed from its Data', () => {
    const { stack, graphExport, template } = sixHours();
    const [conditionId] = only(template, 'AWS::CloudFormation::WaitCondition');
    const [resultId, result] = only(template, WAITER_RESOURCE_TYPE);
    const [exportId] = only(template, GRAPH_EXPORT_RESOURCE_TYPE);
    expect(result.DependsOn).toEqual(expect.arrayContaining([conditionId]));
    expect(result.Properties.TaskIdentifier).toEqual({ 'Fn::GetAtt': [exportId, 'TaskId'] });
    ATTRIBUTES.forEach(([name, read]) => {
      expect(stack.resolve(read(graphExport))).toEqual({ 'Fn::GetAtt': [resultId, name] });
    });
    expect(JSON.stringify(template.toJSON())).not.toContain(JSON.stringify({ 'Fn::GetAtt': [conditionId, 'Data'] }));
  });

  test('another export or another timeout gets a new handle and condition (a WaitCondition cannot be updated); polling settings keep them', () => {
    const ids = (b: Built) => [
      only(b.template, 'AWS::CloudFormation::WaitConditionHandle')[0],
      only(b.template, 'AWS::CloudFormation::WaitCondition')[0],
    ];
    const base = ids(sixHours());
    expect(ids(sixHours())).toEqual(base);
    const eightHours = ids(build({ timeout: Duration.hours(8) }));
    expect(eightHours[0]).not.toBe(base[0]);
    expect(eightHours[1]).not.toBe(base[1]);
    expect(ids(build({ timeout: Duration.hours(6), maxPollInterval: Duration.minutes(5) }))).toEqual(base);
    const csv = ids(build({ timeout: Duration.hours(6), format: ExportFormat.CSV }));
    expect(csv[0]).not.toBe(base[0]);
    expect(csv[1]).not.toBe(base[1]);
    expect(ids(build({ timeout: Duration.hours(6), tags: { a: 'b' } }))[0]).not.toBe(base[0]);
  });

  test('55 minutes is still the custom resource; 56 minutes is long-wait mode', () => {
    expect(build({ timeout: Duration.minutes(55) }).graphExport.longWait).toBe(false);
    expect(build({ timeout: Duration.minutes(56) }).graphExport.longWait).toBe(true);
  });
});

describe('synth-time validation', () => {
  const fails = (props: Partial<GraphExportProps>, configure?: (stack: Stack) => Partial<GraphExportProps>) =>
    () => build(props, configure);

  test.each([
    ['G-0123456789'], ['g-012345678'], ['g-0123456789 '], [''],
  ])('graphId %j', (graphId) => {
    expect(fails({ graphId })).toThrow(`graphId must be a Neptune Analytics graph id: "g-" then 10 lowercase letters or digits, got ${JSON.stringify(graphId)}`);
  });


  test('a role whose ARN is not a role ARN', () => {
    const bad = 'arn:aws:iam::12345:role/too-short-account';
    expect(fails({}, (s) => ({ role: iam.Role.fromRoleArn(s, 'Bad', bad) })))
      .toThrow(`role must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got "${bad}"`);
  });

  test('a key whose ARN is not a KMS key ARN', () => {
    const bad = 'arn:aws:kms:eu-west-1:123456789012:key/short';
    expect(fails({}, (s) => ({ encryptionKey: kms.Key.fromKeyArn(s, 'Bad', bad) })))
      .toThrow(`encryptionKey must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), got "${bad}"`);
  });

  test('a destination that is not an S3 URI', () => {
    const error = (() => {
      try {
        build({ destination: ExportDestination.fromS3Uri('http://x') });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(error).toContain('destination must be an S3 URI such as s3://bucket/prefix/ of at most 1024 characters, got "http://x"');
    // A literal URI is not a token: the message about tokens does not apply.
    expect(error).not.toContain('token');
  });

  test('a destination longer than 1024 characters', () => {
    const uri = `s3://my-exports/${'a'.repeat(1020)}`;
    expect(fails({ destination: ExportDestination.fromS3Uri(uri) })).toThrow(/destination must be an S3 URI .* of at most 1024 characters, got "s3:\/\/my-exports\/aaa/);
  });

  test('CSV with a Parquet type', () => {
    expect(fails({ format: ExportFormat.CSV, parquetType: ParquetType.COLUMNAR }))
      .toThrow('parquetType applies to PARQUET exports only, got "COLUMNAR" with format "CSV"');
  });

  test('a format or Parquet type this library does not know is passed to the service, which decides', () => {
    const { template } = build({ format: ExportFormat.of('JSON') });
    template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { Export: Match.objectLike({ Format: 'JSON' }) });
    build({ parquetType: ParquetType.of('ROW_GROUPS') }).template
      .hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { Export: Match.objectLike({ ParquetType: 'ROW_GROUPS' }) });
  });

  test('a format or Parquet type that cannot be an enumerated value', () => {
    expect(fails({ format: ExportFormat.of('json lines') }))
      .toThrow('format must be an export format such as PARQUET or CSV (upper-case letters, digits and underscores), got "json lines"');
    expect(fails({ parquetType: ParquetType.of('') }))
      .toThrow('parquetType must be a Parquet type such as COLUMNAR (upper-case letters, digits and underscores), got ""');
  });

  test('a filter label longer than 128 characters', () => {
    const label = 'L'.repeat(129);
    // Long values are shown shortened.
    expect(fails({ exportFilter: { vertexFilter: { [label]: {} } } }))
      .toThrow(`exportFilter.VertexFilter labels must be 1-128 characters, got "${label.slice(0, 116)}...`);
  });

  test('an output name with a dash', () => {
    expect(fails({ exportFilter: { edgeFilter: { KNOWS: { properties: { 'since-year': {} } } } } }))
      .toThrow('exportFilter.EdgeFilter["KNOWS"].Properties output names must be 1-128 letters, digits or underscores, got "since-year"');
  });

  test('an output type or multi-value handling this library does not know is passed to the service', () => {
    const { template } = build({
      exportFilter: { vertexFilter: { Person: { properties: { name: { outputType: ExportOutputType.of('Date'), multiValueHandling: MultiValueHandling.of('PICK_LAST') } } } } },
    });
    template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, {
      Export: Match.objectLike({ ExportFilter: { VertexFilter: { Person: { Properties: { name: { OutputType: 'Date', MultiValueHandling: 'PICK_LAST' } } } } } }),
    });
  });

  test('an output type that cannot be a type name', () => {
    expect(fails({ exportFilter: { vertexFilter: { Person: { properties: { name: { outputType: ExportOutputType.of('Text(20)') } } } } } }))
      .toThrow('exportFilter.VertexFilter["Person"].Properties["name"].OutputType must be a type name such as String, Int or Double[]'
        + ' (letters and digits, optionally followed by []), got "Text(20)"');
  });

  test('a multi-value handling that cannot be an enumerated value', () => {
    expect(fails({ exportFilter: { vertexFilter: { Person: { properties: { name: { multiValueHandling: MultiValueHandling.of('all') } } } } } }))
      .toThrow('exportFilter.VertexFilter["Person"].Properties["name"].MultiValueHandling must be a handling such as TO_LIST or PICK_FIRST'
        + ' (upper-case letters, digits and underscores), got "all"');
  });

  test('51 tags', () => {
    const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`tag${i}`, 'v']));
    expect(fails({ tags })).toThrow('tags may hold at most 50 tags, got 51');
    expect(() => build({ tags: Object.fromEntries(Object.entries(tags).slice(0, 50)) })).not.toThrow();
  });

  test('a timeout of 12 hours', () => {
    expect(fails({ timeout: Duration.hours(12) }))
      .toThrow('timeout must be a whole number of seconds from 60 to 42900, got 43200 (a WaitCondition waits at most 12 hours');
    expect(() => build({ timeout: Duration.seconds(42900) })).not.toThrow();
  });

  test('names the construct path and reports every problem at once', () => {
    expect(fails({ graphId: 'bad', format: ExportFormat.CSV, parquetType: ParquetType.COLUMNAR, timeout: Duration.hours(12) }))
      .toThrow(/^GraphExport TestStack\/Export: graphId .*"bad"; parquetType applies .*; timeout must be/);
  });

  test('a token URI destination needs a role of your own, and says so', () => {
    const tokenUri = (s: Stack) => ExportDestination.fromS3Uri(new CfnParameter(s, 'Destination').valueAsString);
    expect(fails({}, (s) => ({ destination: tokenUri(s) })))
      .toThrow(/a destination given as a token URI \(".*"\) needs a role: the default role cannot be scoped to it/);
    const { template } = build({}, (s) => ({ destination: tokenUri(s), role: iam.Role.fromRoleArn(s, 'Mine', ROLE_ARN) }));
    template.hasResourceProperties(GRAPH_EXPORT_RESOURCE_TYPE, { Export: Match.objectLike({ Destination: { Ref: 'Destination' }, RoleArn: ROLE_ARN }) });
  });

  test('values that are tokens are left to the handler', () => {
    expect(() => build({}, (s) => ({
      graphId: new CfnParameter(s, 'GraphId').valueAsString,
      role: iam.Role.fromRoleArn(s, 'Mine', Token.asString(new CfnParameter(s, 'RoleArn').value)),
      timeout: Duration.seconds(Token.asNumber(new CfnParameter(s, 'Timeout', { type: 'Number' }).value)),
    }))).not.toThrow();
  });
});
