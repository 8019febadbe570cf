import * as http from 'node:http';
import * as https from 'node:https';

/** The fields CloudFormation expects in a custom-resource answer. */
export interface CloudFormationAnswer {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  NoEcho?: boolean;
  Data?: Record<string, string>;
}

/** CloudFormation refuses answers larger than this. */
export const MAX_ANSWER_BYTES = 4096;
const MAX_PHYSICAL_ID_BYTES = 1024;
const ELLIPSIS = '...';

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

function truncate(text: string, maxBytes: number): string {
  if (bytes(text) <= maxBytes) return text;
  let cut = text.slice(0, Math.max(0, maxBytes - ELLIPSIS.length));
  while (bytes(cut) + ELLIPSIS.length > maxBytes) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

/**
 * Serializes an answer within CloudFormation's 4096-byte limit: the reason is shortened first,
 * then the longest attribute values, so an oversized answer is never sent (it would be refused
 * and the stack would hang).
 */
export function serializeAnswer(answer: CloudFormationAnswer): string {
  const fitted: CloudFormationAnswer = {
    ...answer,
    PhysicalResourceId: truncate(answer.PhysicalResourceId || 'none', MAX_PHYSICAL_ID_BYTES),
    Data: answer.Data ? { ...answer.Data } : undefined,
  };
  let body = JSON.stringify(fitted);
  let excess = bytes(body) - MAX_ANSWER_BYTES;
  if (excess > 0 && fitted.Reason) {
    fitted.Reason = truncate(fitted.Reason, Math.max(64, bytes(fitted.Reason) - excess - 8));
    body = JSON.stringify(fitted);
    excess = bytes(body) - MAX_ANSWER_BYTES;
  }
  while (excess > 0 && fitted.Data && Object.keys(fitted.Data).length > 0) {
    const data: Record<string, string> = fitted.Data;
    const longest = Object.keys(data).reduce((a, b) => (bytes(data[a]) >= bytes(data[b]) ? a : b));
    if (data[longest] === '') {
      // Every value is already empty: only then drop keys (a missing key fails its Fn::GetAtt).
      delete data[longest];
    } else {
      const room = bytes(data[longest]) - excess - 8;
      data[longest] = room > 16 ? truncate(data[longest], room) : '';
    }
    body = JSON.stringify(fitted);
    excess = bytes(body) - MAX_ANSWER_BYTES;
  }
  if (excess > 0) {
    // Only the echoed identifiers are left: shorten the reason to the bone.
    fitted.Reason = fitted.Reason ? truncate(fitted.Reason, 64) : undefined;
    body = JSON.stringify(fitted);
  }
  return body;
}

export class AnswerRefused extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'AnswerRefused';
  }
}

/**
 * PUTs the answer to the presigned ResponseURL: path and query byte for byte (re-encoding would
 * break the signature), Content-Length set (S3 refuses chunked uploads) and an empty Content-Type
 * (the signature does not cover one). Error messages never contain the URL.
 */
export function putAnswer(responseUrl: string, body: string, timeoutMs: number): Promise<void> {
  const match = /^(https?):\/\/([^/?#]+)([^#]*)$/.exec(responseUrl);
  if (!match) return Promise.reject(new AnswerRefused('the ResponseURL is not an http(s) URL', false));
  const [, protocol, authority, pathAndQuery] = match;
  const { hostname, port } = new URL(`${protocol}://${authority}`);
  const transport = protocol === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      {
        method: 'PUT',
        hostname: hostname.replace(/^\[(.*)\]$/, '$1'),
        port: port || undefined,
        path: pathAndQuery || '/',
        headers: { 'content-type': '', 'content-length': bytes(body) },
        timeout: timeoutMs,
      },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve();
        } else {
          const retryable = status >= 500 || status === 429 || status === 408;
          reject(new AnswerRefused(`CloudFormation's response endpoint answered HTTP ${status}`, retryable));
        }
      },
    );
    request.on('timeout', () => request.destroy(new AnswerRefused(`no reply within ${timeoutMs} ms`, true)));
    request.on('error', (error: NodeJS.ErrnoException) => {
      reject(error instanceof AnswerRefused ? error : new AnswerRefused(`connection failed (${error.code ?? error.name})`, true));
    });
    request.end(body);
  });
}
