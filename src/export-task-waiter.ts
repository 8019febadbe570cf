import { Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ExportTaskResult, ExportWaitOptions } from './export-task-result';
import { checkWaitOptions, waitForExportTask } from './private/export-wait';
import { ResourceProperties, WAITER_RESOURCE_TYPE } from './runtime/constants';
import { checkTaskIdentifier } from './runtime/validation';

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
 */
export class ExportTaskWaiter extends ExportTaskResult {
  constructor(scope: Construct, id: string, props: ExportTaskWaiterProps) {
    super(scope, id);
    checkWaitOptions(this, 'ExportTaskWaiter', props, [
      Token.isUnresolved(props.taskIdentifier) ? undefined : checkTaskIdentifier('taskIdentifier', props.taskIdentifier),
    ]);
    const wait = waitForExportTask(this, {
      resourceType: WAITER_RESOURCE_TYPE,
      properties: { [ResourceProperties.TASK_IDENTIFIER]: props.taskIdentifier },
      options: props,
      identity: props.taskIdentifier,
    });
    this._attribute = wait.attribute;
    this._stateMachine = wait.infrastructure.stateMachine;
    this._longWait = wait.longWait;
  }
}
