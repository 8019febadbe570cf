import type { CloudFormationRequest } from './cloudformation-request';
import { CREATE_FAILED_ID, isObject, Json, log, textField } from './common';
import { stopSupersededExecutions } from './executions';
import { cancelExport, cancelExportsStartedFor } from './export-cancellation';
import { forgetResults } from './parameter-store';
import { parsePhysicalId, resourceKey, resultsKey } from './physical-id';
import { Env, ResourceProperties } from '../src/runtime/constants';

/**
 * Never fails: a stack must always be deletable. Only a GraphExport that asked for it touches the
 * export; a Delete of a Create that CloudFormation cancelled also stops the execution still waiting
 * for it (and cancels the export it started, if asked to).
 */
export async function handleDelete(request: CloudFormationRequest, physicalId: string): Promise<void> {
  const { event, responder } = request;
  const properties = isObject(event.ResourceProperties) ? event.ResourceProperties : {};
  const cancelOnDelete = String(properties[ResourceProperties.CANCEL_ON_DELETE]) === 'true';
  const current = parsePhysicalId(physicalId);
  const stateMachineArn = process.env[Env.STATE_MACHINE_ARN];
  const stackId = textField(event, 'StackId');
  const logicalId = textField(event, 'LogicalResourceId');
  if (stateMachineArn && stackId && logicalId) {
    const stopped = await stopSupersededExecutions(stateMachineArn, resourceKey(stackId, logicalId), undefined);
    if (stopped > 0 && cancelOnDelete) {
      await cancelExportsStartedFor([properties[ResourceProperties.EXPORT] as Json], current?.taskId, request.answerDueMs);
    }
  }
  if (current && cancelOnDelete) {
    await cancelExport(current.taskId, request.answerDueMs);
  } else {
    log('INFO', 'Delete: no export to cancel', request.logFields);
  }
  if (current && stackId && logicalId) await forgetResults(resultsKey(stackId, logicalId, current.identity));
  return responder.answer('SUCCESS', { physicalResourceId: physicalId || CREATE_FAILED_ID });
}
