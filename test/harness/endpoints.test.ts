/**
 * The local Step Functions endpoint and the SSM Parameter Store emulator, driven by the real AWS SDK v3
 * clients the handler uses (found through AWS_ENDPOINT_URL_SFN / AWS_ENDPOINT_URL_SSM, as in Lambda).
 * The state machines here are small stand-ins given through `transformDefinition`: they exercise the
 * harness, not the product.
 */
import {
  DescribeExecutionCommand, ExecutionAlreadyExists, ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DeleteParameterCommand, GetParameterCommand, ParameterAlreadyExists, ParameterNotFound, PutParameterCommand, SSMClient,
} from '@aws-sdk/client-ssm';
import { StateMachineDefinition } from '../../harness/local-deployment';
import { deploymentsStoppedAfterEach, TASK_ID, waiterStack } from '../e2e/helpers';

const deploy = deploymentsStoppedAfterEach();
const CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };
const clients: Array<{ destroy(): void }> = [];
afterEach(() => clients.splice(0).forEach((c) => c.destroy()));

/** Clients created while a deployment runs find its endpoints through the environment, as the handler does. */
function sfn(): SFNClient {
  const client = new SFNClient({ region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });
  clients.push(client);
  return client;
}
function ssm(): SSMClient {
  const client = new SSMClient({ region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });
  clients.push(client);
  return client;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const giveUpAt = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > giveUpAt) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const replaceWith = (definition: StateMachineDefinition) => () => definition;

/** Each execution starts the next generation (continue-as-new) until generation 2. */
const CHAIN: StateMachineDefinition = {
  StartAt: 'Check',
  States: {
    Check: {
      Type: 'Choice',
      Choices: [{ Variable: '$$.Execution.Input.generation', NumericLessThan: 2, Next: 'Continue' }],
      Default: 'Done',
    },
    Continue: {
      Type: 'Task',
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: {
        'StateMachineArn.$': '$$.Execution.Input.machine',
        'Name.$': "States.Format('chain-{}', States.MathAdd($$.Execution.Input.generation, 1))",
        'Input': {
          'machine.$': '$$.Execution.Input.machine',
          'generation.$': 'States.MathAdd($$.Execution.Input.generation, 1)',
        },
      },
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
};

/** Reads the task (retrying any error), then reads it again. */
const READ_TWICE: StateMachineDefinition = {
  StartAt: 'Read',
  States: {
    Read: {
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:neptunegraph:getExportTask',
      Parameters: { TaskIdentifier: TASK_ID },
      Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 5 }],
      Next: 'ReadAgain',
    },
    ReadAgain: {
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:neptunegraph:getExportTask',
      Parameters: { TaskIdentifier: TASK_ID },
      End: true,
    },
  },
};

describe('Step Functions endpoint', () => {
  test('states:startExecution continues as a new execution whose input is the serialized object', async () => {
    const d = await deploy(waiterStack(), { transformDefinition: replaceWith(CHAIN) });
    await sfn().send(new StartExecutionCommand({ stateMachineArn: d.stateMachineArn, name: 'chain-0', input: JSON.stringify({ machine: d.stateMachineArn, generation: 0 }) }));
    await d.idle();

    expect(d.executions.map((e) => [e.name, e.status, JSON.parse(e.input)])).toEqual([
      ['chain-0', 'SUCCEEDED', { machine: d.stateMachineArn, generation: 0 }],
      ['chain-1', 'SUCCEEDED', { machine: d.stateMachineArn, generation: 1 }],
      ['chain-2', 'SUCCEEDED', { machine: d.stateMachineArn, generation: 2 }],
    ]);
  });

  test('a continuation whose name was used by an execution that ended fails with StepFunctions.ExecutionAlreadyExistsException', async () => {
    const d = await deploy(waiterStack(), { transformDefinition: replaceWith(CHAIN) });
    const client = sfn();
    await client.send(new StartExecutionCommand({ stateMachineArn: d.stateMachineArn, name: 'chain-1', input: JSON.stringify({ machine: d.stateMachineArn, generation: 1 }) }));
    await d.idle();
    await client.send(new StartExecutionCommand({ stateMachineArn: d.stateMachineArn, name: 'chain-0', input: JSON.stringify({ machine: d.stateMachineArn, generation: 0 }) }));
    await d.idle();

    const first = d.executions.find((e) => e.name === 'chain-0')!;
    expect(first.status).toBe('FAILED');
    expect(first.failure?.error).toBe('StepFunctions.ExecutionAlreadyExistsException');
    // The endpoint applies the same rule.
    await expect(client.send(new StartExecutionCommand({ stateMachineArn: d.stateMachineArn, name: 'chain-2', input: '{"other":1}' })))
      .rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  test('ListExecutions lists newest first, filters by status and pages with nextToken', async () => {
    const d = await deploy(waiterStack(), { transformDefinition: replaceWith(CHAIN) });
    const client = sfn();
    await client.send(new StartExecutionCommand({ stateMachineArn: d.stateMachineArn, name: 'chain-0', input: JSON.stringify({ machine: d.stateMachineArn, generation: 0 }) }));
    await d.idle();

    const page1 = await client.send(new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, statusFilter: 'SUCCEEDED', maxResults: 2 }));
    expect(page1.executions?.map((e) => e.name)).toEqual(['chain-2', 'chain-1']);
    expect(page1.executions?.[0]).toMatchObject({ stateMachineArn: d.stateMachineArn, status: 'SUCCEEDED', executionArn: expect.stringContaining(':execution:') });
    expect(page1.executions?.[0].startDate).toBeInstanceOf(Date);
    const page2 = await client.send(new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, statusFilter: 'SUCCEEDED', maxResults: 2, nextToken: page1.nextToken }));
    expect(page2.executions?.map((e) => e.name)).toEqual(['chain-0']);
    expect(page2.nextToken).toBeUndefined();
    const running = await client.send(new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, statusFilter: 'RUNNING' }));
    expect(running.executions).toEqual([]);
  });

  test('StopExecution aborts the run: ABORTED at once, and not even a pending Retry calls anything again', async () => {
    const d = await deploy(waiterStack(), { transformDefinition: replaceWith(READ_TWICE) });
    d.emulator.addTask({ taskId: TASK_ID });
    // The first read fails slowly; its Retry would read again at once.
    d.emulator.fault({ operation: 'GetExportTask', kind: 'slow', delayMs: 300, times: 1 });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'internal', times: 1 });
    const client = sfn();
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: d.stateMachineArn, name: 'stopped', input: '{}' }));
    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, statusFilter: 'RUNNING' }));
    expect(listed.executions?.map((e) => e.executionArn)).toEqual([executionArn]);

    const { stopDate } = await client.send(new StopExecutionCommand({ executionArn, error: 'Superseded', cause: 'a newer request' }));
    expect(stopDate).toBeInstanceOf(Date);
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('ABORTED');
    await until(() => d.emulator.calls.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await d.idle();

    expect(d.emulator.calls.map((c) => c.httpStatus)).toEqual([500]);
    const record = d.executions[0];
    expect(record.status).toBe('ABORTED');
    expect(record.stopped).toEqual({ error: 'Superseded', cause: 'a newer request' });
    expect(record.eventsByType.ExecutionAborted).toBe(1);
    expect(record.eventsByType.ExecutionFailed).toBeUndefined();
    const after = await client.send(new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, statusFilter: 'RUNNING' }));
    expect(after.executions).toEqual([]);
  });
});

describe('SSM Parameter Store emulator', () => {
  test('PutParameter, GetParameter and DeleteParameter as the SSM client sends them, the store open to tests', async () => {
    const d = await deploy(waiterStack());
    const client = ssm();
    const name = '/cdk-neptune-graph-export/Waiter/requests/abc-123';
    expect(await client.send(new PutParameterCommand({ Name: name, Value: '{"ResponseURL":"x"}', Type: 'String', Overwrite: true })))
      .toMatchObject({ Version: 1, Tier: 'Standard' });
    expect(d.ssm.parameters.get(name)?.value).toBe('{"ResponseURL":"x"}');
    await expect(client.send(new PutParameterCommand({ Name: name, Value: 'again', Type: 'String' }))).rejects.toBeInstanceOf(ParameterAlreadyExists);
    expect((await client.send(new PutParameterCommand({ Name: name, Value: 'second', Type: 'String', Overwrite: true }))).Version).toBe(2);

    const got = await client.send(new GetParameterCommand({ Name: name }));
    expect(got.Parameter).toMatchObject({ Name: name, Type: 'String', Value: 'second', Version: 2 });
    expect(got.Parameter?.LastModifiedDate).toEqual(new Date(d.clock.now() * 1000));

    await client.send(new DeleteParameterCommand({ Name: name }));
    expect(d.ssm.parameters.has(name)).toBe(false);
    await expect(client.send(new GetParameterCommand({ Name: name }))).rejects.toBeInstanceOf(ParameterNotFound);
    await expect(client.send(new DeleteParameterCommand({ Name: name }))).rejects.toBeInstanceOf(ParameterNotFound);
    expect(d.ssm.calls.map((c) => [c.operation, c.httpStatus, c.errorType])).toEqual([
      ['PutParameter', 200, undefined],
      ['PutParameter', 400, 'ParameterAlreadyExists'],
      ['PutParameter', 200, undefined],
      ['GetParameter', 200, undefined],
      ['DeleteParameter', 200, undefined],
      ['GetParameter', 400, 'ParameterNotFound'],
      ['DeleteParameter', 400, 'ParameterNotFound'],
    ]);
  });

  test('refuses a value over 4096 characters and names Parameter Store does not accept', async () => {
    await deploy(waiterStack());
    const client = ssm();
    const put = (Name: string, Value: string) => client.send(new PutParameterCommand({ Name, Value, Type: 'String', Overwrite: true }));
    await expect(put('/p/ok', 'v'.repeat(4096))).resolves.toMatchObject({ Version: 1 });
    await expect(put('/p/big', 'v'.repeat(4097))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put('/p/has space', 'v')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put('relative/name', 'v')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put(`/${'n'.repeat(1011)}`, 'v')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put('/aws/reserved', 'v')).rejects.toMatchObject({ name: 'ValidationException' });
  });

  test('injected throttling and dropped connections reach the client as such, then the store works again', async () => {
    const d = await deploy(waiterStack());
    const client = ssm();
    d.ssm.fault({ operation: 'GetParameter', kind: 'throttle', times: 1 });
    d.ssm.fault({ namePrefix: '/p/', kind: 'drop', times: 1 });
    await client.send(new PutParameterCommand({ Name: '/q/a', Value: 'v', Type: 'String' }));
    await expect(client.send(new GetParameterCommand({ Name: '/q/a' }))).rejects.toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    const dropped = await client.send(new PutParameterCommand({ Name: '/p/b', Value: 'v', Type: 'String' })).catch((error: { $metadata?: { httpStatusCode?: number } }) => error);
    expect((dropped as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBeUndefined();
    expect(d.ssm.parameters.has('/p/b')).toBe(false);
    await expect(client.send(new GetParameterCommand({ Name: '/q/a' }))).resolves.toMatchObject({ Parameter: { Value: 'v' } });
  });
});
