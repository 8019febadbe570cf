/**
 * The library inside a CDK Pipelines stage: each release deploys an `Analytics` stage whose stack
 * exports the graph with a GraphExport (the deployment waits for the export to end, and fails the
 * release when it fails), then a post-deployment step of the pipeline reads the export's outputs
 * and checks the exported files before the release goes on.
 *
 *   Source -> Build (cdk synth) -> UpdatePipeline -> Assets -> Analytics: GraphExportStack
 *                                                               -> VerifyExport (ShellStep)
 *
 * Every release that changes the export (graph, destination, filter...) starts a new export; a
 * release that leaves it unchanged keeps the previous export and its attributes.
 */
import { CfnOutput, Duration, Stack, StackProps, Stage, StageProps, Token } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
// In your own app: import { ExportDestination, GraphExport } from 'cdk-neptune-graph-export';
import { ExportDestination, GraphExport } from '../../src';

export interface GraphExportStackProps extends StackProps {
  readonly graphId: string;
}

/** The stack the stage deploys: a bucket, a key, and the export of the graph into them. */
export class GraphExportStack extends Stack {
  public readonly export: GraphExport;
  public readonly destination: CfnOutput;
  public readonly verticesWritten: CfnOutput;

  constructor(scope: Construct, id: string, props: GraphExportStackProps) {
    super(scope, id, props);
    const key = new kms.Key(this, 'ExportKey', { enableKeyRotation: true });
    const bucket = new s3.Bucket(this, 'Exports', { enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL });
    this.export = new GraphExport(this, 'Export', {
      graphId: props.graphId,
      destination: ExportDestination.fromBucket(bucket, 'releases/'),
      encryptionKey: key,
      timeout: Duration.minutes(50),
    });
    this.destination = new CfnOutput(this, 'ExportDestination', { value: this.export.destination });
    this.verticesWritten = new CfnOutput(this, 'VerticesWritten', { value: Token.asString(this.export.numVerticesWritten) });
  }
}

export interface AnalyticsStageProps extends StageProps {
  readonly graphId: string;
}

export class AnalyticsStage extends Stage {
  public readonly exportStack: GraphExportStack;

  constructor(scope: Construct, id: string, props: AnalyticsStageProps) {
    super(scope, id, props);
    this.exportStack = new GraphExportStack(this, 'GraphExport', { graphId: props.graphId });
  }
}

export interface ReleasePipelineStackProps extends StackProps {
  /** `owner/repository` of the app's source. */
  readonly repository: string;
  /** The CodeStar connection (AWS CodeConnections) to the repository. */
  readonly connectionArn: string;
  readonly graphId: string;
}

export class ReleasePipelineStack extends Stack {
  public readonly pipeline: pipelines.CodePipeline;
  public readonly stage: AnalyticsStage;

  constructor(scope: Construct, id: string, props: ReleasePipelineStackProps) {
    super(scope, id, props);
    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      synth: new pipelines.ShellStep('Synth', {
        input: pipelines.CodePipelineSource.connection(props.repository, 'main', { connectionArn: props.connectionArn }),
        commands: ['npm ci', 'npx cdk synth'],
      }),
    });
    this.stage = new AnalyticsStage(this, 'Analytics', { env: props.env, graphId: props.graphId });
    const { exportStack } = this.stage;
    this.pipeline.addStage(this.stage, {
      post: [new pipelines.ShellStep('VerifyExport', {
        envFromCfnOutputs: { DESTINATION: exportStack.destination, VERTICES: exportStack.verticesWritten },
        commands: [
          'echo "Export written to $DESTINATION ($VERTICES vertices)"',
          'test "$VERTICES" -gt 0',
          'aws s3 ls --recursive "$DESTINATION" | head',
        ],
      })],
    });
  }
}
