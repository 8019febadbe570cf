/**
 * lambda/cloudformation-response.ts: the answer's body (within CloudFormation's 4096 bytes) and its
 * PUT to the presigned ResponseURL, checked byte for byte on a raw HTTP recorder.
 */
import { CONTEXT, SIGNED_PATH, TASK_ID, useHandlerEnvironment } from './fixtures';
import { AnswerRefused, CloudFormationAnswer, MAX_ANSWER_BYTES, putAnswer, serializeAnswer } from '../../lambda/cloudformation-response';
import { handler } from '../../lambda/export-waiter.lambda';
import { ResourceAttributes } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const ATTRIBUTE_NAMES = Object.values(ResourceAttributes);

describe('serializeAnswer', () => {
  const base: CloudFormationAnswer = {
    Status: 'FAILED',
    PhysicalResourceId: TASK_ID,
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/0a1b2c3d-0000-4000-8000-000000000000',
    RequestId: 'd6e1b2a4-0000-4000-8000-000000000001',
    LogicalResourceId: 'Waiter',
  };
  const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
  const data = (count: number, size: number) => Object.fromEntries(ATTRIBUTE_NAMES.slice(0, count).map((name) => [name, 'v'.repeat(size)]));

  function expectValid(body: string): Record<string, any> {
    expect(bytes(body)).toBeLessThanOrEqual(MAX_ANSWER_BYTES);
    const parsed = JSON.parse(body);
    expect(parsed).toMatchObject({
      Status: base.Status,
      PhysicalResourceId: base.PhysicalResourceId,
      StackId: base.StackId,
      RequestId: base.RequestId,
      LogicalResourceId: base.LogicalResourceId,
    });
    return parsed;
  }

  test('leaves an answer that fits unchanged', () => {
    const answer = { ...base, Reason: 'short', Data: data(12, 20) };
    expect(JSON.parse(serializeAnswer(answer))).toEqual(answer);
  });

  test('shortens a 10 kB Reason to fit in 4096 bytes', () => {
    const parsed = expectValid(serializeAnswer({ ...base, Reason: 'r'.repeat(10_240) }));
    expect(parsed.Reason).toMatch(/^r+\.\.\.$/);
    expect(bytes(parsed.Reason)).toBeGreaterThan(3000);
  });

  test('shortens the Reason before the attributes', () => {
    const parsed = expectValid(serializeAnswer({ ...base, Reason: 'r'.repeat(10_240), Data: data(1, 3072) }));
    expect(parsed.Data.TaskId).toBe('v'.repeat(3072));
    expect(parsed.Reason).toMatch(/^r+\.\.\.$/);
  });

  test('shortens 3 kB attribute values once the Reason is short, and keeps every key', () => {
    const parsed = expectValid(serializeAnswer({ ...base, Reason: 'r'.repeat(10_240), Data: data(12, 3072) }));
    expect(Object.keys(parsed.Data).sort()).toEqual([...ATTRIBUTE_NAMES].sort());
    expect(bytes(parsed.Reason)).toBeLessThanOrEqual(64);
    for (const value of Object.values(parsed.Data)) expect(typeof value).toBe('string');
  });

  test('fits a Reason of multi-byte characters and characters JSON escapes', () => {
    expectValid(serializeAnswer({ ...base, Reason: '€😀"\\\n'.repeat(3000) }));
  });

  test('shortens a PhysicalResourceId to at most 1024 bytes', () => {
    const body = serializeAnswer({ ...base, Status: 'SUCCESS', PhysicalResourceId: 'p'.repeat(2000) });
    expect(bytes(JSON.parse(body).PhysicalResourceId)).toBeLessThanOrEqual(1024);
    expect(bytes(body)).toBeLessThanOrEqual(MAX_ANSWER_BYTES);
  });

  test('never sends an empty PhysicalResourceId', () => {
    expect(JSON.parse(serializeAnswer({ ...base, PhysicalResourceId: '' })).PhysicalResourceId).not.toBe('');
  });
});

describe('putAnswer', () => {
  test('keeps the path and query byte for byte', async () => {
    await putAnswer(env.raw.url(), '{}', 2000);

    expect(env.raw.requests).toHaveLength(1);
    expect(env.raw.requests[0].url).toBe(SIGNED_PATH);
    expect(env.raw.requests[0].url).toContain('%3A');
    expect(env.raw.requests[0].url).toContain('%2F');
    expect(env.raw.requests[0].url).toContain('%7C');
  });

  test('sends a PUT with Content-Length, an empty Content-Type and no chunked encoding', async () => {
    const body = JSON.stringify({ Status: 'SUCCESS', Reason: 'ünïcödé' });
    await putAnswer(env.raw.url(), body, 2000);

    const [request] = env.raw.requests;
    expect(request.method).toBe('PUT');
    expect(request.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect([undefined, '']).toContain(request.headers['content-type']);
    expect(request.headers['transfer-encoding']).toBeUndefined();
    expect(request.body).toBe(body);
  });

  test('honours an http:// URL with a custom port', async () => {
    // A signature of realistic length: a short one would turn up inside unrelated ids in the log check.
    const pathAndQuery = '/answer?X-Amz-Signature=5b1d6c0e9a4f2873e6d0c1b2a39f8e7d6c5b4a3928170f6e5d4c3b2a19081726';
    const url = env.raw.url(pathAndQuery);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    await putAnswer(url, '{}', 2000);

    expect(env.raw.requests.map((r) => r.url)).toEqual([pathAndQuery]);
  });

  test('refuses a URL that is not http(s), without retrying and without quoting it', async () => {
    const promise = putAnswer('ftp://example.com/x?X-Amz-Signature=abc', '{}', 2000);

    await expect(promise).rejects.toBeInstanceOf(AnswerRefused);
    await expect(promise).rejects.toMatchObject({ retryable: false });
    await expect(promise).rejects.toThrow(/^(?!.*example\.com)(?!.*abc)/);
  });

  test('reports a 5xx as retryable and a 403 as not, without the URL', async () => {
    env.raw.statuses = [502, 403];
    const url = env.raw.url();
    const first = await putAnswer(url, '{}', 2000).catch((e: AnswerRefused) => e);
    const second = await putAnswer(url, '{}', 2000).catch((e: AnswerRefused) => e);

    expect(first).toMatchObject({ name: 'AnswerRefused', retryable: true, message: expect.stringContaining('HTTP 502') });
    expect(second).toMatchObject({ name: 'AnswerRefused', retryable: false, message: expect.stringContaining('HTTP 403') });
    for (const error of [first, second]) expect((error as Error).message).not.toContain('127.0.0.1');
  });

  test('reports a connection that cannot be made as retryable, without the URL', async () => {
    const error = await putAnswer('http://127.0.0.1:1/answer?X-Amz-Signature=00ff', '{}', 2000).catch((e: AnswerRefused) => e);

    expect(error).toMatchObject({ name: 'AnswerRefused', retryable: true, message: expect.stringContaining('connection failed') });
    expect((error as Error).message).not.toContain('00ff');
  });

  test('is used for every answer: the handler\'s Delete answer reaches the recorder as one PUT', async () => {
    const event = { ...env.receiver.event('Delete', {}, { physicalResourceId: TASK_ID }), ResponseURL: env.raw.url() };
    await handler(event, CONTEXT);

    expect(env.raw.requests).toHaveLength(1);
    expect(JSON.parse(env.raw.requests[0].body)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
  });
});
