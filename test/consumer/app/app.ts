// A user's CDK app, written against the package's public API as installed from the packed tarball.
// test/consumer/run.ts compiles it with strict tsc in a fresh folder, synthesizes it, asserts on the
// templates, and fails if a public type, property or method of the package is referenced nowhere
// here: when the API changes, change this file (and the template assertions in run.ts).
import { App, CfnOutput, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as neptunegraph from 'aws-cdk-lib/aws-neptunegraph';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  ExportDestination,
  ExportFilter,
  ExportFilterElement,
  ExportFilterPropertyAttributes,
  ExportFormat,
  ExportOutputType,
  ExportTaskResult,
  ExportTaskWaiter,
  ExportTaskWaiterProps,
  ExportWaitOptions,
  GraphExport,
  GraphExportProps,
  MultiValueHandling,
  ParquetType,
} from 'cdk-neptune-graph-export';

const app = new App();

// Every attribute of a result as a stack output, so each is a reference in the template.
function outputResult(stack: Stack, prefix: string, result: ExportTaskResult): void {
  const outputs: Record<string, string> = {
    TaskId: result.attrTaskId,
    GraphId: result.attrGraphId,
    Status: result.attrStatus,
    Format: result.attrFormat,
    ParquetType: result.attrParquetType,
    Destination: result.attrDestination,
    KmsKeyIdentifier: result.attrKmsKeyIdentifier,
    RoleArn: result.attrRoleArn,
    NumVerticesWritten: result.attrNumVerticesWritten.toString(),
    NumEdgesWritten: result.attrNumEdgesWritten.toString(),
    TimeElapsedSeconds: result.attrTimeElapsedSeconds.toString(),
    StartTime: result.attrStartTime,
    StateMachineArn: result.stateMachine.stateMachineArn,
    LongWait: result.longWait ? 'long' : 'short',
  };
  for (const [name, value] of Object.entries(outputs)) {
    new CfnOutput(stack, `${prefix}${name}`, { value });
  }
}

// 1. A long Parquet export of a graph named by id, into a bucket of the app, filtered with every
//    output type, then waited for again by its task id.
const exportStack = new Stack(app, 'ParquetExportStack');
const key = new kms.Key(exportStack, 'ExportKey', { enableKeyRotation: true });
const bucket = new s3.Bucket(exportStack, 'Exports', {
  encryption: s3.BucketEncryption.KMS,
  encryptionKey: key,
  enforceSSL: true,
});
const waitOptions: ExportWaitOptions = {
  timeout: Duration.hours(2),
  minPollInterval: Duration.seconds(10),
  maxPollInterval: Duration.minutes(5),
  logGroup: new logs.LogGroup(exportStack, 'WaiterLogs', { retention: logs.RetentionDays.ONE_MONTH }),
  tracing: false,
};
const outputTypes: ExportOutputType[] = [
  ExportOutputType.ANY, ExportOutputType.BYTE, ExportOutputType.SHORT, ExportOutputType.INT,
  ExportOutputType.LONG, ExportOutputType.FLOAT, ExportOutputType.DOUBLE, ExportOutputType.STRING,
  ExportOutputType.BOOLEAN, ExportOutputType.FLOAT_ARRAY, ExportOutputType.DOUBLE_ARRAY,
];
const personProperties: Record<string, ExportFilterPropertyAttributes> = {};
for (const outputType of outputTypes) {
  personProperties[`as_${outputType.value.replace('[]', '_array').toLowerCase()}`] = {
    outputType,
    sourcePropertyName: 'score',
    multiValueHandling: MultiValueHandling.PICK_FIRST,
  };
}
const person: ExportFilterElement = { properties: personProperties };
const filter: ExportFilter = {
  vertexFilter: { person },
  edgeFilter: {
    knows: { properties: { since: { outputType: ExportOutputType.of('Long'), multiValueHandling: MultiValueHandling.TO_LIST } } },
  },
};
const destination = ExportDestination.fromBucket(bucket, 'nightly/');
const parquetProps: GraphExportProps = {
  ...waitOptions,
  graphId: 'g-0123456789',
  destination,
  encryptionKey: key,
  format: ExportFormat.PARQUET,
  parquetType: ParquetType.of('COLUMNAR'),
  exportFilter: filter,
  tags: { team: 'graph' },
  cancelOnDelete: true,
};
const parquet = new GraphExport(exportStack, 'ParquetExport', parquetProps);
outputResult(exportStack, 'Parquet', parquet);
new CfnOutput(exportStack, 'ParquetExportRole', { value: parquet.role.roleArn });
new CfnOutput(exportStack, 'ParquetDestinationParts', {
  value: Fn.join(' ', [destination.uri, destination.bucketName ?? '', destination.keyPrefix ?? '', destination.bucket?.bucketArn ?? '']),
});

const waiterProps: ExportTaskWaiterProps = { ...waitOptions, taskIdentifier: parquet.attrTaskId };
const waitedAgain = new ExportTaskWaiter(exportStack, 'WaitAgain', waiterProps);
outputResult(exportStack, 'Waited', waitedAgain);

// 2. A CSV export of a graph of the same app, with a role and an S3 URI of the user's own, and the
//    value-type escape hatches with values the service knows.
const graphStack = new Stack(app, 'CsvExportStack');
const graph = new neptunegraph.CfnGraph(graphStack, 'Graph', { provisionedMemory: 16, replicaCount: 0 });
const csvKey = new kms.Key(graphStack, 'CsvKey', { enableKeyRotation: true });
const csvRole = new iam.Role(graphStack, 'CsvExportRole', { assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com') });
const csvDestination = ExportDestination.fromS3Uri('s3://shared-exports-bucket/csv/');
const csv = new GraphExport(graphStack, 'CsvExport', {
  graph,
  destination: csvDestination,
  encryptionKey: csvKey,
  format: ExportFormat.of('CSV'),
  role: csvRole,
});
outputResult(graphStack, 'Csv', csv);
new CfnOutput(graphStack, 'CsvDestinationUri', { value: csvDestination.uri });
new CfnOutput(graphStack, 'KnownValues', {
  value: [ExportFormat.CSV, ExportFormat.of('PARQUET')].map((format) => format.value)
    .concat(ParquetType.COLUMNAR.value, MultiValueHandling.of('TO_LIST').value)
    .join(','),
});

app.synth();
