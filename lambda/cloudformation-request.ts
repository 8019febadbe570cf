/**
 * A CloudFormation request (Create, Update or Delete), answered exactly once and before Lambda ends
 * the invocation, whatever fails or hangs. Delete is handled in delete-resource.ts; Create and Update
 * start the wait loop in start-wait.ts.
 */
import { serializeAnswer } from './cloudformation-response';
import { CREATE_FAILED_ID, deliver, errorText, isObject, Json, log, stringField, textField } from './common';
import { handleDelete } from './delete-resource';
import { forget } from './parameter-store';
import { startWait } from './start-wait';
import { show } from '../src/runtime/validation';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Time kept in hand to answer before Lambda ends the invocation. */
const ANSWER_RESERVE_MS = 4000;

export interface Responder {
  readonly answered: boolean;
  /** The request's secrets were stored under this name: an answer the handler gives itself deletes them (no execution will). */
  storedAt?: string;
  answer(status: 'SUCCESS' | 'FAILED', fields: { reason?: string; physicalResourceId: string; data?: Record<string, string> }): Promise<void>;
}

/** One CloudFormation request being handled. */
export interface CloudFormationRequest {
  readonly event: Json;
  readonly responder: Responder;
  /** What identifies the request in every log line about it. */
  readonly logFields: { readonly requestType: string; readonly requestId: string; readonly logicalResourceId: string };
  /** When the answer is due, on the wall clock (Date.now()). */
  readonly answerDueMs: number;
  /** The same moment on the monotonic clock (performance.now()), which the out-of-time timer also follows. */
  readonly answerBy: number;
}

function responderFor(event: Json): Responder {
  let answered = false;
  // Read once, up front: an answer must not depend on reading the event again.
  const responseUrl = String(event.ResponseURL);
  const echoed = { StackId: textField(event, 'StackId'), RequestId: textField(event, 'RequestId'), LogicalResourceId: textField(event, 'LogicalResourceId') };
  return {
    get answered() {
      return answered;
    },
    async answer(status, { reason, physicalResourceId, data }) {
      if (answered) return;
      answered = true;
      const body = serializeAnswer({ Status: status, Reason: reason, PhysicalResourceId: physicalResourceId, ...echoed, Data: data });
      try {
        await deliver(responseUrl, body, { requestId: echoed.RequestId, status });
      } finally {
        if (this.storedAt) await forget(this.storedAt);
      }
    },
  };
}

export async function handleCloudFormationEvent(event: unknown, context?: LambdaContext): Promise<void> {
  if (!isObject(event) || typeof event.ResponseURL !== 'string' || !/^https?:\/\/[^/?#\s]+/i.test(event.ResponseURL)) {
    // Nothing could ever be delivered: starting to wait would only end in AnswerNotDelivered.
    log('ERROR', 'Ignored an event without a usable ResponseURL: there is nobody to answer', {
      keys: isObject(event) ? Object.keys(event).slice(0, 20) : typeof event,
    });
    return;
  }
  const responder = responderFor(event);
  const logFields = { requestType: textField(event, 'RequestType'), requestId: textField(event, 'RequestId'), logicalResourceId: textField(event, 'LogicalResourceId') };
  const failedId = stringField(event, 'PhysicalResourceId') || CREATE_FAILED_ID;
  const remaining = context?.getRemainingTimeInMillis() ?? 60_000;
  const request: CloudFormationRequest = {
    event, responder, logFields, answerDueMs: Date.now() + remaining - ANSWER_RESERVE_MS, answerBy: performance.now() + remaining - ANSWER_RESERVE_MS,
  };
  await answerInTime(request, failedId, remaining - ANSWER_RESERVE_MS);
}

/** Handles the request, and answers before Lambda ends the invocation even if a call hangs. */
async function answerInTime(request: CloudFormationRequest, failedId: string, answerInMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log('ERROR', 'Out of time before the request was handled', request.logFields);
      resolve(answerUnfinished(request, failedId, 'The waiter handler ran out of time before it could start waiting (see its log).'));
    }, Math.max(0, answerInMs));
  });
  const work = (async () => {
    try {
      await handleRequest(request);
    } catch (error) {
      log('ERROR', 'Request failed', { ...request.logFields, error: errorText(error) });
      await answerUnfinished(request, failedId, `The waiter could not handle the request: ${errorText(error)}`);
    }
  })();
  try {
    await Promise.race([work, outOfTime]);
  } catch (error) {
    log('ERROR', 'Could not answer CloudFormation', { ...request.logFields, error: errorText(error) });
  } finally {
    clearTimeout(timer);
  }
}

/** The answer to a request the handler could not finish: a Delete never fails, whatever it did not finish (cancelling an export) is only logged. */
function answerUnfinished(request: CloudFormationRequest, failedId: string, reason: string): Promise<void> {
  return request.logFields.requestType === 'Delete'
    ? request.responder.answer('SUCCESS', { physicalResourceId: failedId })
    : request.responder.answer('FAILED', { reason, physicalResourceId: failedId });
}

async function handleRequest(request: CloudFormationRequest): Promise<void> {
  const requestType = request.event.RequestType;
  const physicalId = stringField(request.event, 'PhysicalResourceId');
  if (requestType === 'Delete') return handleDelete(request, physicalId);
  const failedId = requestType === 'Update' && physicalId ? physicalId : CREATE_FAILED_ID;
  if (requestType !== 'Create' && requestType !== 'Update') {
    return request.responder.answer('FAILED', { reason: `Unknown RequestType ${show(requestType)}: expected Create, Update or Delete`, physicalResourceId: failedId });
  }
  return startWait(request, requestType, failedId);
}
