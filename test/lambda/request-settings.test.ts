/**
 * lambda/request-settings.ts: a Create or Update with invalid properties, or without the fields an
 * answer must echo, is answered FAILED with a reason that names the property and shows the value,
 * before anything is started or stored.
 */
import {
  answerOf, CONTEXT, exportRequest, graphExportEvent, graphExportProperties, handlerRequests, Json, useHandlerEnvironment, WAITER_PROPERTIES,
} from './fixtures';
import type { CustomResourceEvent } from '../../harness/cloudformation';
import { CREATE_FAILED_ID } from '../../lambda/common';
import { handler } from '../../lambda/export-waiter.lambda';
import { ExportFields, Limits, MAX_TIMEOUT_SECONDS, ResourceProperties } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const { createEvent, event, answerFor, startCalls, requestParameters } = handlerRequests(env);

describe('invalid requests', () => {
  afterEach(() => {
    // Refused before anything was started or stored.
    expect(startCalls()).toEqual([]);
    expect(requestParameters()).toEqual([]);
  });

  test.each([
    ['missing', undefined, 'got undefined'],
    ['a string', 'x', 'got "x"'],
    ['an array', [], 'got []'],
    ['null', null, 'got null'],
  ])('fails when ResourceProperties is %s', async (_name, properties, shown) => {
    const e: Json = createEvent();
    e.ResourceProperties = properties;
    await handler(e, CONTEXT);

    const answer = answerFor(e as CustomResourceEvent);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('ResourceProperties');
    expect(answer.Reason).toContain(shown);
  });

  test.each([
    ['T-BAD', '"T-BAD"'],
    ['t-123', '"t-123"'],
    ['', '""'],
    [42, '42'],
    [undefined, 'undefined'],
  ])(`fails when ${ResourceProperties.TASK_IDENTIFIER} is %j`, async (taskIdentifier, shown) => {
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: taskIdentifier });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(new RegExp(`^${ResourceProperties.TASK_IDENTIFIER} .*got ${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });

  test.each([
    ['99999', '"99999"'],
    ['abc', '"abc"'],
    [59, '59'],
    ['59', '"59"'],
    ['1800.5', '"1800.5"'],
    [-1, '-1'],
  ])(`fails when ${ResourceProperties.TIMEOUT_SECONDS} is %j`, async (timeoutSeconds, shown) => {
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.TIMEOUT_SECONDS]: timeoutSeconds });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain(`${ResourceProperties.TIMEOUT_SECONDS} must be a whole number of seconds from ${Limits.MIN_TIMEOUT} to ${MAX_TIMEOUT_SECONDS}, got ${shown}`);
  });

  test.each([
    [ResourceProperties.MIN_POLL_SECONDS, '0'],
    [ResourceProperties.MAX_POLL_SECONDS, '7200'],
  ])('fails when %s is out of range', async (property, value) => {
    const e = createEvent({ ...WAITER_PROPERTIES, [property]: value });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain(`${property} must be a whole number of seconds from 1 to 3600, got "${value}"`);
  });

  test(`fails when ${ResourceProperties.MIN_POLL_SECONDS} exceeds ${ResourceProperties.MAX_POLL_SECONDS}`, async () => {
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.MIN_POLL_SECONDS]: '120', [ResourceProperties.MAX_POLL_SECONDS]: '60' });
    await handler(e, CONTEXT);

    const answer = answerFor(e);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe(`${ResourceProperties.MIN_POLL_SECONDS} (120 s) must not exceed ${ResourceProperties.MAX_POLL_SECONDS} (60 s)`);
  });

  test.each(['StackId', 'RequestId', 'LogicalResourceId'])('fails when %s is blank: the answer could not be matched to the request', async (field) => {
    const e: Json = createEvent();
    const requestId = e.RequestId;
    e[field] = '  ';
    await handler(e, CONTEXT);

    // The stand-in finds the request by its ResponseURL; the body echoes the blank field as sent.
    const attempts = env.receiver.attempts(requestId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(`${field} must be the non-empty string CloudFormation sends`) });
  });

  test('fails a Create with the physical id that the Delete after it treats as nothing to clean up', async () => {
    const e = createEvent({ ...WAITER_PROPERTIES, [ResourceProperties.TASK_IDENTIFIER]: 'T-BAD' });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: CREATE_FAILED_ID });
  });

  test('fails an Update with invalid properties and keeps the old physical id', async () => {
    const e = event('Update', { ...WAITER_PROPERTIES, [ResourceProperties.TIMEOUT_SECONDS]: '99999' }, { physicalResourceId: 't-oldoldold1', oldProperties: WAITER_PROPERTIES });
    await handler(e, CONTEXT);

    expect(answerFor(e)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 't-oldoldold1' });
  });

  test('fails a GraphExport whose export request is invalid, naming the field', async () => {
    const e = graphExportEvent(env.receiver, 'Create', graphExportProperties(exportRequest({ [ExportFields.FORMAT]: 'xml' })));
    await handler(e, CONTEXT);

    expect(answerOf(env.receiver, e)).toMatchObject({ Status: 'FAILED', Reason: 'Export.Format must be an export format such as PARQUET or CSV (upper-case letters, digits and underscores), got "xml"', PhysicalResourceId: CREATE_FAILED_ID });
  });
});
