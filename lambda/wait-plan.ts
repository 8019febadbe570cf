/** What a Create or Update waits for, given the physical id the resource has (see physical-id.ts). */
import { Json } from './common';
import { formatPhysicalId, PhysicalId } from './physical-id';

export interface WaitPlan {
  /** The task to wait for; null when the loop starts `startExportTask` first. */
  taskId: string | null;
  /** The StartExportTask request of a GraphExport that needs a new export. */
  startExportTask: Json | null;
  /** Set when the request returns to a task the resource already had: its physical id, answered again. */
  rereadPhysicalId: string | null;
  /** A GraphExport's export fingerprint (part of its physical id). */
  fingerprint: string | null;
  /** The identity an Update moves away from, kept in the new physical id for a rollback. */
  previous: string | null;
}

/**
 * What to wait for. A request that asks for what the resource already has (same task, or same
 * export), or for what it had before its last Update (CloudFormation rolling that Update back),
 * re-reads that task: it never exports again, and answers with the same physical id.
 */
export function planWait(current: PhysicalId | undefined, taskId: string | null, startExportTask: Json | null, fingerprint: string | null): WaitPlan {
  const wanted = (id: PhysicalId | undefined) => id !== undefined && (fingerprint ? id.fingerprint === fingerprint : id.taskId === taskId);
  const reread = (id: PhysicalId, physicalId: string): WaitPlan =>
    ({ taskId: id.taskId, startExportTask: null, rereadPhysicalId: physicalId, fingerprint, previous: null });
  if (current && wanted(current)) return reread(current, formatPhysicalId(current.identity, current.previous?.identity));
  if (current?.previous && wanted(current.previous)) return reread(current.previous, current.previous.identity);
  return { taskId, startExportTask, rereadPhysicalId: null, fingerprint, previous: current?.identity ?? null };
}
