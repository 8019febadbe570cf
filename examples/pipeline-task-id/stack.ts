/**
 * Waiting for an export that a pipeline step started: the step calls StartExportTask (the AWS CLI,
 * a script, an SDK call) and deploys this stack with the task id it got back; the deployment goes on
 * only once that export ended, and hands its results to outputs.
 *
 *   aws neptune-graph start-export-task --graph-identifier g-... --role-arn arn:aws:iam::...:role/... \
 *     --kms-key-identifier arn:aws:kms:...:key/... --destination s3://bucket/prefix/ --format PARQUET \
 *     --query taskId --output text
 *   npx cdk deploy ExportTaskWait --parameters ExportTaskId=t-xxxxxxxxxx
 *
 * Each run passes a new task id: CloudFormation updates the waiter, which waits for the new task.
 * That needs the custom-resource mode (a timeout up to 55 minutes): in long-wait mode a parameter's
 * value would change behind the same WaitCondition, and the update fails saying so. For longer
 * exports pass the id as a context value instead (`-c exportTaskId=t-...` and
 * `taskIdentifier: this.node.getContext('exportTaskId')`), so that each task gets its own WaitCondition.
 */
import { CfnOutput, CfnParameter, Duration, Stack, StackProps, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
// In your own app: import { ExportTaskWaiter } from 'cdk-neptune-graph-export';
import { ExportTaskWaiter } from '../../src';

export interface ExportTaskWaitStackProps extends StackProps {
  /** @default Duration.minutes(50) */
  readonly timeout?: Duration;
}

export class ExportTaskWaitStack extends Stack {
  public readonly taskId: CfnParameter;
  public readonly waiter: ExportTaskWaiter;

  constructor(scope: Construct, id: string, props: ExportTaskWaitStackProps = {}) {
    super(scope, id, props);

    this.taskId = new CfnParameter(this, 'ExportTaskId', {
      description: 'The Neptune Analytics export task the pipeline step started',
      allowedPattern: '^t-[a-z0-9]{10}$',
      constraintDescription: 't- and 10 lowercase letters or digits (the taskId StartExportTask returned)',
    });

    this.waiter = new ExportTaskWaiter(this, 'WaitForExport', {
      taskIdentifier: this.taskId.valueAsString,
      timeout: props.timeout ?? Duration.minutes(50),
    });

    new CfnOutput(this, 'ExportDestination', { value: this.waiter.destination });
    new CfnOutput(this, 'VerticesWritten', { value: Token.asString(this.waiter.numVerticesWritten) });
    new CfnOutput(this, 'EdgesWritten', { value: Token.asString(this.waiter.numEdgesWritten) });
  }
}
