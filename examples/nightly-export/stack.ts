/**
 * A scheduled nightly export: EventBridge Scheduler starts a state machine every night at 02:00,
 * which exports the graph to S3 (the WaitForExportTask fragment starts the export and waits for it,
 * polling by the task's own progress, no Lambda function), then publishes the export's fields as
 * s3://<bucket>/nightly/latest.json, so whatever reads the files next (a crawler, a loader, a
 * notebook) finds the newest complete export and its vertex and edge counts.
 *
 * Each night writes under its own prefix, named after the execution (s3://<bucket>/nightly/<name>/).
 * A failed export (the task FAILED, CANCELLED or DELETED, or still running after the timeout) fails
 * the execution with an ExportTaskErrors name, which the `ExecutionsFailed` alarm reports.
 */
import { CfnParameter, Duration, Stack, StackProps, TimeZone } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
// In your own app: import { ExportDestination, ExportTaskSource, WaitForExportTask } from 'cdk-neptune-graph-export';
import { ExportDestination, ExportTaskSource, WaitForExportTask } from '../../src';

/** The key prefix every night's export is written under. */
export const NIGHTLY_PREFIX = 'nightly/';
/** The object that names the newest complete export. */
export const LATEST_KEY = `${NIGHTLY_PREFIX}latest.json`;

/** Writes the export's fields (the fragment's output) to LATEST_KEY; the Lambda runtime provides the SDK. */
const PUBLISH_LATEST = `
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
const s3 = new S3Client({});
exports.handler = async (exportTask) => {
  await s3.send(new PutObjectCommand({
    Bucket: process.env.BUCKET, Key: process.env.KEY, Body: JSON.stringify(exportTask), ContentType: 'application/json',
  }));
  return { latest: 's3://' + process.env.BUCKET + '/' + process.env.KEY };
};`;

export interface NightlyExportStackProps extends StackProps {
  /** @default Duration.hours(4) */
  readonly timeout?: Duration;
}

export class NightlyExportStack extends Stack {
  public readonly stateMachine: sfn.StateMachine;
  public readonly exportGraph: WaitForExportTask;
  public readonly publishLatest: lambda.Function;

  constructor(scope: Construct, id: string, props: NightlyExportStackProps = {}) {
    super(scope, id, props);
    const graphId = new CfnParameter(this, 'GraphId', {
      description: 'The Neptune Analytics graph to export every night',
      allowedPattern: '^g-[a-z0-9]{10}$',
    });
    const key = new kms.Key(this, 'ExportKey', { enableKeyRotation: true, description: 'Encrypts the nightly graph exports' });
    const bucket = new s3.Bucket(this, 'Exports', {
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
    });
    const exportRole = this.exportRole(bucket, key);

    this.exportGraph = new WaitForExportTask(this, 'ExportGraph', {
      task: ExportTaskSource.startExport({
        graphId: graphId.valueAsString,
        role: exportRole,
        destination: ExportDestination.fromS3Uri(sfn.JsonPath.format(`s3://${bucket.bucketName}/${NIGHTLY_PREFIX}{}/`, sfn.JsonPath.executionName)),
        encryptionKey: key,
      }),
      timeout: props.timeout ?? Duration.hours(4),
    });
    this.publishLatest = new lambda.Function(this, 'PublishLatest', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(PUBLISH_LATEST),
      environment: { BUCKET: bucket.bucketName, KEY: LATEST_KEY },
      timeout: Duration.seconds(30),
      description: 'Names the newest complete nightly graph export',
    });
    bucket.grantPut(this.publishLatest, LATEST_KEY);
    const publish = new tasks.LambdaInvoke(this, 'PublishLatestExport', {
      lambdaFunction: this.publishLatest,
      payload: sfn.TaskInput.fromJsonPathAt('$.exportTask'),
      resultSelector: { 'latest.$': '$.Payload.latest' },
      resultPath: '$.published',
    });

    this.stateMachine = new sfn.StateMachine(this, 'NightlyExport', {
      definitionBody: sfn.DefinitionBody.fromChainable(this.exportGraph.next(publish)),
      // The fragment's own timeout ends the wait; this is a backstop for the whole execution.
      timeout: Duration.hours(6),
      tracingEnabled: true,
    });

    new scheduler.Schedule(this, 'EveryNight', {
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '2', timeZone: TimeZone.ETC_UTC }),
      target: new targets.StepFunctionsStartExecution(this.stateMachine, {}),
      description: 'Exports the graph every night at 02:00 UTC',
    });
    new cloudwatch.Alarm(this, 'ExportFailed', {
      metric: this.stateMachine.metricFailed({ period: Duration.days(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'A nightly graph export failed (see the execution: its error is one of ExportTaskErrors)',
    });
  }

  /** The role Neptune Analytics writes the export with: the nightly prefix, and the key. */
  private exportRole(bucket: s3.IBucket, key: kms.IKey): iam.Role {
    const role = new iam.Role(this, 'ExportRole', {
      assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
      description: 'Lets Neptune Analytics write the nightly graph exports',
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects(`${NIGHTLY_PREFIX}*`)],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${NIGHTLY_PREFIX}*`] } },
    }));
    key.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:DescribeKey');
    return role;
  }
}
