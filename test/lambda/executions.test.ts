/**
 * lambda/executions.ts: starting the wait loop (its retry rules are exercised through the handler in
 * test/lambda/start-wait.test.ts) and stopping the executions whose requests CloudFormation abandoned.
 */
import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PARAMETER_PREFIX, STATE_MACHINE_ARN, useHandlerEnvironment } from './fixtures';
import { startExecution, stopSupersededExecutions } from '../../lambda/executions';
import { executionBaseName, resourceKey } from '../../lambda/physical-id';
import { ParameterPaths } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/0a1b2c3d-0000-4000-8000-000000000000';
const KEY = resourceKey(STACK_ID, 'Waiter');
const OTHER_KEY = resourceKey(STACK_ID, 'OtherWaiter');
const parameterOf = (base: string) => `${PARAMETER_PREFIX}/${ParameterPaths.REQUESTS}/${base}`;

function storeParameter(base: string): void {
  env.ssm.parameters.set(parameterOf(base), { value: '{"ResponseURL":"https://example.invalid/"}', type: 'String', version: 1, lastModified: Date.now() });
}

describe('stopSupersededExecutions', () => {
  test('stops every running execution of the resource, continuations included, except the current request\'s, and forgets their requests', async () => {
    const abandoned = executionBaseName(KEY, 'request-1');
    const current = executionBaseName(KEY, 'request-2');
    const other = executionBaseName(OTHER_KEY, 'request-3');
    for (const base of [abandoned, current, other]) storeParameter(base);
    env.sfn.addRunning(abandoned);
    env.sfn.addRunning(`${abandoned}-1`);
    env.sfn.addRunning(current);
    env.sfn.addRunning(`${current}-1`);
    env.sfn.addRunning(other);
    const ended = env.sfn.addRunning(executionBaseName(KEY, 'request-0'));
    env.sfn.finish(ended.name);

    const stopped = await stopSupersededExecutions(STATE_MACHINE_ARN, KEY, current);

    expect(stopped).toBe(2);
    expect(env.sfn.executions.map((e) => [e.name, e.status])).toEqual([
      [abandoned, 'ABORTED'], [`${abandoned}-1`, 'ABORTED'], [current, 'RUNNING'], [`${current}-1`, 'RUNNING'], [other, 'RUNNING'], [ended.name, 'SUCCEEDED'],
    ]);
    expect([...env.ssm.parameters.keys()].sort()).toEqual([parameterOf(current), parameterOf(other)].sort());
  });

  test('finds the resource\'s execution behind pages of other executions', async () => {
    const abandoned = executionBaseName(KEY, 'oldest');
    env.sfn.addRunning(abandoned);
    for (let i = 0; i < 250; i++) env.sfn.addRunning(executionBaseName(OTHER_KEY, `request-${i}`));

    expect(await stopSupersededExecutions(STATE_MACHINE_ARN, KEY, undefined)).toBe(1);
    expect(env.sfn.execution(abandoned).status).toBe('ABORTED');
    expect(env.sfn.callsOf('ListExecutions').length).toBeGreaterThanOrEqual(3);
    expect(env.sfn.callsOf('ListExecutions')[0].body).toMatchObject({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING' });
  });

  test('never throws: a StopExecution that fails ends the search, and is logged', async () => {
    env.sfn.addRunning(executionBaseName(KEY, 'request-1'));
    env.sfn.fault({ operation: 'StopExecution', kind: 'error', status: 400, type: 'AccessDeniedException', message: 'not allowed' });

    await expect(stopSupersededExecutions(STATE_MACHINE_ARN, KEY, undefined)).resolves.toBe(0);
    expect(env.logLines.some((line) => line.includes('Could not look for executions of abandoned requests') && line.includes('AccessDeniedException'))).toBe(true);
  });

  test('a state machine that does not exist stops nothing and does not throw', async () => {
    await expect(stopSupersededExecutions(`${STATE_MACHINE_ARN}-gone`, KEY, undefined)).resolves.toBe(0);
  });
});

describe('startExecution', () => {
  const command = (name: string, input = '{}') => new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name, input });

  const wanted = () => true;

  test("returns 'started' once the execution runs", async () => {
    await expect(startExecution(command('first'), {}, performance.now() + 30_000, wanted)).resolves.toBe('started');
    expect(env.sfn.execution('first').status).toBe('RUNNING');
  });

  test("returns 'exists' when an execution of that name exists with other input: someone answers already", async () => {
    env.sfn.addRunning('taken', { other: true });
    await expect(startExecution(command('taken'), {}, performance.now() + 30_000, wanted)).resolves.toBe('exists');
  });

  test("starts nothing, and returns 'answered-already', once the request was answered (out of time)", async () => {
    await expect(startExecution(command('too-late'), {}, performance.now() + 30_000, () => false)).resolves.toBe('answered-already');
    expect(env.sfn.callsOf('StartExecution')).toHaveLength(0);
  });

  test('throws what Step Functions refused, at once', async () => {
    const error = await startExecution(command('bad name!'), {}, performance.now() + 30_000, wanted).catch((e: Error) => e);

    expect(error).toMatchObject({ name: 'InvalidName' });
    expect(error).not.toBeInstanceOf(ExecutionAlreadyExists);
    expect(env.sfn.callsOf('StartExecution')).toHaveLength(1);
  });

  test('does not try again when the answer is due before another attempt could end', async () => {
    env.sfn.fault({ operation: 'StartExecution', kind: 'error', status: 500, type: 'InternalFailure', message: 'boom' });

    await expect(startExecution(command('late'), {}, performance.now() + 1_000, wanted)).rejects.toMatchObject({ name: 'InternalFailure' });
    expect(env.sfn.callsOf('StartExecution')).toHaveLength(1);
  });
});
