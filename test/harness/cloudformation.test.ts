import * as http from 'node:http';
import * as net from 'node:net';
import { CloudFormationReceiver, CustomResourceEvent } from '../../harness/cloudformation';

/** What our little client saw: an HTTP status, or the socket error when there was none. */
interface PutResult {
  status?: number;
  error?: string;
}

interface PutOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Send the body in two writes without Content-Length, so Node uses Transfer-Encoding: chunked. */
  chunked?: boolean;
  /** Replace path+query (byte-for-byte) instead of using the URL's own. */
  pathAndQuery?: string;
}

/**
 * A small real client, answering the way a correct handler must: PUT to the exact path and
 * query of the ResponseURL, Content-Length set, no Content-Type.
 */
function put(responseUrl: string, body: string | Buffer, options: PutOptions = {}): Promise<PutResult> {
  const url = new URL(responseUrl);
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers: Record<string, string> = { ...options.headers };
  if (!options.chunked) headers['Content-Length'] = String(payload.length);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'PUT',
        // url.pathname + url.search keeps the percent-encoding exactly as issued.
        path: options.pathAndQuery ?? url.pathname + url.search,
        headers,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    if (options.chunked) {
      const half = Math.floor(payload.length / 2);
      req.write(payload.subarray(0, half));
      req.end(payload.subarray(half));
    } else {
      req.end(payload);
    }
  });
}

/** A raw HTTP request for what node:http will not send (a PUT with a body but no Content-Length). */
function rawRequest(responseUrl: string, head: string, body: string): Promise<PutResult> {
  const url = new URL(responseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(head.replace('{PATH}', url.pathname + url.search) + '\r\n\r\n' + body);
      // Half-close: without a length the server only knows the body ended when we stop sending.
      socket.end();
    });
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? { status: Number(m[1]) } : { error: 'no response' });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code }));
  });
}

function goodAnswer(event: CustomResourceEvent, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Status: 'SUCCESS',
    PhysicalResourceId: 't-abcdefghij',
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: { Format: 'PARQUET', VertexCount: '12' },
    ...overrides,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let cfn: CloudFormationReceiver;

beforeEach(async () => {
  cfn = await CloudFormationReceiver.start();
});

afterEach(async () => {
  await cfn.stop();
});

describe('events', () => {
  test('Create carries exactly the fields CloudFormation sends', () => {
    const e = cfn.event('Create', { GraphId: 'g-0123456789', Nested: { n: 1 }, Count: 3 });
    expect(Object.keys(e).sort()).toEqual([
      'LogicalResourceId', 'RequestId', 'RequestType', 'ResourceProperties', 'ResourceType', 'ResponseURL', 'ServiceToken', 'StackId',
    ]);
    expect(e.RequestType).toBe('Create');
    expect(e.ResourceType).toBe('Custom::Test');
    expect(e.LogicalResourceId).toBe('Waiter');
    expect(e.ServiceToken).toBe('arn:aws:lambda:us-east-1:123456789012:function:waiter');
    expect(e.RequestId).toMatch(UUID);
    expect(e.StackId).toMatch(/^arn:aws:cloudformation:us-east-1:123456789012:stack\/harness-stack\/[0-9a-f-]{36}$/);
    // ServiceToken is included as CloudFormation does; other values pass through uncoerced.
    expect(e.ResourceProperties).toEqual({ ServiceToken: e.ServiceToken, GraphId: 'g-0123456789', Nested: { n: 1 }, Count: 3 });
  });

  test('ResponseURL looks like a presigned S3 URL and needs byte-exact encoding', () => {
    const e = cfn.event('Create', {}, { logicalResourceId: 'MyWaiter' });
    const url = new URL(e.ResponseURL);
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.pathname).toBe(
      '/cloudformation-custom-resource-response-useast1/' + encodeURIComponent(e.StackId) + '%7CMyWaiter%7C' + e.RequestId,
    );
    expect(url.pathname).toContain('%3A');
    expect(url.pathname).toContain('%2F');
    expect(url.search).toMatch(
      /^\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-SignedHeaders=host&X-Amz-Expires=7199&X-Amz-Credential=AKIA[A-Z0-9]{16}%2F\d{8}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=[0-9a-f]{64}$/,
    );
  });

  test('Update and Delete carry the physical id; Update carries the old properties', () => {
    const u = cfn.event('Update', { A: '2' }, { physicalResourceId: 'pid', oldProperties: { A: '1' }, resourceType: 'Custom::X', requestId: 'r-1' });
    expect(u.PhysicalResourceId).toBe('pid');
    expect(u.RequestId).toBe('r-1');
    expect(u.ResourceType).toBe('Custom::X');
    expect(u.OldResourceProperties).toEqual({ ServiceToken: u.ServiceToken, A: '1' });
    const d = cfn.event('Delete', { A: '2' }, { physicalResourceId: 'pid' });
    expect(d.PhysicalResourceId).toBe('pid');
    expect(d).not.toHaveProperty('OldResourceProperties');
  });

  test('Update/Delete require physicalResourceId; misuse of options throws', () => {
    expect(() => cfn.event('Update', {})).toThrow(/physicalResourceId/);
    expect(() => cfn.event('Delete', {})).toThrow(/physicalResourceId/);
    expect(() => cfn.event('Create', {}, { physicalResourceId: 'x' })).toThrow(/Create/);
    expect(() => cfn.event('Delete', {}, { physicalResourceId: 'x', oldProperties: {} })).toThrow(/Update/);
    cfn.event('Create', {}, { requestId: 'dup' });
    expect(() => cfn.event('Create', {}, { requestId: 'dup' })).toThrow(/already issued/);
  });

  test('secrets lists every ResponseURL and its signature; signatures are unique', () => {
    const a = cfn.event('Create', {});
    const b = cfn.event('Create', {});
    const sigA = new URL(a.ResponseURL).searchParams.get('X-Amz-Signature')!;
    const sigB = new URL(b.ResponseURL).searchParams.get('X-Amz-Signature')!;
    expect(sigA).toMatch(/^[0-9a-f]{64}$/);
    expect(sigA).not.toBe(sigB);
    expect(cfn.secrets).toEqual([a.ResponseURL, sigA, b.ResponseURL, sigB]);
  });
});

describe('a correct answer', () => {
  test('SUCCESS is accepted with 200 and no violations', async () => {
    const e = cfn.event('Create', {});
    const before = Date.now();
    const body = JSON.stringify(goodAnswer(e));
    expect(await put(e.ResponseURL, body)).toEqual({ status: 200 });
    const answer = await cfn.answerFor(e.RequestId, 1000);
    expect(answer).toEqual({
      requestId: e.RequestId,
      receivedAt: expect.any(Number),
      body: JSON.parse(body),
      rawBytes: Buffer.byteLength(body),
      violations: [],
    });
    expect(answer.receivedAt).toBeGreaterThanOrEqual(before);
    expect(cfn.answers()).toEqual([answer]);
    expect(cfn.answers(e.RequestId)).toEqual([answer]);
    expect(cfn.answers('other')).toEqual([]);
    expect(cfn.violations).toEqual([]);
    expect(cfn.unanswered()).toEqual([]);
    expect(cfn.attempts()).toEqual([expect.objectContaining({ status: 200, accepted: true, method: 'PUT' })]);
  });

  test('answerFor waits for an answer that arrives later', async () => {
    const e = cfn.event('Create', {});
    const pending = cfn.answerFor(e.RequestId, 5000);
    expect(cfn.unanswered()).toEqual([e.RequestId]);
    await put(e.ResponseURL, JSON.stringify(goodAnswer(e)));
    await expect(pending).resolves.toMatchObject({ requestId: e.RequestId, violations: [] });
  });

  test('FAILED with a Reason, NoEcho and an empty Content-Type are fine', async () => {
    const e = cfn.event('Delete', {}, { physicalResourceId: 'pid' });
    const body = goodAnswer(e, { Status: 'FAILED', Reason: 'export failed', NoEcho: true, Data: undefined });
    expect(await put(e.ResponseURL, JSON.stringify(body), { headers: { 'Content-Type': '' } })).toEqual({ status: 200 });
    expect((await cfn.answerFor(e.RequestId, 1000)).violations).toEqual([]);
    expect(cfn.violations).toEqual([]);
  });

  test('a body of exactly 4096 bytes is accepted', async () => {
    const e = cfn.event('Create', {});
    const base = JSON.stringify(goodAnswer(e, { Data: { Pad: '' } }));
    const body = JSON.stringify(goodAnswer(e, { Data: { Pad: 'x'.repeat(4096 - base.length) } }));
    expect(body.length).toBe(4096);
    expect(await put(e.ResponseURL, body)).toEqual({ status: 200 });
    expect(cfn.violations).toEqual([]);
  });
});

describe('body contract violations are recorded, and the answer is still accepted (S3 takes any body)', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['Status missing', { Status: undefined }, /^Status is undefined/],
    ['Status not SUCCESS|FAILED', { Status: 'FAILURE' }, /^Status is "FAILURE" \(must be "SUCCESS" or "FAILED"\)$/],
    ['FAILED without Reason', { Status: 'FAILED' }, /^Reason missing or empty on a FAILED answer$/],
    ['FAILED with empty Reason', { Status: 'FAILED', Reason: '' }, /^Reason missing or empty on a FAILED answer$/],
    ['Reason not a string', { Status: 'FAILED', Reason: { message: 'x' } }, /^Reason is not a string \(got object\)$/],
    ['PhysicalResourceId missing', { PhysicalResourceId: undefined }, /^PhysicalResourceId missing$/],
    ['PhysicalResourceId empty', { PhysicalResourceId: '' }, /^PhysicalResourceId is empty$/],
    ['PhysicalResourceId not a string', { PhysicalResourceId: 42 }, /^PhysicalResourceId is not a string \(got number\)$/],
    // 513 two-byte characters: 513 characters but 1026 bytes; the limit is in bytes.
    ['PhysicalResourceId over 1024 bytes', { PhysicalResourceId: 'é'.repeat(513) }, /^PhysicalResourceId is 1026 bytes \(limit 1024\)$/],
    ['StackId not echoed', { StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/other/x' }, /^StackId is ".*other\/x", expected ".*harness-stack/],
    ['RequestId not echoed', { RequestId: undefined }, /^RequestId is undefined, expected "/],
    ['LogicalResourceId not echoed', { LogicalResourceId: 'waiter' }, /^LogicalResourceId is "waiter", expected "Waiter" from the event$/],
    ['Data not an object', { Data: ['a'] }, /^Data is not an object \(got array\)$/],
    ['Data a string', { Data: '{"a":1}' }, /^Data is not an object \(got string\)$/],
    ['NoEcho not a boolean', { NoEcho: 'true' }, /^NoEcho is not a boolean \(got string\)$/],
  ];

  test.each(cases)('%s', async (_name, overrides, expected) => {
    const e = cfn.event('Create', {});
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e, overrides)))).toEqual({ status: 200 });
    const answer = await cfn.answerFor(e.RequestId, 1000);
    expect(answer.violations).toHaveLength(1);
    expect(answer.violations[0]).toMatch(expected);
    expect(cfn.violations).toEqual([`${e.RequestId}: ${answer.violations[0]}`]);
  });

  test('several violations in one answer are all recorded', async () => {
    const e = cfn.event('Create', {});
    await put(e.ResponseURL, JSON.stringify({ Status: 'FAILED', RequestId: e.RequestId }));
    const { violations } = await cfn.answerFor(e.RequestId, 1000);
    expect(violations).toEqual([
      'Reason missing or empty on a FAILED answer',
      'PhysicalResourceId missing',
      expect.stringMatching(/^StackId is undefined/),
      expect.stringMatching(/^LogicalResourceId is undefined/),
    ]);
  });

  test('a body that is not JSON is recorded as the raw string', async () => {
    const e = cfn.event('Create', {});
    expect(await put(e.ResponseURL, 'Status=SUCCESS')).toEqual({ status: 200 });
    const answer = await cfn.answerFor(e.RequestId, 1000);
    expect(answer.body).toBe('Status=SUCCESS');
    expect(answer.violations).toEqual(['body is not valid JSON']);
  });

  test('an empty body is not JSON either', async () => {
    const e = cfn.event('Create', {});
    expect(await put(e.ResponseURL, '')).toEqual({ status: 200 });
    expect((await cfn.answerFor(e.RequestId, 1000)).violations).toEqual(['body is not valid JSON']);
  });

  test('a JSON body that is not an object', async () => {
    const e = cfn.event('Create', {});
    await put(e.ResponseURL, JSON.stringify([goodAnswer(e)]));
    expect((await cfn.answerFor(e.RequestId, 1000)).violations).toEqual(['body is not a JSON object (got array)']);
  });

  test('a Content-Type is a violation but still accepted', async () => {
    const e = cfn.event('Create', {});
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e)), { headers: { 'Content-Type': 'application/json' } })).toEqual({ status: 200 });
    expect((await cfn.answerFor(e.RequestId, 1000)).violations).toEqual(['Content-Type is "application/json" (must be absent or empty)']);
  });
});

describe('answers S3 refuses are recorded as attempts, not accepted', () => {
  test('a body over 4096 bytes gets 400', async () => {
    const e = cfn.event('Create', {});
    const body = JSON.stringify(goodAnswer(e, { Data: { Pad: 'x'.repeat(5000) } }));
    expect(await put(e.ResponseURL, body)).toEqual({ status: 400 });
    expect(cfn.answers()).toEqual([]);
    expect(cfn.attempts()).toEqual([expect.objectContaining({ requestId: e.RequestId, status: 400, accepted: false, rawBytes: body.length })]);
    expect(cfn.violations).toEqual([`${e.RequestId}: body is ${body.length} bytes (limit 4096)`]);
    await expect(cfn.answerFor(e.RequestId, 50)).rejects.toThrow(/no accepted answer/);
  });

  test('a chunked PUT gets 411', async () => {
    const e = cfn.event('Create', {});
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e)), { chunked: true })).toEqual({ status: 411 });
    expect(cfn.answers()).toEqual([]);
    expect(cfn.violations).toEqual([`${e.RequestId}: Transfer-Encoding: chunked (S3 refuses it with 411; send Content-Length)`]);
    expect(cfn.attempts()[0]).toMatchObject({ status: 411, accepted: false, body: goodAnswer(e) });
  });

  test('a PUT without Content-Length gets 411', async () => {
    const e = cfn.event('Create', {});
    const result = await rawRequest(e.ResponseURL, 'PUT {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close', '');
    expect(result).toEqual({ status: 411 });
    expect(cfn.answers()).toEqual([]);
    expect(cfn.violations).toContain(`${e.RequestId}: Content-Length header missing`);
  });

  test('a wrong signature gets 403', async () => {
    const e = cfn.event('Create', {});
    const wrong = e.ResponseURL.replace(/X-Amz-Signature=[0-9a-f]{64}/, 'X-Amz-Signature=' + '0'.repeat(64));
    expect(await put(wrong, JSON.stringify(goodAnswer(e)))).toEqual({ status: 403 });
    expect(cfn.answers()).toEqual([]);
    expect(cfn.violations).toEqual([`${e.RequestId}: X-Amz-Signature does not match the issued ResponseURL`]);
  });

  test("another request's signature gets 403", async () => {
    const e = cfn.event('Create', {});
    const other = cfn.event('Create', {});
    const borrowed = e.ResponseURL.split('?')[0] + '?' + other.ResponseURL.split('?')[1];
    expect(await put(borrowed, JSON.stringify(goodAnswer(e)))).toEqual({ status: 403 });
    expect(cfn.violations).toEqual([`${e.RequestId}: X-Amz-Signature does not match the issued ResponseURL`]);
  });

  test('a missing query gets 403', async () => {
    const e = cfn.event('Create', {});
    expect(await put(e.ResponseURL.split('?')[0], JSON.stringify(goodAnswer(e)))).toEqual({ status: 403 });
    expect(cfn.violations).toEqual([`${e.RequestId}: X-Amz-Signature missing from the query string`]);
  });

  test('a reordered query gets 403', async () => {
    const e = cfn.event('Create', {});
    const [path, query] = e.ResponseURL.split('?');
    const reordered = path + '?' + query.split('&').reverse().join('&');
    expect(await put(reordered, JSON.stringify(goodAnswer(e)))).toEqual({ status: 403 });
    expect(cfn.violations).toEqual([`${e.RequestId}: query string differs from the issued ResponseURL (it must be sent byte-for-byte)`]);
  });

  test('a path that was decoded (%3A to :) gets 403 and is attributed to its request', async () => {
    const e = cfn.event('Create', {});
    const url = new URL(e.ResponseURL);
    const decoded = url.pathname.replace(/%3A/g, ':') + url.search;
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e)), { pathAndQuery: decoded })).toEqual({ status: 403 });
    expect(cfn.violations).toEqual([expect.stringMatching(new RegExp(`^${e.RequestId}: path ".*" is not byte-for-byte the issued ResponseURL path \\(it was re-encoded\\)$`))]);
  });

  test('an unknown URL gets 403', async () => {
    const e = cfn.event('Create', {});
    const url = new URL(e.ResponseURL);
    expect(await put(e.ResponseURL, '{}', { pathAndQuery: '/somewhere/else' + url.search })).toEqual({ status: 403 });
    expect(cfn.violations[0]).toBe('unknown-request: unknown ResponseURL path "/somewhere/else"');
    expect(cfn.answers()).toEqual([]);
  });

  test('a method other than PUT gets 403', async () => {
    const e = cfn.event('Create', {});
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e)), { method: 'POST' })).toEqual({ status: 403 });
    expect(cfn.violations).toEqual([`${e.RequestId}: method POST: answers must be sent with PUT`]);
    expect(cfn.answers()).toEqual([]);
  });

  test('a connection that dies mid-body is recorded, not accepted', async () => {
    const e = cfn.event('Create', {});
    // 10 of the 100 promised bytes, then the client stops sending (Node's server answers 400 to the half-closed socket).
    await rawRequest(e.ResponseURL, 'PUT {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100', '{"Status":');
    // The request's close event can land just after the socket's; give it a moment.
    await new Promise((r) => setTimeout(r, 50));
    expect(cfn.violations).toEqual([`${e.RequestId}: connection closed before the body was complete (10 bytes received)`]);
    expect(cfn.answers()).toEqual([]);
  });

  test('a request Node cannot parse is recorded and answered 400', async () => {
    const e = cfn.event('Create', {});
    const result = await rawRequest(e.ResponseURL, 'PUT {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 3', '{}');
    expect(result).toEqual({ status: 400 });
    expect(cfn.violations).toEqual([expect.stringMatching(/^unknown-request: malformed HTTP request \(HPE_/)]);
  });

  test('violation messages never contain the URL or signature', async () => {
    const e = cfn.event('Create', {});
    const wrong = e.ResponseURL.replace(/X-Amz-Signature=[0-9a-f]{64}/, 'X-Amz-Signature=' + '0'.repeat(64));
    await put(wrong, '{}', { method: 'POST', headers: { 'Content-Type': 'text/plain' } });
    await put(e.ResponseURL.split('?')[0], '{}');
    expect(cfn.violations.length).toBeGreaterThan(3);
    for (const v of cfn.violations) {
      for (const secret of cfn.secrets) expect(v).not.toContain(secret);
    }
  });
});

describe('double answers', () => {
  test('a second accepted answer is flagged; answerFor keeps the first', async () => {
    const e = cfn.event('Create', {});
    await put(e.ResponseURL, JSON.stringify(goodAnswer(e)));
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e, { Status: 'FAILED', Reason: 'late' })))).toEqual({ status: 200 });
    const answers = cfn.answers(e.RequestId);
    expect(answers).toHaveLength(2);
    expect(answers[0].violations).toEqual([]);
    expect(answers[1].violations).toEqual(['answered more than once (accepted answer #2)']);
    expect((await cfn.answerFor(e.RequestId, 100)).body).toMatchObject({ Status: 'SUCCESS' });
    expect(cfn.violations).toEqual([`${e.RequestId}: answered more than once (accepted answer #2)`]);
  });

  test('a retry after a refused attempt is not a double answer', async () => {
    const e = cfn.event('Create', {});
    await put(e.ResponseURL, JSON.stringify(goodAnswer(e)), { chunked: true });
    await put(e.ResponseURL, JSON.stringify(goodAnswer(e)));
    expect(cfn.answers()).toHaveLength(1);
    expect(cfn.violations).toHaveLength(1); // only the chunked one
  });
});

describe('faults', () => {
  test('status5xx answers 503 the given number of times, then the receiver recovers', async () => {
    const e = cfn.event('Create', {});
    cfn.fault({ kind: 'status5xx', times: 2 });
    const body = JSON.stringify(goodAnswer(e));
    expect(await put(e.ResponseURL, body)).toEqual({ status: 503 });
    expect(await put(e.ResponseURL, body)).toEqual({ status: 503 });
    expect(cfn.answers()).toEqual([]);
    expect(await put(e.ResponseURL, body)).toEqual({ status: 200 });
    expect(cfn.attempts(e.RequestId).map((a) => [a.status, a.accepted, a.fault])).toEqual([
      [503, false, 'status5xx'],
      [503, false, 'status5xx'],
      [200, true, undefined],
    ]);
    expect(cfn.answers()).toHaveLength(1);
    expect(cfn.violations).toEqual([]); // retries after 5xx are not double answers
  });

  test('an unlimited fault lasts until clearFaults', async () => {
    const e = cfn.event('Create', {});
    cfn.fault({ kind: 'status5xx' });
    const body = JSON.stringify(goodAnswer(e));
    for (let i = 0; i < 3; i++) expect(await put(e.ResponseURL, body)).toEqual({ status: 503 });
    cfn.clearFaults();
    expect(await put(e.ResponseURL, body)).toEqual({ status: 200 });
  });

  test('a fault scoped to one request id leaves others alone', async () => {
    const a = cfn.event('Create', {});
    const b = cfn.event('Create', {});
    cfn.fault({ kind: 'status5xx', requestId: a.RequestId });
    expect(await put(b.ResponseURL, JSON.stringify(goodAnswer(b)))).toEqual({ status: 200 });
    expect(await put(a.ResponseURL, JSON.stringify(goodAnswer(a)))).toEqual({ status: 503 });
  });

  test('a faulted attempt still records the violations in its body', async () => {
    const e = cfn.event('Create', {});
    cfn.fault({ kind: 'status5xx', times: 1 });
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e, { Status: 'FAILED' })))).toEqual({ status: 503 });
    expect(cfn.violations).toEqual([`${e.RequestId}: Reason missing or empty on a FAILED answer`]);
  });

  test('reset destroys the socket; the next attempt goes through', async () => {
    const e = cfn.event('Create', {});
    cfn.fault({ kind: 'reset', times: 1 });
    const body = JSON.stringify(goodAnswer(e));
    const first = await put(e.ResponseURL, body);
    expect(first.status).toBeUndefined();
    expect(first.error).toMatch(/ECONNRESET|socket hang up/);
    expect(cfn.attempts(e.RequestId)[0]).toMatchObject({ status: 'reset', accepted: false, fault: 'reset' });
    expect(cfn.answers()).toEqual([]);
    expect(await put(e.ResponseURL, body)).toEqual({ status: 200 });
    expect(cfn.answers()).toHaveLength(1);
  });

  test('fault times must be a positive integer', () => {
    expect(() => cfn.fault({ kind: 'reset', times: 0 })).toThrow(/positive integer/);
  });
});

describe('answerFor', () => {
  test('rejects on timeout', async () => {
    const e = cfn.event('Create', {});
    const start = Date.now();
    await expect(cfn.answerFor(e.RequestId, 100)).rejects.toThrow(`no accepted answer for request ${e.RequestId} within 100 ms`);
    expect(Date.now() - start).toBeGreaterThanOrEqual(90);
  });

  test('rejects at once for a request id never issued', async () => {
    await expect(cfn.answerFor('nope', 10_000)).rejects.toThrow(/never issued/);
  });

  test('rejects pending waits when the receiver stops', async () => {
    const e = cfn.event('Create', {});
    const pending = cfn.answerFor(e.RequestId, 10_000);
    await cfn.stop();
    await expect(pending).rejects.toThrow(/stopped/);
  });
});

describe('WaitCondition handles and signals', () => {
  const goodSignal = (overrides: Record<string, unknown> = {}) =>
    JSON.stringify({ Status: 'SUCCESS', UniqueId: 't-abcdefghij', Data: '|a|b|', Reason: 'Export succeeded', ...overrides });

  test('a handle URL looks like a presigned wait-condition URL, is stable per handle and is a secret', () => {
    const url = cfn.waitConditionHandle('ExportSignal1234abcd');
    expect(cfn.waitConditionHandle('ExportSignal1234abcd')).toBe(url);
    const parsed = new URL(url);
    expect(parsed.pathname.startsWith('/cloudformation-waitcondition-us-east-1/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/harness-stack/')).toBe(true);
    expect(parsed.pathname.endsWith('/ExportSignal1234abcd')).toBe(true);
    expect(parsed.search).toMatch(/X-Amz-Expires=86399&.*X-Amz-Signature=[0-9a-f]{64}$/);
    const other = cfn.waitConditionHandle('Other');
    expect(other).not.toBe(url);
    expect(cfn.secrets).toEqual([url, parsed.searchParams.get('X-Amz-Signature'), other, new URL(other).searchParams.get('X-Amz-Signature')]);
  });

  test('a correct signal is accepted, recorded apart from answers, and rendered as GetAtt Data', async () => {
    const url = cfn.waitConditionHandle('Handle');
    const pending = cfn.signalFor('Handle', 5000);
    expect(await put(url, goodSignal())).toEqual({ status: 200 });
    const signal = await pending;
    expect(signal).toEqual({
      handleLogicalId: 'Handle',
      receivedAt: expect.any(Number),
      body: JSON.parse(goodSignal()),
      rawBytes: Buffer.byteLength(goodSignal()),
      violations: [],
    });
    expect(cfn.signals()).toEqual([signal]);
    expect(cfn.signals('Other')).toEqual([]);
    expect(cfn.answers()).toEqual([]);
    expect(cfn.attempts()).toEqual([]);
    expect(cfn.violations).toEqual([]);
    expect(cfn.waitConditionData('Handle')).toBe('{"t-abcdefghij":"|a|b|"}');
  });

  test('FAILURE with an empty Data and an empty Content-Type is fine', async () => {
    const url = cfn.waitConditionHandle('Handle');
    expect(await put(url, goodSignal({ Status: 'FAILURE', Data: '', Reason: 'failed' }), { headers: { 'Content-Type': '' } })).toEqual({ status: 200 });
    expect(cfn.violations).toEqual([]);
  });

  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['Status FAILED (the custom-resource word)', { Status: 'FAILED' }, 'Status is "FAILED" (must be "SUCCESS" or "FAILURE")'],
    ['no UniqueId', { UniqueId: undefined }, 'UniqueId missing'],
    ['an empty UniqueId', { UniqueId: '' }, 'UniqueId is empty'],
    ['a numeric UniqueId', { UniqueId: 7 }, 'UniqueId is not a string (got number)'],
    ['Data as an object', { Data: { a: 1 } }, 'Data is not a string (got object)'],
    ['no Data', { Data: undefined }, 'Data missing'],
    ['no Reason', { Reason: undefined }, 'Reason missing'],
  ];
  test.each(cases)('%s is a violation', async (_name, overrides, expected) => {
    const url = cfn.waitConditionHandle('Handle');
    expect(await put(url, goodSignal(overrides))).toEqual({ status: 200 });
    expect(cfn.violations).toEqual([`signal Handle: ${expected}`]);
  });

  test('a repeated signal with the same UniqueId that says the same is allowed', async () => {
    const url = cfn.waitConditionHandle('Handle');
    await put(url, goodSignal());
    await put(url, goodSignal());
    expect(cfn.violations).toEqual([]);
    expect(cfn.signals('Handle')).toHaveLength(2);
  });

  test('a second signal with the same UniqueId but other data is a violation; the data keeps the latest', async () => {
    const url = cfn.waitConditionHandle('Handle');
    await put(url, goodSignal());
    await put(url, goodSignal({ Data: '|c|' }));
    await put(url, goodSignal({ UniqueId: 'other', Data: 'x' }));
    expect(cfn.violations).toEqual(['signal Handle: signalled again with UniqueId "t-abcdefghij" but another Status or Data (accepted signal #2)']);
    expect(JSON.parse(cfn.waitConditionData('Handle'))).toEqual({ 't-abcdefghij': '|c|', 'other': 'x' });
    expect((await cfn.signalFor('Handle', 10)).body).toMatchObject({ Data: '|a|b|' });
  });

  test('transport rules are those of answers: PUT, Content-Length, no Content-Type, the exact URL', async () => {
    const url = cfn.waitConditionHandle('Handle');
    const { pathname, search } = new URL(url);
    expect(await put(url, goodSignal(), { method: 'POST' })).toEqual({ status: 403 });
    expect(await put(url, goodSignal(), { chunked: true })).toEqual({ status: 411 });
    expect(await put(url, goodSignal(), { pathAndQuery: decodeURIComponent(pathname) + search })).toEqual({ status: 403 });
    expect(await put(url, goodSignal(), { pathAndQuery: pathname + search.replace(/Signature=[0-9a-f]/, 'Signature=z') })).toEqual({ status: 403 });
    expect(await put(url, goodSignal(), { headers: { 'Content-Type': 'application/json' } })).toEqual({ status: 200 });
    expect(cfn.signals()).toHaveLength(1);
    expect(cfn.signalAttempts().map((a) => [a.status, a.accepted])).toEqual([[403, false], [411, false], [403, false], [403, false], [200, true]]);
    expect(cfn.violations).toEqual([
      'signal Handle: method POST: signals must be sent with PUT',
      'signal Handle: Transfer-Encoding: chunked (S3 refuses it with 411; send Content-Length)',
      expect.stringMatching(/^signal Handle: path .* is not byte-for-byte the issued WaitConditionHandle URL path/),
      'signal Handle: X-Amz-Signature does not match the issued WaitConditionHandle URL',
      'signal Handle: Content-Type is "application/json" (must be absent or empty)',
    ]);
    for (const v of cfn.violations) for (const secret of cfn.secrets) expect(v).not.toContain(secret);
  });

  test('a signal to a handle never issued gets 403', async () => {
    const url = cfn.waitConditionHandle('Handle');
    expect(await put(url.replace('/Handle?', '/Nope?'), goodSignal())).toEqual({ status: 403 });
    expect(cfn.violations).toEqual([expect.stringMatching(/^signal unknown-handle: unknown WaitConditionHandle path/)]);
  });

  test('faults can target one handle; answers are not affected', async () => {
    const url = cfn.waitConditionHandle('Handle');
    const e = cfn.event('Create', {});
    cfn.fault({ kind: 'status5xx', times: 1, handleLogicalId: 'Handle' });
    expect(await put(e.ResponseURL, JSON.stringify(goodAnswer(e)))).toEqual({ status: 200 });
    expect(await put(url, goodSignal())).toEqual({ status: 503 });
    expect(await put(url, goodSignal())).toEqual({ status: 200 });
    expect(cfn.signalAttempts().map((a) => a.fault)).toEqual(['status5xx', undefined]);
    expect(cfn.violations).toEqual([]);
    expect(() => cfn.fault({ kind: 'reset', requestId: 'r', handleLogicalId: 'h' })).toThrow(/not both/);
  });

  test('signalFor rejects on timeout, for a handle never issued, and when the receiver stops', async () => {
    cfn.waitConditionHandle('Handle');
    await expect(cfn.signalFor('Handle', 50)).rejects.toThrow('no accepted signal to WaitConditionHandle Handle within 50 ms');
    await expect(cfn.signalFor('Nope', 10_000)).rejects.toThrow(/never issued/);
    expect(() => cfn.waitConditionData('Handle')).toThrow(/no signal/);
    const pending = cfn.signalFor('Handle', 10_000);
    await cfn.stop();
    await expect(pending).rejects.toThrow(/stopped/);
  });
});
