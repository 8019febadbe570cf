/**
 * lambda/cloudformation-request.ts and the entry point (lambda/export-waiter.lambda.ts): whatever the
 * event, the handler never throws, answers every request that carries a usable ResponseURL exactly
 * once, and never logs a ResponseURL.
 */
import { CONTEXT, handlerRequests, Json, TASK_ID, useHandlerEnvironment, WAITER_PROPERTIES } from './fixtures';
import type { CustomResourceEvent } from '../../harness/cloudformation';
import { handler } from '../../lambda/export-waiter.lambda';
import { ANSWER_MARKER, ResourceProperties } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const { createEvent, event, answerFor, startCalls, requestParameters } = handlerRequests(env);

describe('invalid requests', () => {
  afterEach(() => {
    // Refused before anything was started or stored.
    expect(startCalls()).toEqual([]);
    expect(requestParameters()).toEqual([]);
  });

  test('fails when RequestType is unknown, naming it', async () => {
    const e = { ...createEvent(), RequestType: 'Upsert' };
    await handler(e, CONTEXT);

    const answer = answerFor(e as unknown as CustomResourceEvent);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('Unknown RequestType "Upsert"');
  });
});

describe('events nobody can be answered', () => {
  test('an event without a ResponseURL is logged and ignored', async () => {
    const e: Json = createEvent();
    delete e.ResponseURL;
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();

    expect(env.sfn.calls).toEqual([]);
    expect(env.receiver.attempts(e.RequestId)).toEqual([]);
    expect(env.logLines.some((line) => line.includes('nobody to answer'))).toBe(true);
  });

  test.each([
    ['null', null],
    ['a string', 'x'],
    ['an array', []],
    ['a number', 42],
    ['undefined', undefined],
    ['an empty object', {}],
  ])('%s as the event does not throw', async (_name, e) => {
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    expect(env.sfn.calls).toEqual([]);
    expect(env.ssm.calls).toEqual([]);
  });
});

describe('the handler never throws on a CloudFormation event', () => {
  test.each(['ResourceProperties', 'RequestType'])('a %s getter that throws still gets a FAILED answer', async (property) => {
    const e = createEvent();
    Object.defineProperty(e, property, {
      get() {
        throw new Error('unreadable');
      },
    });
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('unreadable');
    expect(startCalls()).toEqual([]);
  });

  test.each(['RequestId', 'StackId', 'PhysicalResourceId', 'ResponseURL', ANSWER_MARKER])(
    'a %s getter that throws does not make the handler throw',
    async (property) => {
      const e = createEvent();
      Object.defineProperty(e, property, {
        get() {
          throw new Error('unreadable');
        },
      });
      await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    },
  );

  test.each(['not a url', 'ftp://example.com/answer', 'http://', '/relative/path?X-Amz-Signature=abc'])(
    'a ResponseURL %j that is not a usable URL does not make the handler throw',
    async (responseUrl) => {
      env.secrets.push(responseUrl);
      const e = { ...event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID }), ResponseURL: responseUrl };
      await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    },
  );

  test('a ResponseURL that refuses every answer does not make the handler throw', async () => {
    env.raw.statuses = [500, 500, 500];
    const e = { ...event('Delete', WAITER_PROPERTIES, { physicalResourceId: TASK_ID }), ResponseURL: env.raw.url() };
    await expect(handler(e, CONTEXT)).resolves.toBeUndefined();
    expect(env.raw.requests).toHaveLength(3);
  });

  test('a 100 kB property value is refused in well under a second, quoted short', async () => {
    // Redacting URLs from a log line must not backtrack over a long run of letters.
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: `t-${'a'.repeat(100_000)}://` });
    const started = Date.now();
    await handler(e, CONTEXT);

    expect(Date.now() - started).toBeLessThan(1_000);
    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason.length).toBeLessThan(400);
  });
});

describe('logs', () => {
  test('the handler logged, and no line contains a ResponseURL or its signature', () => {
    // Runs last: by now every test above has invoked the handler with ResponseURLs.
    expect(env.logLines.length).toBeGreaterThan(20);
    expect(env.receiver.secrets.length).toBeGreaterThan(10);
    expect(env.leakingLines()).toEqual([]);
  });
});
