import { CancelExportTaskCommand, GetExportTaskCommand, NeptuneGraphClient } from '@aws-sdk/client-neptune-graph';
import { errorText, log } from './common';

/** How long a Delete waits for the cancellation to show, at most. */
const CANCEL_WAIT_MS = 30_000;
const POLL_MS = 2_000;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED']);

let client: NeptuneGraphClient | undefined;

/**
 * Cancels an export that is still running, then waits a short, bounded while for CANCELLED. It never
 * throws: whatever happens, the Delete that called it succeeds (a stack must always be deletable).
 */
export async function cancelExport(taskId: string, answerBy: number): Promise<void> {
  client ??= new NeptuneGraphClient({ requestHandler: { requestTimeout: 5000, connectionTimeout: 3000, throwOnRequestTimeout: true } });
  const waitUntil = Math.min(answerBy - 1000, Date.now() + CANCEL_WAIT_MS);
  try {
    const { status } = await client.send(new GetExportTaskCommand({ taskIdentifier: taskId }));
    if (status && TERMINAL.has(status)) {
      log('INFO', 'Delete: the export already ended; nothing to cancel', { taskId, status });
      return;
    }
    await client.send(new CancelExportTaskCommand({ taskIdentifier: taskId }));
    log('INFO', 'Delete: cancelling the export', { taskId });
    while (Date.now() + POLL_MS < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const task = await client.send(new GetExportTaskCommand({ taskIdentifier: taskId }));
      if (task.status && TERMINAL.has(task.status)) {
        log('INFO', 'Delete: the export ended', { taskId, status: task.status });
        return;
      }
    }
    log('WARN', 'Delete: the export is still cancelling; not waiting longer', { taskId });
  } catch (error) {
    // Gone (404) or already ending (409) is what a Delete wants; anything else is only reported.
    log('WARN', 'Delete: could not cancel the export', { taskId, error: errorText(error) });
  }
}
