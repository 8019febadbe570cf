/**
 * The Step Functions behaviour the harness adds to aws-local-stepfunctions: history events counted as
 * Standard workflows write them, the 25,000-event and 256 KiB quotas (neither catchable), pure
 * States.JsonMerge, secrets seen in what the history would hold, and scripted Lambda failures.
 * Small stand-in state machines (through `transformDefinition`) exercise the harness, not the product.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DATA_LIMIT_ERROR, HISTORY_LIMIT_CAUSE, MAX_HISTORY_EVENTS } from '../../harness/execution-observer';
import { ExecutionRecord, LocalDeployment, StateMachineDefinition } from '../../harness/local-deployment';
import { deploymentsStoppedAfterEach, receivedAt, TASK_ID, waiterStack } from '../e2e/helpers';

const deploy = deploymentsStoppedAfterEach();

/** Starts one execution through the real SFN client and waits until everything has settled. */
async function runExecution(d: LocalDeployment, input: unknown, name = 'run'): Promise<ExecutionRecord> {
  const client = new SFNClient({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' }, maxAttempts: 1 });
  try {
    await client.send(new StartExecutionCommand({ stateMachineArn: d.stateMachineArn, name, input: JSON.stringify(input) }));
  } finally {
    client.destroy();
  }
  await d.idle();
  return d.executions.find((e) => e.name === name)!;
}

const withDefinition = (definition: StateMachineDefinition) => deploy(waiterStack(), { transformDefinition: () => definition });

const GET_EXPORT_TASK = 'arn:aws:states:::aws-sdk:neptunegraph:getExportTask';

/** Counts to `$.limit`: 4 history events per round (PassStateEntered/Exited, ChoiceStateEntered/Exited). */
const COUNTER: StateMachineDefinition = {
  StartAt: 'Count',
  States: {
    Count: { Type: 'Pass', Parameters: { 'i.$': 'States.MathAdd($.i, 1)', 'limit.$': '$.limit' }, Next: 'Check' },
    Check: { Type: 'Choice', Choices: [{ Variable: '$.i', NumericLessThanPath: '$.limit', Next: 'Count' }], Default: 'Done' },
    Done: { Type: 'Succeed' },
  },
};

describe('history events', () => {
  test('each state type writes the events of a Standard workflow; a retried task adds three per attempt', async () => {
    const d = await withDefinition({
      StartAt: 'Prepare',
      States: {
        Prepare: { Type: 'Pass', Next: 'Pause' },
        Pause: { Type: 'Wait', Seconds: 60, Next: 'Read' },
        Read: {
          Type: 'Task',
          Resource: GET_EXPORT_TASK,
          Parameters: { TaskIdentifier: TASK_ID },
          Retry: [{ ErrorEquals: ['NeptuneGraph.ThrottlingException'], IntervalSeconds: 1, MaxAttempts: 3 }],
          ResultPath: null,
          Next: 'Decide',
        },
        Decide: { Type: 'Choice', Choices: [{ Variable: '$.go', BooleanEquals: true, Next: 'Done' }], Default: 'Done' },
        Done: { Type: 'Succeed' },
      },
    });
    d.emulator.addTask({ taskId: TASK_ID });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', times: 2 });
    const record = await runExecution(d, { go: true });

    expect(record.status).toBe('SUCCEEDED');
    expect(record.eventsByType).toEqual({
      ExecutionStarted: 1,
      PassStateEntered: 1,
      PassStateExited: 1,
      WaitStateEntered: 1,
      WaitStateExited: 1,
      TaskStateEntered: 1,
      TaskScheduled: 3,
      TaskStarted: 3,
      TaskFailed: 2,
      TaskSucceeded: 1,
      TaskStateExited: 1,
      ChoiceStateEntered: 1,
      ChoiceStateExited: 1,
      SucceedStateEntered: 1,
      SucceedStateExited: 1,
      ExecutionSucceeded: 1,
    });
    expect(record.historyEvents).toBe(21);
    expect(d.historyEvents()).toBe(21);
  });

  test('a caught task failure exits the state without a TaskSucceeded; a Fail state ends without an exit', async () => {
    const d = await withDefinition({
      StartAt: 'Read',
      States: {
        Read: { Type: 'Task', Resource: GET_EXPORT_TASK, Parameters: { TaskIdentifier: TASK_ID }, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Broken' }], End: true },
        Broken: { Type: 'Fail', Error: 'Broken', Cause: 'the task is gone' },
      },
    });
    const record = await runExecution(d, {});

    expect(record.status).toBe('FAILED');
    expect(record.failure).toEqual({ error: 'Broken', cause: 'the task is gone' });
    expect(record.eventsByType).toEqual({
      ExecutionStarted: 1,
      TaskStateEntered: 1,
      TaskScheduled: 1,
      TaskStarted: 1,
      TaskFailed: 1,
      TaskStateExited: 1,
      FailStateEntered: 1,
      ExecutionFailed: 1,
    });
  });

  test('each execution counts only its own events, however many ran before or run alongside', async () => {
    // A Wait in every round lets concurrent executions interleave.
    const d = await withDefinition({
      StartAt: 'Count',
      States: {
        Count: { Type: 'Pass', Parameters: { 'i.$': 'States.MathAdd($.i, 1)', 'limit.$': '$.limit' }, Next: 'Pause' },
        Pause: { Type: 'Wait', Seconds: 5, Next: 'Check' },
        Check: { Type: 'Choice', Choices: [{ Variable: '$.i', NumericLessThanPath: '$.limit', Next: 'Count' }], Default: 'Done' },
        Done: { Type: 'Succeed' },
      },
    });
    const first = await runExecution(d, { i: 0, limit: 10 }, 'first');
    const counted = first.historyEvents;
    await Promise.all([runExecution(d, { i: 0, limit: 10 }, 'second'), runExecution(d, { i: 0, limit: 20 }, 'third')]);

    // 1 + 6 * rounds + 2 (Succeed) + 1 (ExecutionSucceeded)
    expect(d.executions.map((e) => [e.name, e.historyEvents])).toEqual([['first', 64], ['second', 64], ['third', 124]]);
    expect(first.historyEvents).toBe(counted);
  });

  test('an execution whose 25,000th event is ExecutionSucceeded succeeds', async () => {
    const d = await withDefinition(COUNTER);
    // 1 + 4 * 6249 + 2 (Succeed) + 1 (ExecutionSucceeded) = 25,000
    const record = await runExecution(d, { i: 0, limit: 6249 });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.historyEvents).toBe(MAX_HISTORY_EVENTS);
    expect(record.historyLimitReached).toBe(false);
  });

  test('one more round fails the execution at 25,000 events, whatever its Catch says', async () => {
    const d = await withDefinition({
      StartAt: 'Count',
      States: {
        ...COUNTER.States,
        // Crossing the limit happens on this Task's events: its Catch of States.ALL must not apply.
        Check: { Type: 'Choice', Choices: [{ Variable: '$.i', NumericLessThanPath: '$.limit', Next: 'Count' }], Default: 'Read' },
        Read: {
          Type: 'Task',
          Resource: GET_EXPORT_TASK,
          Parameters: { TaskIdentifier: TASK_ID },
          ResultPath: null,
          Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 3, IntervalSeconds: 1 }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Done' }],
          Next: 'Done',
        },
      },
    });
    d.emulator.addTask({ taskId: TASK_ID });
    // 1 + 4 * 6248 = 24,993 events before Read; its throttled attempts take it to 24,999, so its
    // next event (a TaskFailed, inside the Retry/Catch handling) would not be the last one.
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', times: 3 });
    const record = await runExecution(d, { i: 0, limit: 6248 });

    expect(record.status).toBe('FAILED');
    expect(record.historyLimitReached).toBe(true);
    expect(record.failure?.cause).toBe(HISTORY_LIMIT_CAUSE);
    expect(record.historyEvents).toBe(MAX_HISTORY_EVENTS);
    expect(record.path).not.toContain('Done');
  });
});

describe('payload quota (256 KiB)', () => {
  /** An export filter of about `bytes` bytes of JSON. */
  function filterOf(bytes: number): Record<string, unknown> {
    const vertexFilter: Record<string, unknown> = {};
    for (let i = 0; JSON.stringify(vertexFilter).length < bytes; i++) {
      vertexFilter[`label_${i}`] = { properties: { [`p_${i}`]: { outputType: 'String', sourcePropertyName: `source_property_${i}` } } };
    }
    return { vertexFilter };
  }

  test('a task result over the quota fails the execution with States.DataLimitExceeded, which Catch States.ALL does not handle', async () => {
    const d = await withDefinition({
      StartAt: 'Read',
      States: {
        Read: { Type: 'Task', Resource: GET_EXPORT_TASK, Parameters: { TaskIdentifier: TASK_ID }, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Handled' }], End: true },
        Handled: { Type: 'Succeed' },
      },
    });
    d.emulator.addTask({ taskId: TASK_ID, exportFilter: filterOf(270_000) });
    const record = await runExecution(d, {});

    expect(record.status).toBe('FAILED');
    expect(record.failure?.error).toBe(DATA_LIMIT_ERROR);
    expect(record.failure?.cause).toMatch(/Read result is \d+ bytes, over the 262144-byte quota/);
    expect(record.path).toEqual(['Read']);
  });

  test('state data under the quota passes; a Pass state that doubles it past the quota fails the execution', async () => {
    const d = await withDefinition({
      StartAt: 'Keep',
      States: {
        Keep: { Type: 'Pass', Next: 'Double' },
        Double: { Type: 'Pass', Parameters: { 'a.$': '$.blob', 'b.$': '$.blob' }, Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    });
    const record = await runExecution(d, { blob: 'x'.repeat(150_000) });

    expect(record.status).toBe('FAILED');
    expect(record.failure?.error).toBe(DATA_LIMIT_ERROR);
    expect(record.failure?.cause).toMatch(/^The Double output is 3000\d\d bytes/);
    expect(record.largestPayloadBytes.Keep).toBeGreaterThan(150_000);
    expect(record.path).toEqual(['Keep', 'Double']);
  });
});

describe('States.JsonMerge', () => {
  test('merging into a path of the execution input leaves the execution input unchanged', async () => {
    const d = await withDefinition({
      StartAt: 'Merge',
      States: {
        Merge: { Type: 'Pass', Parameters: { 'merged.$': 'States.JsonMerge($$.Execution.Input.defaults, $.override, false)' }, Next: 'Check' },
        Check: {
          Type: 'Choice',
          Choices: [{ And: [{ Variable: '$$.Execution.Input.defaults.b', NumericEquals: 2 }, { Variable: '$.merged.b', NumericEquals: 3 }], Next: 'Pure' }],
          Default: 'Mutated',
        },
        Pure: { Type: 'Succeed' },
        Mutated: { Type: 'Fail', Error: 'Mutated' },
      },
    });
    const record = await runExecution(d, { defaults: { a: 1, b: 2 }, override: { b: 3 } });
    expect(record.path).toEqual(['Merge', 'Check', 'Pure']);
  });

  test('merging a task result whose strings hold quotes and backslashes keeps them as they are', async () => {
    const reason = 'Access "denied" to s3://bucket/a\\b: {"code": 403}';
    const d = await withDefinition({
      StartAt: 'Read',
      States: {
        Read: {
          Type: 'Task',
          Resource: GET_EXPORT_TASK,
          Parameters: { TaskIdentifier: TASK_ID },
          ResultSelector: { 'task.$': 'States.JsonMerge($, $$.Execution.Input.overrides, false)' },
          Next: 'Check',
        },
        Check: { Type: 'Choice', Choices: [{ Variable: '$.task.StatusReason', StringEquals: reason, Next: 'Same' }], Default: 'Changed' },
        Same: { Type: 'Succeed' },
        Changed: { Type: 'Fail', Error: 'Changed' },
      },
    });
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 0, exportingSeconds: 0, outcome: 'FAILED', statusReason: reason });
    const record = await runExecution(d, { overrides: { ExportFilter: null } });
    expect(record.path).toEqual(['Read', 'Check', 'Same']);
  });

  test('a merge with a quoted, escaped, multi-byte string in its first argument works (the interpreter is patched, not the expression)', async () => {
    const d = await withDefinition({
      StartAt: 'Merge',
      States: {
        Merge: { Type: 'Pass', Parameters: { 'merged.$': 'States.JsonMerge($.a, $.b, false)' }, Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    });
    const tricky = 'vertex «Ünïcødé» "quoted" \\ back\nslash, {}';
    const run = await runExecution(d, { a: { text: tricky }, b: { more: 1 } }, 'tricky');
    expect(run.status).toBe('SUCCEEDED');
  });
});

describe('secrets in execution data', () => {
  // Data enters an execution only through its input and its tasks: those are what is scanned (a
  // state's input and output are copies of them).
  test('a ResponseURL or its signature in the execution input or a task\'s parameters or result is reported, without the secret itself', async () => {
    const d = await withDefinition({
      StartAt: 'Copy',
      States: {
        Copy: { Type: 'Pass', Parameters: { 'signature.$': '$.signature', 'taskId.$': '$.taskId' }, Next: 'Read' },
        Read: { Type: 'Task', Resource: GET_EXPORT_TASK, Parameters: { 'TaskIdentifier.$': '$.taskId' }, ResultPath: '$.task', Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    });
    const event = d.event('Create');
    const signature = String(new URL(event.ResponseURL).searchParams.get('X-Amz-Signature'));
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 0, exportingSeconds: 0, outcome: 'FAILED', statusReason: `see ${event.ResponseURL}` });
    d.emulator.addTask({ taskId: 't-abcdefghij', initializingSeconds: 0, exportingSeconds: 0 });
    const leakedInInput = await runExecution(d, { signature, taskId: 't-abcdefghij' }, 'input');
    const leakedByTask = await runExecution(d, { signature: 'not-a-secret', taskId: TASK_ID }, 'task');
    const clean = await runExecution(d, { signature: 'not-a-secret', taskId: 't-abcdefghij' }, 'clean');

    expect(leakedInInput.secretSightings).toEqual(['input']);
    expect(leakedByTask.secretSightings).toEqual(['Read result']);
    expect([...leakedInInput.secretSightings, ...leakedByTask.secretSightings].join(' ')).not.toContain(signature);
    expect(clean.secretSightings).toEqual([]);
  });
});

describe('Lambda faults', () => {
  const INVOKE: StateMachineDefinition = {
    StartAt: 'Invoke',
    States: {
      Invoke: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { 'FunctionName.$': '$.function', 'Payload': { note: 'not a CloudFormation event: the handler logs and returns' } },
        Retry: [{ ErrorEquals: ['Lambda.TooManyRequestsException'], IntervalSeconds: 1, MaxAttempts: 3 }],
        End: true,
      },
    },
  };
  const handlerRuns = (d: LocalDeployment) => d.logs.filter((line) => line.includes('Ignored an event')).length;

  test("the loop's invoke: throttles fail the attempt without running the handler, and Retry gets through", async () => {
    const d = await withDefinition(INVOKE);
    d.lambdaFault({ caller: 'stepFunctions', kind: 'throttle', times: 2 });
    const record = await runExecution(d, { function: d.functionArn });

    expect(record.status).toBe('SUCCEEDED');
    expect(record.eventsByType).toMatchObject({ TaskScheduled: 3, TaskFailed: 2, TaskSucceeded: 1 });
    expect(handlerRuns(d)).toBe(1);
  });

  test("the loop's invoke: a timed-out invocation ran the handler and fails as Sandbox.Timedout", async () => {
    const d = await withDefinition(INVOKE);
    d.lambdaFault({ caller: 'stepFunctions', kind: 'timedOut', times: 1 });
    const record = await runExecution(d, { function: d.functionArn });

    expect(record.status).toBe('FAILED');
    expect(record.failure?.error).toBe('Sandbox.Timedout');
    expect(handlerRuns(d)).toBe(1);
  });

  test("CloudFormation's asynchronous invoke: Lambda retries throttles itself, and the request is answered once", async () => {
    const d = await deploy(waiterStack());
    d.lambdaFault({ caller: 'cloudFormation', kind: 'throttle', times: 3 });
    const start = d.clock.now();
    const answer = await d.run(d.event('Delete', { physicalResourceId: TASK_ID }));

    expect(answer.body).toMatchObject({ Status: 'SUCCESS' });
    expect(d.cloudFormation.answers(answer.requestId)).toHaveLength(1);
    // Lambda's retry delays: 1 + 2 + 4 seconds.
    expect(receivedAt(answer) - start).toBeGreaterThanOrEqual(7);
    expect(d.lambdaFaults.injected.map((f) => [f.caller, f.kind, f.handlerRuns])).toEqual([
      ['cloudFormation', 'throttle', false], ['cloudFormation', 'throttle', false], ['cloudFormation', 'throttle', false],
    ]);
  });
});
