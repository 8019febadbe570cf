/**
 * grantRead: what a principal may do with an export's files, statement by statement, for a
 * GraphExport (destination known at synth time) and an ExportTaskWaiter (destination and key known
 * only from the task's attributes, taken apart by CloudFormation at deploy time).
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ExportDestination, ExportTaskWaiter, GraphExport, IExportTaskResult } from '../src';
import { findings, stackWith } from './nag-stacks';

type Json = Record<string, any>;

const GRAPH_ID = 'g-0123456789';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function newStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

/** The statements of the one policy attached to the reader role. */
function readerStatements(stack: Stack, role: iam.Role): Json[] {
  const roleId = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((attached: Json) => attached.Ref === roleId));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

function reader(stack: Stack): iam.Role {
  return new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
}

const join = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] });
const partition = { Ref: 'AWS::Partition' };

describe('GraphExport.grantRead', () => {
  test('a bucket prefix: GetObject under the prefix, ListBucket for keys under it, Decrypt on the export key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const bucket = new s3.Bucket(stack, 'Bucket');
    const graphExport = new GraphExport(stack, 'Export', { graphId: GRAPH_ID, destination: ExportDestination.fromBucket(bucket, 'exports/'), encryptionKey: key });
    const role = reader(stack);
    graphExport.grantRead(role);
    const bucketArn = { 'Fn::GetAtt': [stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket), 'Arn'] };
    expect(readerStatements(stack, role)).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: join(bucketArn, '/exports/*') },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': ['exports/*'] } } },
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] } },
    ]);
  });

  test('a literal S3 URI: the bucket and prefix in the ARNs', () => {
    const stack = newStack();
    const graphExport = new GraphExport(stack, 'Export', {
      graphId: GRAPH_ID,
      destination: ExportDestination.fromS3Uri('s3://my-exports/graph/daily/'),
      encryptionKey: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN),
    });
    const role = reader(stack);
    graphExport.grantRead(role);
    expect(readerStatements(stack, role)).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: join('arn:', partition, ':s3:::my-exports/graph/daily/*') },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: join('arn:', partition, ':s3:::my-exports'), Condition: { StringLike: { 's3:prefix': ['graph/daily/*'] } } },
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: KEY_ARN },
    ]);
  });

  test('a whole bucket: ListBucket without a prefix condition', () => {
    const stack = newStack();
    const graphExport = new GraphExport(stack, 'Export', {
      graphId: GRAPH_ID,
      destination: ExportDestination.fromS3Uri('s3://my-exports'),
      encryptionKey: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN),
    });
    const role = reader(stack);
    graphExport.grantRead(role);
    expect(readerStatements(stack, role).slice(0, 2)).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: join('arn:', partition, ':s3:::my-exports/*') },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: join('arn:', partition, ':s3:::my-exports') },
    ]);
  });

  test('a bucket encrypted with a key of its own: Decrypt on that key too', () => {
    const stack = newStack();
    const exportKey = new kms.Key(stack, 'ExportKey');
    const bucketKey = new kms.Key(stack, 'BucketKey');
    const bucket = new s3.Bucket(stack, 'Bucket', { encryption: s3.BucketEncryption.KMS, encryptionKey: bucketKey });
    const graphExport = new GraphExport(stack, 'Export', { graphId: GRAPH_ID, destination: ExportDestination.fromBucket(bucket, 'x/'), encryptionKey: exportKey });
    const role = reader(stack);
    graphExport.grantRead(role);
    const decrypts = readerStatements(stack, role).filter((s) => s.Action === 'kms:Decrypt').map((s) => s.Resource);
    expect(decrypts).toEqual([
      { 'Fn::GetAtt': [stack.getLogicalId(exportKey.node.defaultChild as kms.CfnKey), 'Arn'] },
      { 'Fn::GetAtt': [stack.getLogicalId(bucketKey.node.defaultChild as kms.CfnKey), 'Arn'] },
    ]);
  });

  test('a principal of another account is let in through the bucket policy', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    const graphExport = new GraphExport(stack, 'Export', {
      graphId: GRAPH_ID, destination: ExportDestination.fromBucket(bucket, 'exports/'), encryptionKey: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN),
    });
    graphExport.grantRead(new iam.AccountPrincipal('210987654321'));
    const [policy] = Object.values(Template.fromStack(stack).findResources('AWS::S3::BucketPolicy'));
    const actions = policy.Properties.PolicyDocument.Statement.map((s: Json) => s.Action);
    expect(actions).toEqual(['s3:GetObject', 's3:ListBucket']);
  });
});

/**
 * Evaluates what CloudFormation evaluates in these ARNs: Fn::Join, Fn::Select, Fn::Split, Ref of the
 * partition and Fn::GetAtt of the waiter's attributes. Fn::Select out of range fails the deployment,
 * as it does in CloudFormation.
 */
function evaluate(value: unknown, attributes: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => evaluate(v, attributes));
  if (value === null || typeof value !== 'object') return value;
  const [[fn, args]] = Object.entries(value as Json);
  switch (fn) {
    case 'Fn::Join': return (evaluate(args[1], attributes) as string[]).join(args[0]);
    case 'Fn::Split': return String(evaluate(args[1], attributes)).split(args[0]);
    case 'Fn::Select': {
      const list = evaluate(args[1], attributes) as string[];
      if (args[0] >= list.length) throw new Error(`Fn::Select index ${args[0]} out of range for ${JSON.stringify(list)}`);
      return list[args[0]];
    }
    case 'Ref': if (args === 'AWS::Partition') return 'aws'; break;
    case 'Fn::GetAtt': if (attributes[args[1]] !== undefined) return attributes[args[1]]; break;
    default: return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, evaluate(v, attributes)]));
  }
  throw new Error(`Cannot evaluate ${JSON.stringify(value)}`);
}

describe('ExportTaskWaiter.grantRead (the destination is known at deploy time only)', () => {
  function waiterReader() {
    const stack = newStack();
    const waiter = new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789' });
    const role = reader(stack);
    waiter.grantRead(role);
    return { stack, waiter, statements: readerStatements(stack, role) };
  }

  test('Decrypt on the KmsKeyIdentifier attribute (the service gives a key ARN)', () => {
    const { stack, waiter, statements } = waiterReader();
    expect(statements[2]).toEqual({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: stack.resolve(waiter.kmsKeyIdentifier) });
  });

  test.each([
    ['s3://my-exports/graph/daily/', 'arn:aws:s3:::my-exports/graph/daily/*', 'graph*'],
    ['s3://my-exports/graph', 'arn:aws:s3:::my-exports/graph/*', 'graph*'],
    ['s3://my-exports/', 'arn:aws:s3:::my-exports/*', '*'],
    // Without the added "/" this would be my-exports*: every bucket whose name starts with my-exports.
    ['s3://my-exports', 'arn:aws:s3:::my-exports/*', '*'],
  ])('a task that exported to %s: GetObject on %s, ListBucket for keys like %s', (destination, objects, prefix) => {
    const { statements } = waiterReader();
    const attributes = { Destination: destination, KmsKeyIdentifier: KEY_ARN };
    expect(evaluate(statements, attributes)).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: objects },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: 'arn:aws:s3:::my-exports', Condition: { StringLike: { 's3:prefix': [prefix] } } },
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: KEY_ARN },
    ]);
  });

  test('the grant is an iam.Grant that succeeded on the principal', () => {
    const stack = newStack();
    const waiter: IExportTaskResult = new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789' });
    const grant = waiter.grantRead(reader(stack));
    expect(grant.success).toBe(true);
    expect(grant.principalStatements.map((s) => s.actions)).toEqual([['s3:GetObject'], ['s3:ListBucket'], ['kms:Decrypt']]);
  });
});

describe('cdk-nag on a grantee', () => {
  test('reports only the object wildcard under the export\'s prefix (the files are named at export time)', () => {
    const stack = stackWith((s) => {
      const graphExport = new GraphExport(s, 'Export', {
        graphId: GRAPH_ID,
        destination: ExportDestination.fromS3Uri('s3://my-exports/graph/daily/'),
        encryptionKey: kms.Key.fromKeyArn(s, 'Key', KEY_ARN),
      });
      graphExport.grantRead(new iam.Role(s, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    });
    expect(findings(stack, 'Warning')).toEqual([]);
    expect(findings(stack, 'Error')).toEqual([
      expect.stringMatching(/\/Reader\/DefaultPolicy\/Resource: AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:s3:::my-exports\/graph\/daily\/\*\]/),
    ]);
  });

  test('a waiter\'s grant: the same one finding, on the ARN CloudFormation derives', () => {
    const stack = stackWith((s) => {
      const waiter = new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: 't-0123456789' });
      waiter.grantRead(new iam.Role(s, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    });
    expect(findings(stack, 'Warning')).toEqual([]);
    const errors = findings(stack, 'Error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/\/Reader\/DefaultPolicy\/Resource: AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:s3:::.*\*\]/);
  });
});
