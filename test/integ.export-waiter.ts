/**
 * An integration test users can deploy (`npx integ-runner --update-on-failed` with AWS credentials):
 * a minimal Neptune Analytics graph, a KMS key, an encrypted bucket and an export role; a native
 * AWS::NeptuneGraph::ExportTask; the waiter; and an assertion that GetExportTask agrees with the
 * waiter's attributes. The build checks its snapshot offline; nothing is deployed there.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as neptunegraph from 'aws-cdk-lib/aws-neptunegraph';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ExportTaskWaiter } from '../src';

const app = new App();
const stack = new Stack(app, 'NeptuneGraphExportWaiterInteg');

// The smallest graph Neptune Analytics offers, without replicas; it is exported empty.
const graph = new neptunegraph.CfnGraph(stack, 'Graph', {
  provisionedMemory: 16,
  replicaCount: 0,
  publicConnectivity: false,
  deletionProtection: false,
});

const key = new kms.Key(stack, 'ExportKey', { enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY });
const bucket = new s3.Bucket(stack, 'ExportBucket', {
  encryption: s3.BucketEncryption.KMS,
  encryptionKey: key,
  enforceSSL: true,
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  removalPolicy: RemovalPolicy.DESTROY,
  autoDeleteObjects: true,
});

const exportRole = new iam.Role(stack, 'ExportRole', {
  assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com'),
  description: 'Lets Neptune Analytics write the integration test export',
});
bucket.grantReadWrite(exportRole);
key.grantEncryptDecrypt(exportRole);

const exportTask = new CfnResource(stack, 'Export', {
  type: 'AWS::NeptuneGraph::ExportTask',
  properties: {
    GraphIdentifier: graph.attrGraphId,
    RoleArn: exportRole.roleArn,
    KmsKeyIdentifier: key.keyArn,
    Destination: bucket.s3UrlForObject('exports/'),
    Format: 'PARQUET',
    ParquetType: 'COLUMNAR',
  },
});
// The export starts as soon as the task exists: its role must already be allowed to write.
exportTask.node.addDependency(exportRole);

const waiter = new ExportTaskWaiter(stack, 'WaitForExport', {
  taskIdentifier: exportTask.getAtt('TaskId').toString(),
  timeout: Duration.minutes(55),
});

const integ = new IntegTest(app, 'ExportTaskWaiterInteg', {
  testCases: [stack],
  // The graph takes a while to delete; the assertions need no second stack update.
  stackUpdateWorkflow: false,
});

integ.assertions
  .awsApiCall('NeptuneGraph', 'getExportTask', { taskIdentifier: waiter.attrTaskId })
  .expect(
    ExpectedResult.objectLike({
      taskId: waiter.attrTaskId,
      graphId: waiter.attrGraphId,
      status: 'SUCCEEDED',
      format: waiter.attrFormat,
      destination: waiter.attrDestination,
      kmsKeyIdentifier: waiter.attrKmsKeyIdentifier,
      roleArn: waiter.attrRoleArn,
    }),
  );

app.synth();
