/**
 * lambda/parameter-store.ts: where the handler keeps a request's secrets and the results of its
 * answers, in the Parameter Store emulator (which enforces the service's name and size rules).
 */
import { PARAMETER_PREFIX, useHandlerEnvironment } from './fixtures';
import {
  forget, forgetResults, readRequestSecrets, readResults, requestParameterName, storeRequestSecrets, storeResults,
} from '../../lambda/parameter-store';
import { executionBaseName, resourceKey, resultsKey } from '../../lambda/physical-id';
import { Env, ParameterPaths } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/0a1b2c3d-0000-4000-8000-000000000000';
const BASE = executionBaseName(resourceKey(STACK_ID, 'Waiter'), '5d295008-4a6d-4cb9-bfa1-28d99f2645c1');
const RESULTS_KEY = resultsKey(STACK_ID, 'Waiter', 't-0123456789');

test('request secrets live at <prefix>/requests/<execution name>, and read back as stored', async () => {
  const name = requestParameterName(BASE);
  const responseUrl = env.raw.url();
  const signalUrl = env.receiver.waitConditionHandle('Handle');
  await storeRequestSecrets(name, { ResponseURL: responseUrl, SignalURL: signalUrl });

  expect(name).toBe(`${PARAMETER_PREFIX}/${ParameterPaths.REQUESTS}/${BASE}`);
  expect(env.ssm.parameters.get(name)).toMatchObject({ type: 'String', version: 1 });
  await expect(readRequestSecrets(name)).resolves.toEqual({ ResponseURL: responseUrl, SignalURL: signalUrl });

  // CloudFormation redelivers a request: storing it again overwrites.
  await storeRequestSecrets(name, { ResponseURL: responseUrl });
  await expect(readRequestSecrets(name)).resolves.toEqual({ ResponseURL: responseUrl });
});

test('secrets that are gone read as undefined; a parameter without a ResponseURL is an error', async () => {
  const name = requestParameterName(BASE);
  await expect(readRequestSecrets(name)).resolves.toBeUndefined();
  env.ssm.parameters.set(name, { value: '{"SignalURL":"x"}', type: 'String', version: 1, lastModified: Date.now() });
  await expect(readRequestSecrets(name)).rejects.toThrow('holds no ResponseURL');
});

test('results live at <prefix>/results/<key>, read back as strings, and are forgotten with the resource', async () => {
  await storeResults(RESULTS_KEY, { TaskId: 't-0123456789', NumEdgesWritten: '5' });

  expect([...env.ssm.parameters.keys()]).toEqual([`${PARAMETER_PREFIX}/${ParameterPaths.RESULTS}/${RESULTS_KEY}`]);
  await expect(readResults(RESULTS_KEY)).resolves.toEqual({ TaskId: 't-0123456789', NumEdgesWritten: '5' });
  await forgetResults(RESULTS_KEY);
  await expect(readResults(RESULTS_KEY)).resolves.toBeUndefined();
});

test('results that cannot be kept are only logged: the answer went out already', async () => {
  env.ssm.fault({ operation: 'PutParameter', kind: 'throttle', times: 1 });
  env.ssm.fault({ operation: 'PutParameter', kind: 'internal' });
  env.ssm.clearFaults();
  // Too large for a Standard parameter: refused without retries.
  await expect(storeResults(RESULTS_KEY, { TaskId: 'x'.repeat(5000) })).resolves.toBeUndefined();

  expect(env.ssm.parameters.size).toBe(0);
  expect(env.logLines.some((line) => line.includes('Could not keep the results') && line.includes('ValidationException'))).toBe(true);
});

test('forgetting a parameter that is gone is fine', async () => {
  await expect(forget(requestParameterName(BASE))).resolves.toBeUndefined();
  expect(env.ssm.calls.map((c) => [c.operation, c.errorType])).toEqual([['DeleteParameter', 'ParameterNotFound']]);
});

test('without PARAMETER_PREFIX, naming a parameter fails, naming the variable', () => {
  env.setEnv(Env.PARAMETER_PREFIX, undefined);
  try {
    expect(() => requestParameterName(BASE)).toThrow(Env.PARAMETER_PREFIX);
  } finally {
    env.setEnv(Env.PARAMETER_PREFIX, PARAMETER_PREFIX);
  }
});
