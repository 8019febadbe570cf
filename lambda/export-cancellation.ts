import type { NeptuneGraphClient } from '@aws-sdk/client-neptune-graph';
import { errorText, isObject, Json, log } from './common';
import { ExportFields } from '../src/runtime/constants';

/** How long a Delete waits for the cancellation to show, at most. */
const CANCEL_WAIT_MS = 30_000;
const POLL_MS = 2_000;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED']);

type NeptuneGraph = typeof import('@aws-sdk/client-neptune-graph');
let sdk: { module: NeptuneGraph; client: NeptuneGraphClient } | undefined;

/**
 * The client is bundled with the handler (the Lambda runtime's own SDK may predate the export-task
 * commands of 2024-11, and its version is not published), and loaded only by the requests that
 * cancel an export, so that every other request starts as fast as before.
 */
async function neptune(): Promise<{ module: NeptuneGraph; client: NeptuneGraphClient }> {
  if (!sdk) {
    // A require at the point of use (esbuild bundles it as a module evaluated on first call); a
    // dynamic import() would need an ES module loader in the tests.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = require('@aws-sdk/client-neptune-graph') as NeptuneGraph;
    const requestHandler = { requestTimeout: 5000, connectionTimeout: 3000, throwOnRequestTimeout: true };
    sdk = { module, client: new module.NeptuneGraphClient({ requestHandler }) };
  }
  return sdk;
}

/**
 * Cancels an export that is still running, then waits a short, bounded while for CANCELLED. It never
 * throws: whatever happens, the Delete that called it succeeds (a stack must always be deletable).
 */
export async function cancelExport(taskId: string, answerBy: number): Promise<void> {
  const waitUntil = Math.min(answerBy - 1000, Date.now() + CANCEL_WAIT_MS);
  try {
    const { module: { GetExportTaskCommand, CancelExportTaskCommand }, client } = await neptune();
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

/**
 * Cancels the running exports of a graph that match one of the given StartExportTask requests
 * (graph, destination, role, format and key), except `keep`: the export an abandoned Create or
 * Update started, whose task id CloudFormation never learnt. Neptune Analytics runs one export of a
 * graph at a time, so a match is that export. Never throws.
 */
export async function cancelExportsStartedFor(requests: Json[], keep: string | undefined, answerBy: number): Promise<void> {
  const F = ExportFields;
  const wanted = requests.filter((r) => isObject(r) && typeof r[F.GRAPH_IDENTIFIER] === 'string');
  for (const graphIdentifier of new Set(wanted.map((r) => r[F.GRAPH_IDENTIFIER] as string))) {
    try {
      const { module: { ListExportTasksCommand }, client } = await neptune();
      const { tasks } = await client.send(new ListExportTasksCommand({ graphIdentifier, maxResults: 100 }));
      for (const task of tasks ?? []) {
        const matches = wanted.some((r) => r[F.GRAPH_IDENTIFIER] === task.graphId && r[F.DESTINATION] === task.destination
          && r[F.ROLE_ARN] === task.roleArn && r[F.FORMAT] === task.format && r[F.KMS_KEY_IDENTIFIER] === task.kmsKeyIdentifier);
        if (matches && task.taskId && task.taskId !== keep && !TERMINAL.has(task.status ?? '')) {
          await cancelExport(task.taskId, answerBy);
        }
      }
    } catch (error) {
      log('WARN', 'Could not look for the exports of an abandoned request', { graphIdentifier, error: errorText(error) });
    }
  }
}
