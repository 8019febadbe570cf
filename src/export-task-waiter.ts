import { Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ExportWaitOptions } from './export-task-result';
import { ExportTaskResultBase } from './private/export-task-result-base';
import { checkWaitOptions, waitForExportTask } from './private/export-wait';
import { ExportedFiles } from './private/exported-files';
import { ResourceAttributes, ResourceProperties, WAITER_RESOURCE_TYPE } from './runtime/constants';
import { checkTaskIdentifier } from './runtime/validation';

/** Properties of an ExportTaskWaiter. */
export interface ExportTaskWaiterProps extends ExportWaitOptions {
  /**
   * The export task to wait for: `t-` followed by 10 lowercase letters or digits.
   *
   * Usually a token: a CfnParameter a pipeline step fills in, or the task id an `AwsCustomResource`
   * calling StartExportTask returns (GraphExport starts and waits in one construct).
   * A literal is checked at synth time, a token at deploy time.
   */
  readonly taskIdentifier: string;
}

/**
 * Waits for an Amazon Neptune Analytics export task to end, and exposes its results.
 *
 * Creating (or updating to another task id) this resource waits until the task reaches a terminal
 * status. SUCCEEDED makes the resource succeed with the task's destination, format and counts as
 * attributes; FAILED, CANCELLED or DELETED fail the deployment with the service's reason. Deleting
 * the resource never touches the task.
 *
 * The stack's waiters and exports share one handler function and one state machine
 * (`handlerFunction`, `stateMachine`).
 *
 * @example
 * declare const taskId: CfnParameter;
 * declare const analytics: lambda.IFunction;
 *
 * const exported = new ExportTaskWaiter(this, 'WaitForExport', {
 *   taskIdentifier: taskId.valueAsString,
 *   timeout: Duration.minutes(50),
 * });
 * exported.grantRead(analytics);
 * new CfnOutput(this, 'Destination', { value: exported.destination });
 */
export class ExportTaskWaiter extends ExportTaskResultBase {
  constructor(scope: Construct, id: string, props: ExportTaskWaiterProps) {
    super(scope, id, (self) => {
      checkWaitOptions(self, 'ExportTaskWaiter', props, [
        Token.isUnresolved(props.taskIdentifier) ? undefined : checkTaskIdentifier('taskIdentifier', props.taskIdentifier),
      ]);
      const wait = waitForExportTask(self, {
        resourceType: WAITER_RESOURCE_TYPE,
        properties: { [ResourceProperties.TASK_IDENTIFIER]: props.taskIdentifier },
        options: props,
        identity: props.taskIdentifier,
      });
      // Where the files are is only known once the task is read: CloudFormation takes the attributes apart.
      const files = ExportedFiles.fromAttributes(
        wait.attribute(ResourceAttributes.DESTINATION),
        wait.attribute(ResourceAttributes.KMS_KEY_IDENTIFIER),
      );
      return { wait, files };
    });
  }
}
