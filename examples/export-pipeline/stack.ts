/**
 * A Neptune Analytics graph export as a step of a deployment pipeline:
 *
 *   ExportPipelineStack   KMS key + encrypted bucket
 *                         -> GraphExport (starts the export of the graph and waits for it to end;
 *                            creates the role Neptune Analytics writes the export with)
 *                         -> outputs and an SSM parameter built from the export's attributes
 *   ExportConsumerStack   a function that reads the SSM parameter and lists the exported files
 *
 * The SSM parameter is the hand-over: the consumer never references the export itself, and always
 * finds the destination of the latest export that succeeded.
 */
import { CfnOutput, CfnParameter, Duration, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
// In your own app: import { ExportDestination, ExportFormat, GraphExport, ParquetType } from 'cdk-neptune-graph-export';
import { ExportDestination, ExportFormat, GraphExport, IExportTaskResult, ParquetType } from '../../src';

/** Used when neither the GraphId parameter nor the `graphId` context is given. */
export const PLACEHOLDER_GRAPH_ID = 'g-0123456789';
export const DEFAULT_DESTINATION_PARAMETER = '/neptune-graph-export/latest/destination';
export const EXPORT_PREFIX = 'exports/';

export interface ExportPipelineStackProps extends StackProps {
  /**
   * Default of the stack's `GraphId` parameter.
   * @default - the `graphId` context value, else a placeholder
   */
  readonly graphId?: string;
  /**
   * How long the deployment waits for the export. Over 55 minutes (up to 11 h 55 min) a
   * WaitCondition waits instead of the custom resource.
   * @default Duration.minutes(50)
   */
  readonly exportTimeout?: Duration;
  /** @default DEFAULT_DESTINATION_PARAMETER */
  readonly destinationParameterName?: string;
}

export class ExportPipelineStack extends Stack {
  public readonly bucket: s3.Bucket;
  public readonly key: kms.Key;
  public readonly graphExport: GraphExport;
  public readonly destinationParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: ExportPipelineStackProps = {}) {
    super(scope, id, props);

    const graphId = new CfnParameter(this, 'GraphId', {
      description: 'The Neptune Analytics graph to export (it must be AVAILABLE)',
      default: props.graphId ?? this.node.tryGetContext('graphId') ?? PLACEHOLDER_GRAPH_ID,
      allowedPattern: '^g-[a-z0-9]{10}$',
    });

    this.key = new kms.Key(this, 'ExportKey', {
      description: 'Encrypts Neptune Analytics graph exports',
      enableKeyRotation: true,
    });
    this.bucket = new s3.Bucket(this, 'ExportBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
    });

    // Starts the export when the stack is created (and again whenever what is exported changes),
    // then waits for it: the resource exists only once the export succeeded.
    this.graphExport = new GraphExport(this, 'Export', {
      graphId: graphId.valueAsString,
      destination: ExportDestination.fromBucket(this.bucket, EXPORT_PREFIX),
      encryptionKey: this.key,
      format: ExportFormat.PARQUET,
      parquetType: ParquetType.COLUMNAR,
      timeout: props.exportTimeout ?? Duration.minutes(50),
    });

    // Everything below is created only once the export succeeded.
    new CfnOutput(this, 'ExportTaskId', { value: this.graphExport.exportTaskId });
    new CfnOutput(this, 'ExportDestination', { value: this.graphExport.destination });
    new CfnOutput(this, 'VerticesWritten', { value: Token.asString(this.graphExport.numVerticesWritten) });
    new CfnOutput(this, 'EdgesWritten', { value: Token.asString(this.graphExport.numEdgesWritten) });
    this.destinationParameter = new ssm.StringParameter(this, 'DestinationParameter', {
      parameterName: props.destinationParameterName ?? DEFAULT_DESTINATION_PARAMETER,
      stringValue: this.graphExport.destination,
      description: 'S3 URI of the latest Neptune Analytics export that succeeded',
    });
  }
}

export interface ExportConsumerStackProps extends StackProps {
  /** The name of the parameter holding the export destination: all the two stacks share about it. */
  readonly destinationParameterName: string;
  /** The export whose files the function reads (every export of the pipeline writes under its prefix). */
  readonly exported: IExportTaskResult;
}

/** A downstream step: reads the destination from SSM when it runs, and lists what was exported. */
export class ExportConsumerStack extends Stack {
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: ExportConsumerStackProps) {
    super(scope, id, props);
    this.function = new lambda.Function(this, 'ListExportedFiles', {
      description: 'Lists the files of the latest Neptune Analytics export',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(1),
      handler: 'index.handler',
      environment: { DESTINATION_PARAMETER: props.destinationParameterName },
      code: lambda.Code.fromInline(`
const { SSMClient, GetParameterCommand } = require('@aws-sdk/client-ssm');
const { S3Client, ListObjectsV2Command } = require('@aws-sdk/client-s3');
const ssm = new SSMClient({});
const s3 = new S3Client({});
exports.handler = async () => {
  const { Parameter } = await ssm.send(new GetParameterCommand({ Name: process.env.DESTINATION_PARAMETER }));
  const destination = new URL(Parameter.Value);
  let files = 0, bytes = 0, token;
  do {
    const page = await s3.send(new ListObjectsV2Command({
      Bucket: destination.hostname, Prefix: destination.pathname.slice(1), ContinuationToken: token,
    }));
    for (const object of page.Contents ?? []) { files += 1; bytes += object.Size ?? 0; }
    token = page.NextContinuationToken;
  } while (token);
  return { destination: Parameter.Value, files, bytes };
};`),
    });
    // Exactly the call the function makes. (grantRead would add ssm:DescribeParameters, which IAM
    // only authorizes on "*", on this parameter's ARN: a grant that can never apply.)
    const destination = ssm.StringParameter.fromStringParameterName(this, 'Destination', props.destinationParameterName);
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [destination.parameterArn] }));
    // The export's prefix and key only, not the whole bucket.
    props.exported.grantRead(this.function);
  }
}
