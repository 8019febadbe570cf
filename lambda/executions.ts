/** Executions of the wait loop: starting one per request, and stopping those nobody waits for any more. */
import {
  DescribeExecutionCommand, ExecutionAlreadyExists, ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { errorText, Json, log } from './common';
import { requestParameterName, forget } from './parameter-store';
import { baseOfExecutionName } from './physical-id';

/** The longest one StartExecution attempt can take: its connection and request timeouts. */
const START_ATTEMPT_MS = 8000;

let client: SFNClient | undefined;

function sfn(): SFNClient {
  // The loops below own the retrying: the SDK's own would hide how long a call may take.
  client ??= new SFNClient({ maxAttempts: 1, requestHandler: { requestTimeout: 5000, connectionTimeout: 3000, throwOnRequestTimeout: true } });
  return client;
}

/**
 * Starts the wait loop. A call that got no reply (a timeout, a lost connection) may have started the
 * execution all the same: answering FAILED then would answer the request twice (the execution answers
 * it too). Such calls, and 5xx and throttling, are repeated with the same name and input, which Step
 * Functions answers with the execution already running, until a reply says what happened or the time
 * to answer runs out. 'exists' when an execution of that name exists already (it answers), and
 * 'answered-already' when the handler answered the request itself (out of time) before a start got through.
 */
export async function startExecution(
  command: StartExecutionCommand, request: Json, answerBy: number, stillWanted: () => boolean,
): Promise<'started' | 'exists' | 'answered-already'> {
  for (let attempt = 1; ; attempt++) {
    if (!stillWanted()) {
      log('WARN', 'Not starting the wait: the request was answered already (out of time)', request);
      return 'answered-already';
    }
    try {
      await sfn().send(command);
      return 'started';
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error)?.name === 'ExecutionAlreadyExists') {
        log('INFO', attempt === 1
          ? 'Duplicate delivery: already waiting for this request'
          : 'The execution exists already (an earlier attempt started it): it answers', request);
        return 'exists';
      }
      const delayMs = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (!mayRetry(error) || performance.now() + delayMs + START_ATTEMPT_MS > answerBy) throw error;
      log('WARN', 'StartExecution failed; trying again with the same name and input', { ...request, attempt, error: errorText(error) });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Whether the first execution for a request still runs; a failure to tell counts as running (nothing is deleted then). */
export async function isRunning(stateMachineArn: string, executionBase: string): Promise<boolean> {
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionBase}`;
  try {
    const { status } = await sfn().send(new DescribeExecutionCommand({ executionArn }));
    return status === 'RUNNING';
  } catch (error) {
    log('WARN', 'Could not tell whether the execution still runs', { error: errorText(error) });
    return true;
  }
}

/**
 * No reply (no HTTP status: a timeout, a broken connection), a server error or throttling: worth
 * asking again. Errors without a status are not told apart further: the SDK may hand them over
 * wrapped, without their name or code, and a needless retry costs only time.
 */
function mayRetry(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || status === 429 || e?.name === 'ThrottlingException';
}

/**
 * Stops every running execution of one resource except the current request's: an execution still
 * waiting for an earlier request of the resource waits for nobody once CloudFormation sends a newer
 * one (it cancelled that Create or Update), and would otherwise poll on and answer a dead request.
 * Returns how many it stopped. Never throws: the request that asked goes on either way.
 */
export async function stopSupersededExecutions(stateMachineArn: string, resourceKey: string, currentBase: string | undefined): Promise<number> {
  let stopped = 0;
  try {
    let nextToken: string | undefined;
    do {
      const page = await sfn().send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 100, nextToken }));
      for (const execution of page.executions ?? []) {
        const base = baseOfExecutionName(execution.name ?? '');
        if (!base.startsWith(`${resourceKey}-`) || base === currentBase || !execution.executionArn) continue;
        await sfn().send(new StopExecutionCommand({
          executionArn: execution.executionArn,
          error: 'Superseded',
          cause: 'CloudFormation sent a newer request for this resource (the one this execution waited for was cancelled).',
        }));
        await forget(requestParameterName(base));
        log('INFO', 'Stopped an execution whose request CloudFormation abandoned', { execution: execution.name });
        stopped++;
      }
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    log('WARN', 'Could not look for executions of abandoned requests', { error: errorText(error) });
  }
  return stopped;
}
