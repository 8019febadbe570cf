// A user's CDK app, written against the package's public API as installed from the packed tarball.
// test/consumer/run.ts compiles it with strict tsc in a fresh folder, synthesizes it, asserts on the
// templates, and fails if a public type, property or method of the package is referenced nowhere
// here: when the API changes, change this file (and the template assertions in run.ts).
import { App, CfnOutput, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as neptunegraph from 'aws-cdk-lib/aws-neptunegraph';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  ExportDestination,
  ExportFilter,
  ExportFilterElement,
  ExportFilterPropertyAttributes,
  ExportFormat,
  ExportOutputType,
  ExportTaskErrors,
  ExportTaskSource,
  ExportTaskWaiter,
  ExportTaskWaiterProps,
  ExportWaitOptions,
  GraphExport,
  GraphExportProps,
  IExportTaskResult,
  MultiValueHandling,
  ParquetType,
  StartExportOptions,
  WaitForExportTask,
  WaitForExportTaskProps,
} from 'cdk-neptune-graph-export';

const app = new App();

// Every attribute of a result as a stack output, so each is a reference in the template; a reader
// role granted the exported files; an alarm on each of its metrics.
function useResult(stack: Stack, prefix: string, result: IExportTaskResult): void {
  const outputs: Record<string, string> = {
    TaskId: result.exportTaskId,
    TaskArn: result.exportTaskArn,
    GraphId: result.graphId,
    Format: result.format,
    ParquetType: result.parquetType,
    Destination: result.destination,
    KmsKeyIdentifier: result.kmsKeyIdentifier,
    RoleArn: result.roleArn,
    NumVerticesWritten: result.numVerticesWritten.toString(),
    NumEdgesWritten: result.numEdgesWritten.toString(),
    TimeElapsedSeconds: result.timeElapsedSeconds.toString(),
    StartTime: result.startTime,
  };
  for (const [name, value] of Object.entries(outputs)) {
    new CfnOutput(stack, `${prefix}${name}`, { value });
  }
  const reader = new iam.Role(stack, `${prefix}Reader`, { assumedBy: new iam.ServicePrincipal('glue.amazonaws.com') });
  result.grantRead(reader);
  const metrics: Record<string, cloudwatch.IMetric> = {
    Failed: result.metricWaitsFailed(),
    TimedOut: result.metricWaitsTimedOut(),
    Succeeded: result.metricWaitsSucceeded({ period: Duration.hours(1) }),
    Duration: result.metricExportDuration(),
    Vertices: result.metricVerticesWritten(),
    Edges: result.metricEdgesWritten(),
    ByName: result.metric('WaitsFailed', { statistic: cloudwatch.Stats.SAMPLE_COUNT }),
  };
  for (const [name, metric] of Object.entries(metrics)) {
    new cloudwatch.Alarm(stack, `${prefix}${name}Alarm`, { metric, threshold: 1, evaluationPeriods: 1 });
  }
}

// The same members reached through the classes: a dashboard of the wait, a summary parameter of the
// export, and a grant to the account's analysts.
function describeConcrete(stack: Stack, prefix: string, result: ExportTaskWaiter | GraphExport): void {
  new cloudwatch.Dashboard(stack, `${prefix}Dashboard`, {
    widgets: [[
      new cloudwatch.GraphWidget({
        left: [result.metricWaitsSucceeded(), result.metricWaitsFailed(), result.metricWaitsTimedOut(), result.metric('WaitsFailed')],
        right: [result.metricExportDuration(), result.metricVerticesWritten(), result.metricEdgesWritten()],
      }),
    ]],
  });
  new ssm.StringParameter(stack, `${prefix}Summary`, {
    stringValue: Fn.join(' ', [
      result.exportTaskId, result.exportTaskArn, result.graphId, result.format, result.parquetType, result.destination,
      result.kmsKeyIdentifier, result.roleArn, result.startTime, result.numVerticesWritten.toString(),
      result.numEdgesWritten.toString(), result.timeElapsedSeconds.toString(),
    ]),
  });
  result.grantRead(new iam.AccountRootPrincipal());
}

function outputShared(stack: Stack, prefix: string, waiter: ExportTaskWaiter | GraphExport): void {
  new CfnOutput(stack, `${prefix}StateMachineArn`, { value: waiter.stateMachine.stateMachineArn });
  new CfnOutput(stack, `${prefix}HandlerArn`, { value: waiter.handlerFunction.functionArn });
  new CfnOutput(stack, `${prefix}LongWait`, { value: waiter.longWait ? 'long' : 'short' });
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
useResult(exportStack, 'Parquet', parquet);
outputShared(exportStack, 'Parquet', parquet);
describeConcrete(exportStack, 'Parquet', parquet);
new CfnOutput(exportStack, 'ParquetExportRole', { value: parquet.role.roleArn });
new CfnOutput(exportStack, 'ParquetDestinationParts', {
  value: Fn.join(' ', [destination.uri, destination.bucketName ?? '', destination.keyPrefix ?? '', destination.bucket?.bucketArn ?? '']),
});

const waiterProps: ExportTaskWaiterProps = { ...waitOptions, taskIdentifier: parquet.exportTaskId };
const waitedAgain = new ExportTaskWaiter(exportStack, 'WaitAgain', waiterProps);
useResult(exportStack, 'Waited', waitedAgain);
outputShared(exportStack, 'Waited', waitedAgain);
describeConcrete(exportStack, 'Waited', waitedAgain);

// 2. A CSV export of a graph of the same app, with a role and an S3 URI of the user's own, and the
//    value-type escape hatches with values the service knows.
const graphStack = new Stack(app, 'CsvExportStack');
const graph = new neptunegraph.CfnGraph(graphStack, 'Graph', { provisionedMemory: 16, replicaCount: 0 });
const csvKey = new kms.Key(graphStack, 'CsvKey', { enableKeyRotation: true });
const csvRole = new iam.Role(graphStack, 'CsvExportRole', { assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com') });
const csvDestination = ExportDestination.fromS3Uri('s3://shared-exports-bucket/csv/');
const csv = new GraphExport(graphStack, 'CsvExport', {
  graphId: graph.attrGraphId,
  destination: csvDestination,
  encryptionKey: csvKey,
  format: ExportFormat.of('CSV'),
  role: csvRole,
});
useResult(graphStack, 'Csv', csv);
outputShared(graphStack, 'Csv', csv);
new CfnOutput(graphStack, 'CsvDestinationUri', { value: csvDestination.uri });
new CfnOutput(graphStack, 'KnownValues', {
  value: [ExportFormat.CSV, ExportFormat.of('PARQUET')].map((format) => format.value)
    .concat(ParquetType.COLUMNAR.value, MultiValueHandling.of('TO_LIST').value)
    .join(','),
});

// 3. A waiter whose shared handler runs in the app's VPC.
const vpcStack = new Stack(app, 'VpcWaiterStack');
const vpc = new ec2.Vpc(vpcStack, 'Vpc', { maxAzs: 2, natGateways: 1 });
const handlerSecurityGroup = new ec2.SecurityGroup(vpcStack, 'HandlerSecurityGroup', { vpc, description: 'The export waiter handler' });
const inVpc = new ExportTaskWaiter(vpcStack, 'WaitInVpc', {
  taskIdentifier: 't-0123456789',
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  securityGroups: [handlerSecurityGroup],
});
outputShared(vpcStack, 'InVpc', inVpc);

// 4. A state machine of the user's own: start a nightly export, wait for it, then wait for a task id
//    the execution was given; every failure caught by its error name.
const machineStack = new Stack(app, 'NightlyMachineStack');
const machineKey = new kms.Key(machineStack, 'Key', { enableKeyRotation: true });
const machineBucket = new s3.Bucket(machineStack, 'Exports', { encryptionKey: machineKey, enforceSSL: true });
const machineRole = new iam.Role(machineStack, 'ExportRole', { assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com') });
machineBucket.grantWrite(machineRole);
machineKey.grantEncryptDecrypt(machineRole);
const startOptions: StartExportOptions = {
  graphId: sfn.JsonPath.stringAt('$.graphId'),
  role: machineRole,
  destination: ExportDestination.fromS3Uri(sfn.JsonPath.format(`s3://${machineBucket.bucketName}/nightly/{}/`, sfn.JsonPath.executionName)),
  encryptionKey: machineKey,
  format: ExportFormat.PARQUET,
  parquetType: ParquetType.COLUMNAR,
  exportFilter: filter,
  tags: { schedule: 'nightly' },
};
const nightly = new WaitForExportTask(machineStack, 'ExportTonight', {
  task: ExportTaskSource.startExport(startOptions),
  resultPath: '$.tonight',
  timeout: Duration.hours(6),
});
const waitProps: WaitForExportTaskProps = {
  task: ExportTaskSource.fromTaskId(sfn.JsonPath.stringAt('$.previousTaskId')),
  timeout: Duration.hours(1),
  minPollInterval: Duration.seconds(30),
  maxPollInterval: Duration.minutes(10),
};
const previous = new WaitForExportTask(machineStack, 'WaitForPrevious', waitProps);
const failed = new sfn.Fail(machineStack, 'ExportDidNotSucceed');
const waits = sfn.Chain.start(nightly).next(previous).toSingleState('Exports');
for (const error of [ExportTaskErrors.TASK_FAILED, ExportTaskErrors.TIMED_OUT, ExportTaskErrors.READ_FAILED, ExportTaskErrors.START_FAILED]) {
  waits.addCatch(failed, { errors: [error] });
}
new sfn.StateMachine(machineStack, 'NightlyExport', {
  definitionBody: sfn.DefinitionBody.fromChainable(waits.next(new sfn.Succeed(machineStack, 'Exported'))),
});
new CfnOutput(machineStack, 'EndStates', { value: `${nightly.endStates.length + previous.endStates.length}:${nightly.startState.stateId}` });

app.synth();
