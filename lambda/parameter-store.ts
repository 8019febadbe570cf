/**
 * What the handler keeps in Parameter Store, below its PARAMETER_PREFIX:
 * - `requests/<execution base name>`: the secrets of one waiting request (the ResponseURL and, in
 *   long-wait mode, the WaitCondition handle URL), so that neither travels through Step Functions,
 *   whose execution input and history are readable by anyone allowed states:DescribeExecution;
 * - `results/<results key>`: the attributes of a successful answer, for a later Update or rollback
 *   that returns to a task whose record the service no longer has (its graph was deleted).
 */
import {
  DeleteParameterCommand, GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient,
} from '@aws-sdk/client-ssm';
import { errorText, isObject, log } from './common';
import { Env, ParameterPaths } from '../src/runtime/constants';

export interface RequestSecrets {
  readonly ResponseURL: string;
  /** Long-wait mode: the WaitCondition handle to signal at the end. */
  readonly SignalURL?: string;
}

let client: SSMClient | undefined;

function ssm(): SSMClient {
  // Parameter Store throttles bursts (many waiters created at once): the SDK's backoff rides them out.
  client ??= new SSMClient({ maxAttempts: 4, requestHandler: { requestTimeout: 5000, connectionTimeout: 3000, throwOnRequestTimeout: true } });
  return client;
}

function prefix(): string {
  const value = process.env[Env.PARAMETER_PREFIX];
  if (!value) throw new Error(`The waiter function has no ${Env.PARAMETER_PREFIX} environment variable`);
  return value;
}

export const requestParameterName = (executionBase: string) => `${prefix()}/${ParameterPaths.REQUESTS}/${executionBase}`;
const resultsParameterName = (key: string) => `${prefix()}/${ParameterPaths.RESULTS}/${key}`;

export async function storeRequestSecrets(name: string, secrets: RequestSecrets): Promise<void> {
  await ssm().send(new PutParameterCommand({ Name: name, Value: JSON.stringify(secrets), Type: 'String', Overwrite: true }));
}

/** The secrets of a request, or undefined when they are gone (answered already, or the request was abandoned). */
export async function readRequestSecrets(name: string): Promise<RequestSecrets | undefined> {
  const value = await readParameter(name);
  if (value === undefined) return undefined;
  const parsed: unknown = JSON.parse(value);
  if (!isObject(parsed) || typeof parsed.ResponseURL !== 'string') throw new Error(`Parameter ${name} holds no ResponseURL`);
  return { ResponseURL: parsed.ResponseURL, ...(typeof parsed.SignalURL === 'string' ? { SignalURL: parsed.SignalURL } : {}) };
}

export async function storeResults(key: string, data: Record<string, string>): Promise<void> {
  try {
    await ssm().send(new PutParameterCommand({ Name: resultsParameterName(key), Value: JSON.stringify(data), Type: 'String', Overwrite: true }));
  } catch (error) {
    // Only a later re-read of a vanished task needs them; the answer itself has gone out.
    log('WARN', 'Could not keep the results of the answer', { error: errorText(error) });
  }
}

export async function readResults(key: string): Promise<Record<string, string> | undefined> {
  const value = await readParameter(resultsParameterName(key));
  if (value === undefined) return undefined;
  const parsed: unknown = JSON.parse(value);
  return isObject(parsed) ? Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)])) : undefined;
}

export const forgetResults = (key: string) => forget(resultsParameterName(key));

/** Deletes a parameter; one that is gone already is fine, and a failure only leaves a harmless parameter behind. */
export async function forget(name: string): Promise<void> {
  try {
    await ssm().send(new DeleteParameterCommand({ Name: name }));
  } catch (error) {
    if (isNotFound(error)) return;
    log('WARN', 'Could not delete a parameter', { error: errorText(error) });
  }
}

async function readParameter(name: string): Promise<string | undefined> {
  try {
    const output = await ssm().send(new GetParameterCommand({ Name: name }));
    return output.Parameter?.Value;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

const isNotFound = (error: unknown) => error instanceof ParameterNotFound || (error as Error | undefined)?.name === 'ParameterNotFound';
