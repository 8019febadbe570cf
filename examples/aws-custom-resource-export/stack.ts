/**
 * Starting the export with an `AwsCustomResource` (aws-cdk-lib/custom-resources) that calls Neptune
 * Analytics `StartExportTask`, and waiting for it with `ExportTaskWaiter`, in one stack. Prefer
 * `GraphExport`, which does both in one resource; this is the shape to use when the export call must
 * stay yours (an existing AwsCustomResource, parameters GraphExport does not offer).
 *
 *   KMS key + encrypted bucket + export role
 *   -> AwsCustomResource StartExport (StartExportTask; its physical id is the task id)
 *   -> ExportTaskWaiter (Fn::GetAtt StartExport.taskId; the deployment goes on once the export ended)
 *   -> outputs
 */
import { Aws, CfnOutput, CfnParameter, Duration, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
// In your own app: import { ExportTaskWaiter } from 'cdk-neptune-graph-export';
import { ExportTaskWaiter } from '../../src';

/** Used when neither the GraphId parameter nor the `graphId` context is given. */
export const PLACEHOLDER_GRAPH_ID = 'g-0123456789';
export const EXPORT_PREFIX = 'exports/';

export interface StartedExportStackProps extends StackProps {
  /**
   * Default of the stack's `GraphId` parameter.
   * @default - the `graphId` context value, else a placeholder
   */
  readonly graphId?: string;
  /** @default Duration.minutes(50) */
  readonly timeout?: Duration;
  /**
   * Whether the AwsCustomResource function installs the newest `@aws-sdk/client-neptune-graph` from
   * npm when it starts: the AWS SDK of the Lambda Node.js runtime varies by region and may predate
   * the export-task operations (2024-11).
   * @default true
   */
  readonly installLatestAwsSdk?: boolean;
}

export class StartedExportStack extends Stack {
  public readonly exportRole: iam.Role;
  public readonly startExport: cr.AwsCustomResource;
  public readonly waiter: ExportTaskWaiter;

  constructor(scope: Construct, id: string, props: StartedExportStackProps = {}) {
    super(scope, id, props);

    const graphId = new CfnParameter(this, 'GraphId', {
      description: 'The Neptune Analytics graph to export (it must be AVAILABLE)',
      default: props.graphId ?? this.node.tryGetContext('graphId') ?? PLACEHOLDER_GRAPH_ID,
      allowedPattern: '^g-[a-z0-9]{10}$',
    });
    const key = new kms.Key(this, 'ExportKey', { description: 'Encrypts Neptune Analytics graph exports', enableKeyRotation: true });
    const bucket = new s3.Bucket(this, 'ExportBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
    });

    // The role Neptune Analytics assumes to write the export.
    this.exportRole = new iam.Role(this, 'ExportRole', {
      assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'Lets Neptune Analytics write graph exports to the export bucket',
    });
    this.exportRole.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects(`${EXPORT_PREFIX}*`)],
    }));
    this.exportRole.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${EXPORT_PREFIX}*`] } },
    }));
    key.grant(this.exportRole, 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:DescribeKey');

    const startExportTask: cr.AwsSdkCall = {
      service: 'neptune-graph',
      action: 'StartExportTask',
      parameters: {
        graphIdentifier: graphId.valueAsString,
        roleArn: this.exportRole.roleArn,
        kmsKeyIdentifier: key.keyArn,
        destination: bucket.s3UrlForObject(EXPORT_PREFIX),
        format: 'PARQUET',
        parquetType: 'COLUMNAR',
      },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('taskId'),
      // Only the task id goes back to CloudFormation (a custom resource's answer is limited to 4 KB).
      outputPaths: ['taskId'],
    };
    this.startExport = new cr.AwsCustomResource(this, 'StartExport', {
      onCreate: startExportTask,
      // Without it an Update would answer without a taskId and the waiter's Fn::GetAtt would fail;
      // with it a changed export starts a new task, and the waiter waits for that one.
      onUpdate: startExportTask,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({
          actions: ['neptune-graph:StartExportTask'],
          resources: [
            this.formatArn({ service: 'neptune-graph', resource: 'graph', resourceName: graphId.valueAsString }),
            this.formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: '*' }),
          ],
        }),
        new iam.PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [this.exportRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'neptune-graph.amazonaws.com' } },
        }),
      ]),
      installLatestAwsSdk: props.installLatestAwsSdk ?? true,
      timeout: Duration.minutes(2),
    });
    // The export starts as soon as the task exists: the role must already be allowed to write.
    this.startExport.node.addDependency(this.exportRole);

    this.waiter = new ExportTaskWaiter(this, 'WaitForExport', {
      taskIdentifier: this.startExport.getResponseField('taskId'),
      timeout: props.timeout ?? Duration.minutes(50),
    });

    new CfnOutput(this, 'ExportTaskId', { value: this.waiter.exportTaskId });
    new CfnOutput(this, 'ExportDestination', { value: this.waiter.destination });
    new CfnOutput(this, 'VerticesWritten', { value: Token.asString(this.waiter.numVerticesWritten) });
  }
}
