/**
 * Physical resource ids (wait-plan.ts decides, from the id a resource has, what a request for it waits for).
 *
 * A physical id reads `<task id>[:<export fingerprint>][;<previous id>]`:
 * - an ExportTaskWaiter's identity is its task id; a GraphExport's is its task id and the
 *   fingerprint of the StartExportTask request that started it, so a later request can tell
 *   whether it asks for that same export;
 * - an Update that moves to another task keeps the identity it replaces after `;` (one level), because
 *   CloudFormation may roll that Update back with the old properties while the resource already
 *   carries the new id: the rollback then finds the task to return to, and re-reads it rather than
 *   exporting again.
 */
import { createHash } from 'node:crypto';
import { isObject } from './common';

export interface PhysicalId {
  /** `<task id>[:<fingerprint>]`. */
  readonly identity: string;
  readonly taskId: string;
  readonly fingerprint?: string;
  /** The identity this one replaced, if it came from an Update that moved to another task. */
  readonly previous?: PhysicalId;
}

const IDENTITY = /^(t-[a-z0-9]{10})(?::([0-9a-f]{16}))?$/;

function parseIdentity(text: string): PhysicalId | undefined {
  const match = IDENTITY.exec(text);
  return match ? { identity: text, taskId: match[1], fingerprint: match[2] } : undefined;
}

/** Reads a physical id this handler answered; anything else (a failed Create, an id CloudFormation made up) is undefined. */
export function parsePhysicalId(value: string): PhysicalId | undefined {
  const [identity, previous, ...rest] = value.split(';');
  const current = rest.length === 0 ? parseIdentity(identity) : undefined;
  if (!current || previous === undefined) return current;
  const earlier = parseIdentity(previous);
  return earlier ? { ...current, previous: earlier } : current;
}

export function formatIdentity(taskId: string, fingerprint?: string | null): string {
  return fingerprint ? `${taskId}:${fingerprint}` : taskId;
}

export function formatPhysicalId(identity: string, previous?: string | null): string {
  return previous && previous !== identity ? `${identity};${previous}` : identity;
}

/** What a GraphExport's request exports, as a short digest: equal requests, equal fingerprints. */
export function exportFingerprint(request: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(canonical)
      : isObject(value) ? Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(request))).digest('hex').slice(0, 16);
}

/** The part of execution names (and of parameter names) that identifies one custom resource of one stack. */
export function resourceKey(stackId: string, logicalResourceId: string): string {
  return createHash('sha256').update(`${stackId}|${logicalResourceId}`).digest('hex').slice(0, 16);
}

/** Where the results of a successful answer for one identity of one resource are kept. */
export function resultsKey(stackId: string, logicalResourceId: string, identity: string): string {
  return createHash('sha256').update(`${stackId}|${logicalResourceId}|${identity}`).digest('hex').slice(0, 32);
}

/**
 * The name of the first execution for one request: `<resource key>-<request id>`, the request id
 * with every character but letters, digits and `_` replaced, so the name's first two `-`-separated
 * parts always give the request back (continuations append `-<generation>`).
 */
export function executionBaseName(key: string, requestId: string): string {
  const safeRequestId = requestId.replace(/[^A-Za-z0-9_]/g, '_') || 'no_request_id';
  return `${key}-${safeRequestId}`.slice(0, 72);
}

/** The base name of an execution, whichever generation it is. */
export function baseOfExecutionName(name: string): string {
  return name.split('-').slice(0, 2).join('-');
}
