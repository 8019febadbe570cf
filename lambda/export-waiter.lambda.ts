/**
 * The custom-resource handler of ExportTaskWaiter and GraphExport. It has two callers:
 * - CloudFormation (Create, Update, Delete): see cloudformation-request.ts. Delete is answered at once
 *   (delete-resource.ts); Create and Update start an execution of the wait loop (start-wait.ts),
 *   which answers later.
 * - the wait loop (`{ [ANSWER_MARKER]: ... }`), to answer CloudFormation: see loop-answers.ts.
 * Every CloudFormation request that carries a ResponseURL is answered exactly once, whatever fails.
 */
import { handleCloudFormationEvent, LambdaContext } from './cloudformation-request';
import { errorText, isObject, log } from './common';
import { answerFromLoop, LoopAnswer } from './loop-answers';
import { ANSWER_MARKER } from '../src/runtime/constants';

export { redact } from './common';
export { attributesOf, judge } from './loop-answers';

export async function handler(event: unknown, context?: LambdaContext): Promise<void> {
  let loopAnswer: LoopAnswer | undefined;
  try {
    loopAnswer = isObject(event) && isObject(event[ANSWER_MARKER]) ? event[ANSWER_MARKER] : undefined;
  } catch (error) {
    log('ERROR', 'Ignored an event that cannot be read', { error: errorText(error) });
    return;
  }
  // An answer from the wait loop may throw AnswerNotDelivered: the loop retries it.
  if (loopAnswer) return answerFromLoop(loopAnswer);
  try {
    await handleCloudFormationEvent(event, context);
  } catch (error) {
    // Only an event whose ResponseURL cannot even be read gets here: there is nobody to answer.
    log('ERROR', 'Ignored an event that cannot be read', { error: errorText(error) });
  }
}
