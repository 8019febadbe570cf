/**
 * lambda/common.ts: redaction of every log line and error text (a ResponseURL is a bearer
 * credential for the stack operation), and delivery with retries.
 */
import { signaturesIn, useHandlerEnvironment } from './fixtures';
import { deliver, errorText, log, redact } from '../../lambda/common';
import { ANSWER_NOT_DELIVERED } from '../../src/runtime/constants';

const env = useHandlerEnvironment();

describe('redact', () => {
  test('replaces URLs', () => {
    const url = env.raw.url();
    expect(redact(`PUT ${url} failed`)).toBe('PUT <url> failed');
  });

  test('replaces URLs inside JSON strings, up to the closing quote', () => {
    const url = env.raw.url();
    expect(redact(JSON.stringify({ url, next: 'kept' }))).toBe('{"url":"<url>","next":"kept"}');
  });

  test('removes X-Amz-* values outside a URL', () => {
    const text = 'query X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2Fx&X-Amz-Security-Token=IQoJb3JpZ2lu';
    const redacted = redact(text);
    expect(redacted).not.toMatch(/deadbeef|AKIA|IQoJb3JpZ2lu/);
    expect(redacted).toContain('X-Amz-Signature=<redacted>');
  });

  test('leaves text without URLs alone', () => {
    expect(redact('Export task t-0123456789 ended with status FAILED')).toBe('Export task t-0123456789 ended with status FAILED');
  });

  test.each([
    ['a long run of letters before ://', `${'a'.repeat(200_000)}://x`],
    // 30 kB: the text a hostile RequestId or event key can put in one log line.
    ['separators with no scheme before them', '://'.repeat(10_000)],
    ['a long X-Amz- parameter name', `X-Amz-${'A'.repeat(200_000)}=1`],
  ])('takes time linear in the text: %s', (_name, text) => {
    const started = Date.now();
    redact(text);
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('log and errorText', () => {
  test('a logged field or error holding a URL is written without it', () => {
    const url = env.raw.url();
    log('ERROR', 'failed', { error: errorText(new Error(`PUT ${url} refused`)), url });

    const line = env.logLines[env.logLines.length - 1];
    expect(JSON.parse(line)).toEqual({ level: 'ERROR', message: 'failed', error: 'Error: PUT <url> refused', url: '<url>' });
    expect(line).not.toContain(signaturesIn(url)[0]);
  });
});

describe('deliver', () => {
  test('throws AnswerNotDelivered naming the request, not the URL, after three refusals', async () => {
    env.raw.statuses = [503, 503, 503];
    const url = env.raw.url();
    const error = await deliver(url, '{}', { requestId: 'r-1' }).catch((e: Error) => e);

    expect(error).toMatchObject({ name: ANSWER_NOT_DELIVERED, message: expect.stringContaining('request r-1') });
    expect((error as Error).message).not.toContain('127.0.0.1');
    expect(env.raw.requests).toHaveLength(3);
  });
});
