/**
 * The wire side of the local Step Functions endpoint (AWS JSON 1.0, `X-Amz-Target:
 * AWSStepFunctions.<Operation>`): StartExecution, ListExecutions, StopExecution and DescribeExecution,
 * as a real `SFNClient` sends them. The executions themselves live in LocalDeployment.
 *
 * From the Step Functions API reference: ListExecutions lists the newest execution first, pages of
 * `maxResults` (1-1000, 0 or absent meaning 100) with an opaque `nextToken`; timestamps are epoch
 * seconds on the wire. *Unverified*: that StopExecution of an execution that already ended succeeds
 * without changing it (here it does).
 */
import type * as http from 'node:http';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
const STATUSES: readonly string[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];

/** What the endpoint needs to know about an execution. */
export interface ListedExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly input: string;
  readonly status: ExecutionStatus;
  /** Virtual epoch seconds. */
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly failure?: { error: string; cause: string };
}

export type ApiError = { error: string; message: string };

export interface StepFunctionsApi {
  readonly stateMachineArn: string;
  /** Every execution, oldest first. */
  readonly executions: readonly ListedExecution[];
  startExecution(request: { stateMachineArn?: string; name?: string; input?: string }): { executionArn: string; startDate: number } | ApiError;
  stopExecution(executionArn: string, error?: string, cause?: string): { stopDate: number } | ApiError;
}

type Json = Record<string, unknown>;

export function serveStepFunctionsRequest(api: StepFunctionsApi, req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const reply = (status: number, body: Json, errorType?: string) => {
      const text = JSON.stringify(errorType ? { __type: errorType, message: body.message } : body);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
      res.end(text);
    };
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      return reply(403, { message: 'Missing SigV4 Authorization header' }, 'MissingAuthenticationToken');
    }
    let request: Json;
    try {
      request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, { message: 'Malformed JSON' }, 'SerializationException');
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const outcome = dispatch(api, target.replace(/^AWSStepFunctions\./, ''), request);
    // Successes never carry `message` (a DescribeExecution of a failed execution does carry `error`).
    if ('error' in outcome && 'message' in outcome) return reply(400, { message: outcome.message }, String(outcome.error));
    return reply(200, outcome as Json);
  });
}

function dispatch(api: StepFunctionsApi, operation: string, request: Json): Json | ApiError {
  switch (operation) {
    case 'StartExecution':
      return api.startExecution(request as { stateMachineArn?: string; name?: string; input?: string });
    case 'StopExecution': {
      if (typeof request.executionArn !== 'string') return { error: 'ValidationException', message: 'executionArn is required' };
      return api.stopExecution(request.executionArn, optionalString(request.error), optionalString(request.cause));
    }
    case 'DescribeExecution': {
      const execution = api.executions.find((e) => e.executionArn === request.executionArn);
      if (!execution) return { error: 'ExecutionDoesNotExist', message: `Execution Does Not Exist: '${String(request.executionArn)}'` };
      return {
        ...summary(api, execution),
        input: execution.input,
        ...(execution.failure ? { error: execution.failure.error, cause: execution.failure.cause } : {}),
      };
    }
    case 'ListExecutions':
      return listExecutions(api, request);
    default:
      return { error: 'UnknownOperationException', message: `The local endpoint does not implement ${operation || '(no X-Amz-Target)'}` };
  }
}

function listExecutions(api: StepFunctionsApi, request: Json): Json | ApiError {
  if (request.stateMachineArn !== api.stateMachineArn) {
    return { error: 'StateMachineDoesNotExist', message: `State Machine Does Not Exist: '${String(request.stateMachineArn)}'` };
  }
  const filter = request.statusFilter;
  if (filter !== undefined && !STATUSES.includes(String(filter))) {
    return { error: 'ValidationException', message: `Value '${String(filter)}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${STATUSES.join(', ')}]` };
  }
  const maxResults = request.maxResults === undefined || request.maxResults === 0 ? 100 : Number(request.maxResults);
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 1000) {
    return { error: 'ValidationException', message: `Value '${String(request.maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value between 0 and 1000` };
  }
  const listing = `${api.stateMachineArn}|${String(filter ?? '')}`;
  let offset = 0;
  if (request.nextToken !== undefined) {
    const token = decodeToken(request.nextToken);
    if (!token || token.listing !== listing) return { error: 'InvalidToken', message: 'Invalid Token' };
    offset = token.offset;
  }
  // Newest first; the order of executions started at the same virtual second is their start order, reversed.
  const matching = api.executions
    .map((execution, index) => ({ execution, index }))
    .filter(({ execution }) => filter === undefined || execution.status === filter)
    .sort((a, b) => b.execution.startedAt - a.execution.startedAt || b.index - a.index)
    .map(({ execution }) => execution);
  const page = matching.slice(offset, offset + maxResults);
  const nextOffset = offset + page.length;
  return {
    executions: page.map((execution) => summary(api, execution)),
    ...(nextOffset < matching.length ? { nextToken: Buffer.from(JSON.stringify({ listing, offset: nextOffset })).toString('base64') } : {}),
  };
}

function summary(api: StepFunctionsApi, execution: ListedExecution): Json {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: api.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: execution.startedAt,
    ...(execution.endedAt !== undefined ? { stopDate: execution.endedAt } : {}),
  };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function decodeToken(raw: unknown): { listing: string; offset: number } | undefined {
  try {
    const token = JSON.parse(Buffer.from(String(raw), 'base64').toString('utf8')) as { listing?: unknown; offset?: unknown };
    return typeof token.listing === 'string' && Number.isInteger(token.offset) ? { listing: token.listing, offset: token.offset as number } : undefined;
  } catch {
    return undefined;
  }
}
