/**
 * An integration test users can deploy (`npx integ-runner --update-on-failed` with AWS credentials):
 * the smallest Neptune Analytics graph, a KMS key and an encrypted bucket; a GraphExport of the graph
 * (with its default export role), which starts the export and waits for it; an ExportTaskWaiter on the
 * GraphExport's task; and an assertion that GetExportTask agrees with the waiter's attributes. Every
 * resource type is one CloudFormation has. The build checks its snapshot offline; nothing is deployed there.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as neptunegraph from 'aws-cdk-lib/aws-neptunegraph';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ExportDestination, ExportFormat, ExportTaskWaiter, GraphExport, ParquetType } from '../src';

const app = new App();
const stack = new Stack(app, 'NeptuneGraphExportWaiterInteg');

// The smallest graph Neptune Analytics offers, without replicas or a public endpoint; it is exported empty.
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

const graphExport = new GraphExport(stack, 'Export', {
  graphId: graph.attrGraphId,
  destination: ExportDestination.fromBucket(bucket, 'exports/'),
  encryptionKey: key,
  format: ExportFormat.PARQUET,
  parquetType: ParquetType.COLUMNAR,
  timeout: Duration.minutes(55),
});

// The waiter on the task the GraphExport started: created once the export succeeded, it reads the
// same task once and must report the same results.
const waiter = new ExportTaskWaiter(stack, 'WaitForExport', {
  taskIdentifier: graphExport.exportTaskId,
  timeout: Duration.minutes(55),
});

const integ = new IntegTest(app, 'ExportTaskWaiterInteg', {
  testCases: [stack],
  // The graph takes a while to delete; the assertions need no second stack update.
  stackUpdateWorkflow: false,
});

// The v3 package name gives the IAM action its real prefix (neptune-graph:GetExportTask); the
// service name 'NeptuneGraph' would grant neptunegraph:GetExportTask, which does not exist.
integ.assertions
  .awsApiCall('@aws-sdk/client-neptune-graph', 'GetExportTask', { taskIdentifier: waiter.exportTaskId })
  .expect(
    ExpectedResult.objectLike({
      taskId: graphExport.exportTaskId,
      graphId: graph.attrGraphId,
      status: 'SUCCEEDED',
      format: waiter.format,
      parquetType: waiter.parquetType,
      destination: waiter.destination,
      kmsKeyIdentifier: waiter.kmsKeyIdentifier,
      roleArn: graphExport.role.roleArn,
    }),
  );

app.synth();
