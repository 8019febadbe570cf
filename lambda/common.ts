import { AnswerRefused, putAnswer } from './cloudformation-response';
import { ANSWER_NOT_DELIVERED } from '../src/runtime/constants';
import { show } from '../src/runtime/validation';

export type Json = Record<string, unknown>;

/** Identifies a failed Create: the Delete that follows it has nothing to clean up. */
export const CREATE_FAILED_ID = 'neptune-graph-export-waiter-create-failed';

const PUT_ATTEMPTS = 3;
const PUT_TIMEOUT_MS = 8000;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
export const text = (value: unknown) => (typeof value === 'string' ? value : value === undefined || value === null ? '' : show(value));

/** Reads a field of an event as text; a field that cannot be read (a throwing getter) reads as ''. */
export function textField(event: Json, key: string): string {
  try {
    return text(event[key]);
  } catch {
    return '';
  }
}

/** Reads a string field of an event; anything else, or a field that cannot be read, reads as ''. */
export function stringField(event: Json, key: string): string {
  try {
    const value = event[key];
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

// Logging: JSON lines; URLs are never written, whatever an error message contains.

// Both run in time linear in the text: a pattern such as /[a-z][a-z0-9+.-]*:\/\// is tried from every
// position of a long run of letters and backtracks over the rest of it each time, so one log line with
// a 100 kB field (a hostile RequestId, a key of the event) took tens of seconds.
const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
const URL_END = /[\s"'<>]/;
// Parameter names are short (X-Amz-Signature, X-Amz-Security-Token): bounding them bounds the backtracking.
const SIGNATURE_PATTERN = /(X-Amz-[A-Za-z-]{1,40}=)[^&\s"']+/g;

export function redact(value: string): string {
  return redactUrls(value).replace(SIGNATURE_PATTERN, '$1<redacted>');
}

/** Replaces every `scheme://...` (the scheme starts with a letter; the URL ends at a space or quote) with <url>. */
function redactUrls(value: string): string {
  let result = '';
  let copied = 0;
  let separator = value.indexOf('://');
  while (separator !== -1) {
    let start = separator;
    while (start > copied && SCHEME_CHAR.test(value[start - 1])) start--;
    while (start < separator && !LETTER.test(value[start])) start++;
    // No scheme before the separator: not a URL, and no reason to read on (doing so for every bare
    // "://" made a text full of them quadratic).
    if (start === separator) {
      separator = value.indexOf('://', separator + 1);
      continue;
    }
    let end = separator + 3;
    while (end < value.length && !URL_END.test(value[end])) end++;
    if (end > separator + 3) {
      result += `${value.slice(copied, start)}<url>`;
      copied = end;
    }
    separator = value.indexOf('://', Math.max(separator + 1, copied));
  }
  return result + value.slice(copied);
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
