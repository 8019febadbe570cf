/**
 * End-to-end: the state machine exactly as synthesized and the handler bundle as shipped, run by
 * the local harness against the Neptune Analytics emulator, on a virtual clock. Every test checks
 * what CloudFormation received (once, without contract violations) and what the service saw.
 */
import { CfnParameter, Duration } from 'aws-cdk-lib';
import {
  answeredOnce,
  attributesOfEmulatedTask,
  CREATE_FAILED_ID,
  deadlineOf,
  deploymentsStoppedAfterEach,
  getExportTaskCalls,
  mutations,
  OTHER_TASK_ID,
  receivedAt,
  TASK_ID,
  waiterStack,
  waitStatesEntered,
} from './helpers';
import { LocalDeployment } from '../../harness/local-deployment';
import { Limits } from '../../src/runtime/constants';
import { FALLBACK_INTERVAL_SECONDS } from '../../src/runtime/polling-policy';

const deploy = deploymentsStoppedAfterEach();

/** A task that runs 50 minutes, read through throttling bursts and a few 500s. */
const LONG_EXPORT = {
  taskId: TASK_ID,
  graphId: 'g-abcdef0123',
  initializingSeconds: 30,
  exportingSeconds: 50 * 60 - 30,
  format: 'PARQUET',
  parquetType: 'COLUMNAR',
  destination: 's3://analytics-exports/graph/2026-01-01/',
  kmsKeyIdentifier: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-4333-8444-555555555555',
  roleArn: 'arn:aws:iam::123456789012:role/service-role/NeptuneExport',
  vertices: 123_456,
  edges: 654_321,
} as const;
const LONG_EXPORT_END = LONG_EXPORT.initializingSeconds + LONG_EXPORT.exportingSeconds;

/** Waits (real time) until the condition holds while executions run. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const giveUpAt = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > giveUpAt) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lengths of the runs of consecutive 429 answers. */
function throttledRuns(statuses: number[]): number[] {
  const runs: number[] = [];
  let run = 0;
  for (const status of [...statuses, 0]) {
    if (status === 429) {
      run++;
    } else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  return runs;
}

function addThrottledLongExport(deployment: LocalDeployment): { start: number; end: number } {
  const start = deployment.clock.now();
  deployment.emulator.addTask(LONG_EXPORT);
  // Half the reads are throttled for 15 minutes, then three 500s in a row.
  deployment.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.5, between: [start + 600, start + 1500] });
  deployment.emulator.fault({ operation: 'GetExportTask', kind: 'internal', times: 3, between: [start + 1600, start + 3600] });
  return { start, end: start + LONG_EXPORT_END };
}

describe('Create', () => {
  test('succeeds with the task as attributes once a long export ends, through throttling and 500s', async () => {
    const d = await deploy(waiterStack({ timeout: Duration.minutes(55) }));
    const { start, end } = addThrottledLongExport(d);

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    expect(body.Reason).toBeUndefined();
    expect(body.PhysicalResourceId).toBe(TASK_ID);
    expect(body.Data).toEqual(attributesOfEmulatedTask(d.emulator.task(TASK_ID)!.describe()));
    expect(body.Data).toMatchObject({
      TaskId: TASK_ID,
      GraphId: 'g-abcdef0123',
      Status: 'SUCCEEDED',
      ParquetType: 'COLUMNAR',
      NumVerticesWritten: '123456',
      NumEdgesWritten: '654321',
      TimeElapsedSeconds: String(LONG_EXPORT_END),
      StartTime: new Date(start * 1000).toISOString(),
    });
    // Answered shortly after the task ended, never before.
    expect(receivedAt(answer)).toBeGreaterThanOrEqual(end);
    expect(receivedAt(answer) - end).toBeLessThanOrEqual(10);
    // The service did throttle and fail, and none of it reached CloudFormation.
    const statuses = getExportTaskCalls(d).map((call) => call.httpStatus);
    expect(statuses).toContain(429);
    expect(statuses).toContain(500);
    expect(statuses[statuses.length - 1]).toBe(200);
    expect(d.executions).toHaveLength(1);
    expect(d.executions[0].status).toBe('SUCCEEDED');
    expect(d.executions[0].path).not.toContain('CallFailed');
  });

  test('fails with the status reason when the task FAILED', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 300, outcome: 'FAILED', statusReason: 'The destination bucket denied access' });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(TASK_ID);
    expect(body.Reason).toContain('FAILED');
    expect(body.Reason).toContain('The destination bucket denied access');
    expect(body.PhysicalResourceId).toBe(TASK_ID);
    expect(body.Data).toBeUndefined();
    expect(getExportTaskCalls(d).pop()?.taskStatus).toBe('FAILED');
  });

  test('keeps waiting while the task is CANCELLING and fails once it is CANCELLED', async () => {
    const d = await deploy(waiterStack());
    const start = d.clock.now();
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 3000, cancelAfterSeconds: 600, cancellingSeconds: 300 });
    const cancelledAt = start + 900;

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(TASK_ID);
    expect(body.Reason).toContain('CANCELLED');
    expect(body.Reason).toContain('cancelled by request');
    const seen = getExportTaskCalls(d).map((call) => call.taskStatus);
    expect(seen.filter((status) => status === 'CANCELLING').length).toBeGreaterThanOrEqual(2);
    expect(seen[seen.length - 1]).toBe('CANCELLED');
    expect(receivedAt(answer)).toBeGreaterThanOrEqual(cancelledAt);
    expect(receivedAt(answer) - cancelledAt).toBeLessThanOrEqual(FALLBACK_INTERVAL_SECONDS + 5);
  });

  test('fails with the reason when the task was DELETED', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 300, outcome: 'DELETED', statusReason: 'The graph g-0123456789 was deleted' });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(TASK_ID);
    expect(body.Reason).toContain('DELETED');
    expect(body.Reason).toContain('The graph g-0123456789 was deleted');
    expect(getExportTaskCalls(d).pop()?.taskStatus).toBe('DELETED');
  });

  test('fails at once, without retrying, when the task does not exist', async () => {
    const d = await deploy(waiterStack());
    const start = d.clock.now();

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(TASK_ID);
    expect(body.Reason).toContain('ResourceNotFoundException');
    expect(body.Reason).toContain(`Export task ${TASK_ID} not found`);
    expect(body.PhysicalResourceId).toBe(TASK_ID);
    expect(d.emulator.calls).toEqual([expect.objectContaining({ operation: 'GetExportTask', taskId: TASK_ID, httpStatus: 404 })]);
    expect(receivedAt(answer) - start).toBeLessThan(1);
    expect(waitStatesEntered(d)).toEqual([]);
  });

  test('fails at once with the message when the service rejects the request as invalid', async () => {
    const d = await deploy(waiterStack());
    const start = d.clock.now();
    d.emulator.addTask({ taskId: TASK_ID });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'validation', message: 'Task identifier is not valid in this account' });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('ValidationException');
    expect(body.Reason).toContain('Task identifier is not valid in this account');
    expect(getExportTaskCalls(d)).toHaveLength(1);
    expect(receivedAt(answer) - start).toBeLessThan(1);
  });

  test('fails promptly when the state machine may not read the task', async () => {
    const d = await deploy(waiterStack());
    const start = d.clock.now();
    d.emulator.addTask({ taskId: TASK_ID });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'accessDenied' });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('AccessDeniedException');
    expect(body.Reason).toContain('not authorized');
    expect(getExportTaskCalls(d).length).toBeLessThanOrEqual(3);
    expect(getExportTaskCalls(d).every((call) => call.httpStatus === 403)).toBe(true);
    expect(receivedAt(answer) - start).toBeLessThan(10);
  });

  test('fails when the task does not finish within the timeout, just after the deadline', async () => {
    const d = await deploy(waiterStack({ timeout: Duration.minutes(2) }));
    const start = d.clock.now();
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 2 * 3600 });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(TASK_ID);
    expect(body.Reason).toContain('did not finish within 2 minutes');
    expect(body.Reason).toContain('last status EXPORTING');
    const deadline = deadlineOf(d);
    expect(deadline).toBe(start + 120);
    expect(receivedAt(answer)).toBeGreaterThanOrEqual(deadline);
    expect(receivedAt(answer) - deadline).toBeLessThanOrEqual(5);
    // It kept polling up to the deadline and read the task once more there.
    expect(getExportTaskCalls(d).pop()?.at).toBeGreaterThanOrEqual(deadline);
    expect(d.emulator.task(TASK_ID)!.status()).toBe('EXPORTING');
  });

  // Retry pauses and slow calls eat into the time left: the loop compares timestamps (when it
  // polled against the latest moment each wait may start), so a wait never runs past the deadline.
  // Seed 14 once answered 307 s late, after CloudFormation's ServiceTimeout, when the loop counted
  // only its own planned waits.
  test.each([14, 2, 5, 9, 31])('answers a timeout before CloudFormation gives up, even after sustained throttling (seed %i)', async (seed) => {
    const d = await deploy(waiterStack({ timeout: Duration.minutes(55) }), { seed });
    // A twelve-hour export that has already run for three hours: polls are far apart.
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 12 * 3600 });
    d.clock.advance(3 * 3600);
    const start = d.clock.now();
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.95, between: [start, start + 45 * 60] });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Reason).toContain('did not finish within 55 minutes');
    expect(receivedAt(answer) - deadlineOf(d)).toBeLessThan(Limits.ANSWER_MARGIN);
  });

  test('fails when the task identifier resolved at deploy time is not a task id, without starting to wait', async () => {
    // A token passes synth; its value only reaches the handler.
    const d = await deploy(waiterStack({}, (stack) => ({ taskIdentifier: new CfnParameter(stack, 'ExportTaskId').valueAsString })));

    const answer = await d.run(d.event('Create', { properties: { TaskIdentifier: 'T-BAD' } }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('TaskIdentifier');
    expect(body.Reason).toContain('"T-BAD"');
    expect(body.PhysicalResourceId).toBe(CREATE_FAILED_ID);
    expect(d.executions).toEqual([]);
    expect(d.emulator.calls).toEqual([]);
  });
});

describe('redelivery', () => {
  test('answers once when CloudFormation redelivers the Create while the wait is under way', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 600 });
    const event = d.event('Create');

    await d.invoke(event);
    // Redelivered later (a Lambda retry), when the loop has already polled a few times: the
    // handler then computes another deadline, so the execution input differs.
    await until(() => getExportTaskCalls(d).length >= 3);
    await d.invoke(event);
    const answer = await d.cloudFormation.answerFor(event.RequestId, 20_000);
    await d.idle();

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    expect(d.executions).toHaveLength(1);
    expect(d.cloudFormation.attempts(event.RequestId)).toHaveLength(1);
    expect(d.logs.filter((line) => line.includes('Duplicate delivery'))).toHaveLength(1);
  });

  test('answers once when the same Create arrives twice at the same moment', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 600 });
    const event = d.event('Create');

    await Promise.all([d.invoke(event), d.invoke(event)]);
    const answer = await d.cloudFormation.answerFor(event.RequestId, 20_000);
    await d.idle();

    expect(answeredOnce(d, answer).Status).toBe('SUCCESS');
    expect(d.executions).toHaveLength(1);
    expect(d.cloudFormation.attempts(event.RequestId)).toHaveLength(1);
  });

  test('does not answer again when the Create is redelivered after it was answered', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 600 });
    const event = d.event('Create');
    const answer = await d.run(event);

    await d.invoke(event);
    await d.idle();

    expect(answeredOnce(d, answer).Status).toBe('SUCCESS');
    expect(d.executions).toHaveLength(1);
    expect(d.cloudFormation.attempts(event.RequestId)).toHaveLength(1);
  });
});

describe('Update', () => {
  test('waits for the new task when the task identifier changes, and reports the new id', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 7200 });
    d.emulator.addTask({ taskId: OTHER_TASK_ID, exportingSeconds: 900, vertices: 42, edges: 84 });

    const answer = await d.run(d.event('Update', {
      properties: { TaskIdentifier: OTHER_TASK_ID },
      physicalResourceId: TASK_ID,
      oldProperties: { TaskIdentifier: TASK_ID },
    }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    // The new task, then the one it replaces: a rollback of this Update finds its way back.
    expect(body.PhysicalResourceId).toBe(`${OTHER_TASK_ID};${TASK_ID}`);
    expect(body.Data).toEqual(attributesOfEmulatedTask(d.emulator.task(OTHER_TASK_ID)!.describe()));
    expect(body.Data).toMatchObject({ TaskId: OTHER_TASK_ID, NumVerticesWritten: '42', NumEdgesWritten: '84' });
    const calls = getExportTaskCalls(d);
    expect(calls.length).toBeGreaterThan(1);
    expect(new Set(calls.map((call) => call.taskId))).toEqual(new Set([OTHER_TASK_ID]));
  });

  test('fails keeping the old physical id when the new task fails', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: OTHER_TASK_ID, exportingSeconds: 60, outcome: 'FAILED', statusReason: 'Out of memory' });

    const answer = await d.run(d.event('Update', {
      properties: { TaskIdentifier: OTHER_TASK_ID },
      physicalResourceId: TASK_ID,
      oldProperties: { TaskIdentifier: TASK_ID },
    }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(OTHER_TASK_ID);
    expect(body.Reason).toContain('Out of memory');
    expect(body.PhysicalResourceId).toBe(TASK_ID);
  });

  test('succeeds after a single read, without waiting, when the same task already SUCCEEDED', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 600 });
    d.clock.advance(3600);
    const start = d.clock.now();

    const answer = await d.run(d.event('Update', {
      physicalResourceId: TASK_ID,
      oldProperties: { TaskIdentifier: TASK_ID, TimeoutSeconds: '600' },
    }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    expect(body.PhysicalResourceId).toBe(TASK_ID);
    expect(body.Data).toEqual(attributesOfEmulatedTask(d.emulator.task(TASK_ID)!.describe()));
    expect(getExportTaskCalls(d)).toHaveLength(1);
    expect(waitStatesEntered(d)).toEqual([]);
    expect(receivedAt(answer) - start).toBeLessThan(1);
  });
});

describe('Delete', () => {
  test('succeeds at once with the physical id, touching neither Step Functions nor the task', async () => {
    const d = await deploy(waiterStack());
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 7200 });
    const start = d.clock.now();

    const answer = await d.run(d.event('Delete', { physicalResourceId: TASK_ID }));

    const body = answeredOnce(d, answer);
    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: TASK_ID });
    expect(body.Reason).toBeUndefined();
    expect(d.executions).toEqual([]);
    expect(d.emulator.calls).toEqual([]);
    expect(receivedAt(answer)).toBe(start);
    expect(d.emulator.task(TASK_ID)!.status()).toBe('INITIALIZING');
  });

  test('succeeds after a Create that failed because the task was not found', async () => {
    const d = await deploy(waiterStack());
    const create = await d.run(d.event('Create'));
    const failedId = answeredOnce(d, create).PhysicalResourceId;
    expect((create.body as { Status: string }).Status).toBe('FAILED');
    const callsBefore = d.emulator.calls.length;

    const answer = await d.run(d.event('Delete', { physicalResourceId: failedId }));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: failedId });
    expect(d.executions).toHaveLength(1);
    expect(d.emulator.calls).toHaveLength(callsBefore);
  });

  test('succeeds after a Create that failed on invalid properties', async () => {
    const d = await deploy(waiterStack());
    const create = await d.run(d.event('Create', { properties: { TaskIdentifier: 'T-BAD' } }));
    const failedId = answeredOnce(d, create).PhysicalResourceId;
    expect(failedId).toBe(CREATE_FAILED_ID);

    const answer = await d.run(d.event('Delete', { physicalResourceId: failedId }));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: CREATE_FAILED_ID });
    expect(d.executions).toEqual([]);
    expect(d.emulator.calls).toEqual([]);
  });
});

/**
 * These run a deliberately broken definition or integration: they prove that the tests above
 * would notice the breakage, rather than pass whatever the loop does.
 */
describe('the suite notices a broken deployment', () => {
  test('the throttled long export is never answered when GetExportTask neither retries throttling nor catches what outlasts its retries', async () => {
    const d = await deploy(waiterStack({ timeout: Duration.minutes(55) }), {
      // No throttling Retry (only the two quick catch-all retries remain), and no catch-all Catch.
      transformDefinition: (definition) => {
        const broken = mutations.forget('GetExportTask', 'NeptuneGraph.ThrottlingException', ['Retry'])(definition);
        broken.States.GetExportTask.Catch = (broken.States.GetExportTask.Catch as Array<{ ErrorEquals: string[] }>)
          .filter((rule) => !rule.ErrorEquals.includes('States.ALL'));
        return broken;
      },
    });
    addThrottledLongExport(d);

    await d.invoke(d.event('Create'));
    await d.idle();

    // The execution dies on the first throttling that outlasts the retries, and nobody answers.
    expect(d.executions[0].status).toBe('FAILED');
    expect(d.executions[0].error).toContain('Rate exceeded');
    expect(d.cloudFormation.answers()).toEqual([]);
  });

  test('without its throttling Retry, GetExportTask still rides out the throttling through the transient Catch', async () => {
    // Removing the Retry alone is not a breakage the deployment can show: the catch-all Retry
    // and the transient Catch (back to polling) absorb the same throttling. This pins that
    // second line of defence; the test above removes both.
    const d = await deploy(waiterStack({ timeout: Duration.minutes(55) }), {
      transformDefinition: mutations.forget('GetExportTask', 'NeptuneGraph.ThrottlingException', ['Retry']),
    });
    const { end } = addThrottledLongExport(d);

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer).Status).toBe('SUCCESS');
    expect(receivedAt(answer) - end).toBeLessThanOrEqual(10);
    expect(d.executions[0].path).not.toContain('CallFailed');
    // At most three reads in a row were throttled (the catch-all Retry's attempts), and after
    // such a run the loop went on polling: the Catch took over where the Retry was removed.
    const runs = throttledRuns(getExportTaskCalls(d).map((call) => call.httpStatus));
    expect(Math.max(...runs)).toBe(3);
  });

  test('the deployment fails, at once and saying why, when the SDK integration returns camelCase keys', async () => {
    const d = await deploy(waiterStack(), { sdkResultKeys: 'camelCase' });
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 0, exportingSeconds: 600 });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(`GetExportTask returned no status for export task ${TASK_ID}`);
    expect(getExportTaskCalls(d)).toHaveLength(1);
    expect(waitStatesEntered(d)).toEqual([]);
  });
});
