import { AnswerRefused, putAnswer } from './cloudformation-response';
import { ANSWER_NOT_DELIVERED } from '../src/constants';
import { show } from '../src/validation';

export type Json = Record<string, unknown>;

/** Identifies a failed Create: the Delete that follows it has nothing to clean up. */
export const CREATE_FAILED_ID = 'neptune-graph-export-waiter-create-failed';

const PUT_ATTEMPTS = 3;
const PUT_TIMEOUT_MS = 8000;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
export const text = (value: unknown) => (typeof value === 'string' ? value : value === undefined || value === null ? '' : show(value));

// Logging: JSON lines; URLs are never written, whatever an error message contains.

const URL_PATTERN = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
const SIGNATURE_PATTERN = /(X-Amz-[A-Za-z-]+=)[^&\s"']+/g;

export function redact(value: string): string {
  return value.replace(URL_PATTERN, '<url>').replace(SIGNATURE_PATTERN, '$1<redacted>');
}

export function log(level: 'INFO' | 'WARN' | 'ERROR', message: string, fields: Json = {}): void {
  const line = redact(JSON.stringify({ level, message, ...fields }));
  (level === 'INFO' ? console.log : console.error)(line);
}

export const errorText = (error: unknown) => redact(error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/**
 * PUTs a body to a presigned URL (a custom-resource ResponseURL or a WaitCondition handle),
 * retrying transient failures; throws AnswerNotDelivered when it cannot.
 */
export async function deliver(url: string, body: string, description: Json): Promise<void> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= PUT_ATTEMPTS; attempt++) {
    try {
      await putAnswer(url, body, PUT_TIMEOUT_MS);
      log('INFO', 'Answer delivered', { ...description, attempt });
      return;
    } catch (error) {
      lastError = error;
      const retryable = !(error instanceof AnswerRefused) || error.retryable;
      log('WARN', 'Answer not delivered', { ...description, attempt, retryable, error: errorText(error) });
      if (!retryable) break;
      if (attempt < PUT_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt * Math.random()));
    }
  }
  const failure = new Error(`Could not deliver the answer for request ${text(description.requestId)}: ${errorText(lastError)}`);
  failure.name = ANSWER_NOT_DELIVERED;
  throw failure;
}
