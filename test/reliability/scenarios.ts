/**
 * The reliability scenarios. Each drives a whole local deployment (the state machine as
 * synthesized, the handler bundle as shipped, real SDK clients, the Neptune Analytics emulator and
 * the CloudFormation stand-in) and states, for every CloudFormation request it makes, the answer
 * that request must get. `suite.ts` runs them and adds the checks that span all of them (nothing
 * secret in any output).
 */
import { Duration } from 'aws-cdk-lib';
import { StepFunctionsReplyLoss } from './deployment';
import {
  attributesOf, CREATE_FAILED_ID, Expectation, OTHER_TASK_ID, Scenario, ScenarioResult, ScenarioRun, TASK_ID, waiterStack,
} from './scenario';
import { CustomResourceEvent } from '../../harness/cloudformation';
import { LocalDeploymentOptions, seededRandom } from '../../harness/local-deployment';
import { TaskScript } from '../../harness/neptune-emulator';
import { FALLBACK_INTERVAL_SECONDS } from '../../src/runtime/polling-policy';

type Json = Record<string, unknown>;

/** Real milliseconds a direct handler invocation may take (a regex that backtracks takes seconds). */
const INVOCATION_BUDGET_MS = 2000;

function scenario(
  name: string,
  description: string,
  body: (run: ScenarioRun) => Promise<void>,
  options: LocalDeploymentOptions & { timeout?: Duration } = {},
): Scenario {
  return {
    name,
    description,
    async run(): Promise<ScenarioResult> {
      const { timeout, ...deploymentOptions } = options;
      const run = await ScenarioRun.start({ ...deploymentOptions, stack: waiterStack(timeout) });
      try {
        await body(run);
      } catch (error) {
        run.failedChecks.push(`the scenario itself failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      }
      return run.finish(name, description);
    },
  };
}

/** Waits (real time) until a condition holds, at most `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const giveUpAt = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > giveUpAt) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** What a Create for a task that ends with `outcome` must be answered, read once the task ended. */
function taskEnded(run: ScenarioRun, taskId: string, readyAt: number, outcome: string, reason?: string): () => Expectation {
  if (outcome === 'SUCCEEDED') {
    return () => ({ status: 'SUCCESS', physicalResourceId: taskId, data: attributesOf(run.d.emulator.task(taskId)!.describe()), readyAt });
  }
  const reasonIncludes = [taskId, `ended with status ${outcome}`, ...(reason ? [reason] : [])];
  return () => ({ status: 'FAILED', physicalResourceId: taskId, reasonIncludes, readyAt });
}

// ---------------------------------------------------------------------------------------------
// Faults of the Neptune Analytics API

const throttlingStorm = scenario(
  'throttling storm',
  'Half of all GetExportTask calls answer 429 for 40 virtual minutes, across the end of a 35-minute export',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 35 * 60, vertices: 123_456, edges: 654_321 });
    const end = start + 30 + 35 * 60;
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.5, between: [start + 60, start + 41 * 60] });
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, end, 'SUCCEEDED'));
    await run.invoke(create, 'Create');
    await d.idle();
    const throttled = run.reads().filter((c) => c.httpStatus === 429).length;
    run.check(throttled >= 10, `only ${throttled} GetExportTask calls were throttled: the storm did not happen`);
  },
);

const burstOf500s = scenario(
  'burst of 500s',
  'Every GetExportTask call answers 500 for 5 virtual minutes mid-export, then three 500s in a row as the task ends',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 20 * 60, outcome: 'DELETED', statusReason: 'The graph was deleted' });
    const end = start + 30 + 20 * 60;
    d.emulator.fault({ operation: 'GetExportTask', kind: 'internal', between: [start + 300, start + 600] });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'internal', times: 3, between: [end, end + 3600] });
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, end, 'DELETED', 'The graph was deleted'));
    await run.invoke(create, 'Create');
    await d.idle();
    const failed = run.reads().filter((c) => c.httpStatus === 500).length;
    run.check(failed >= 6, `only ${failed} GetExportTask calls answered 500`);
  },
);

const slowReplies = scenario(
  'replies slower than the client timeout',
  'Two GetExportTask replies take 2.1 s and 2.4 s (the client gives up after 2 s); the task FAILED',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 600, outcome: 'FAILED', statusReason: 'Ran out of memory writing vertex files' });
    const end = start + 630;
    d.emulator.fault({ operation: 'GetExportTask', kind: 'slow', delayMs: 2100, times: 1, between: [start, start + 1] });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'slow', delayMs: 2400, times: 1, between: [start + 300, end + 3600] });
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, end, 'FAILED', 'Ran out of memory writing vertex files'));
    await run.invoke(create, 'Create');
    await d.idle();
    // The emulator records a slow call when it finally answers, after the client gave up.
    const slow = () => run.reads().filter((c) => c.faults?.includes('slow')).length;
    run.check(await until(() => slow() === 2), `${slow()} slow replies happened, expected 2`);
  },
);

const droppedConnections = scenario(
  'dropped connections',
  'The first three GetExportTask connections are dropped without a reply, then 30 % of them until the end',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 10, exportingSeconds: 900, format: 'CSV', vertices: 7, edges: 9 });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'drop', times: 3 });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'drop', probability: 0.3, between: [start + 5, start + 7200] });
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, start + 910, 'SUCCEEDED'));
    await run.invoke(create, 'Create');
    await d.idle();
    const dropped = run.reads().filter((c) => c.httpStatus === 0).length;
    run.check(dropped >= 4, `only ${dropped} connections were dropped`);
  },
);

// ---------------------------------------------------------------------------------------------
// The ResponseURL failing

const responseUrlFlaky = scenario(
  'ResponseURL fails 4 times, then recovers',
  'The answer to a Create meets 503, 503, a reset connection, another reset, then gets through',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 10, exportingSeconds: 300 });
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, start + 310, 'SUCCEEDED'));
    d.cloudFormation.fault({ kind: 'status5xx', times: 2, requestId: create.RequestId });
    d.cloudFormation.fault({ kind: 'reset', times: 2, requestId: create.RequestId });
    await run.invoke(create, 'Create');
    await d.idle();
    const statuses = d.cloudFormation.attempts(create.RequestId).map((a) => a.status);
    run.check(JSON.stringify(statuses) === JSON.stringify([503, 503, 'reset', 'reset', 200]), `PUT attempts answered ${JSON.stringify(statuses)}`);
    run.check(d.executions[0]?.status === 'SUCCEEDED', `the execution ended ${d.executions[0]?.status}`);
  },
);

const responseUrlFlakyDelete = scenario(
  'ResponseURL fails twice on a Delete',
  'The answer to a Delete meets a 503 and a reset connection, then gets through',
  async (run) => {
    const { d, start } = run;
    const del = run.expect(d.event('Delete', { physicalResourceId: TASK_ID }), 'Delete', { status: 'SUCCESS', physicalResourceId: TASK_ID, readyAt: start });
    d.cloudFormation.fault({ kind: 'status5xx', times: 1, requestId: del.RequestId });
    d.cloudFormation.fault({ kind: 'reset', times: 1, requestId: del.RequestId });
    await run.invoke(del, 'Delete');
    run.check(d.cloudFormation.attempts(del.RequestId).length === 3, `${d.cloudFormation.attempts(del.RequestId).length} PUT attempts, expected 3`);
  },
);

const responseUrlDown = scenario(
  'ResponseURL down for good (Create)',
  'Every answer to a Create gets 503: the loop retries, then ends in its AnswerNotDelivered state',
  async (run) => {
    const { d } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 10, exportingSeconds: 120 });
    const create = run.expect(d.event('Create'), 'Create', { status: 'NO_ANSWER' });
    d.cloudFormation.fault({ kind: 'status5xx', requestId: create.RequestId });
    await run.invoke(create, 'Create');
    await d.idle();
    const execution = d.executions[0];
    run.check(execution?.status === 'FAILED', `the execution ended ${execution?.status}, expected FAILED`);
    run.check(execution?.path[execution.path.length - 1] === 'AnswerNotDelivered', `the execution ended in ${execution?.path[execution.path.length - 1]}, expected AnswerNotDelivered`);
    const attempts = d.cloudFormation.attempts(create.RequestId).length;
    run.check(attempts >= 10, `only ${attempts} PUT attempts before giving up`);
    const logged = d.logs.filter((line) => line.includes('Answer not delivered')).length;
    run.check(logged === attempts, `${logged} "Answer not delivered" log lines for ${attempts} failed attempts`);
  },
);

const responseUrlDownDelete = scenario(
  'ResponseURL down for good (Delete)',
  'Every answer to a Delete meets a reset connection: the handler logs it and returns without throwing',
  async (run) => {
    const { d } = run;
    const del = run.expect(d.event('Delete', { physicalResourceId: TASK_ID }), 'Delete', { status: 'NO_ANSWER' });
    d.cloudFormation.fault({ kind: 'reset', requestId: del.RequestId });
    await run.invoke(del, 'Delete');
    run.check(d.cloudFormation.attempts(del.RequestId).length === 3, `${d.cloudFormation.attempts(del.RequestId).length} PUT attempts, expected 3`);
    run.check(d.logs.some((line) => line.includes('Answer not delivered')), 'the failure to answer was not logged');
  },
);

// ---------------------------------------------------------------------------------------------
// The task changing under the waiter

const deletedMidWait = scenario(
  'task DELETED mid-wait',
  'A one-hour export is deleted 10 virtual minutes into the wait',
  async (run) => {
    const { d, start } = run;
    const task = d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 3600 });
    run.timeline.at(start + 600, 'delete the task', () => task.markDeleted('The graph g-0123456789 was deleted by its owner'));
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, start + 600, 'DELETED', 'was deleted by its owner'));
    await run.invoke(create, 'Create');
  },
);

const vanishedMidWait = scenario(
  'task disappears (404) mid-wait',
  'A one-hour export stops existing 10 virtual minutes into the wait: GetExportTask answers 404',
  async (run) => {
    const { d, start } = run;
    const task = d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 3600 });
    run.timeline.at(start + 600, 'remove the task', () => task.remove());
    const create = run.expect(d.event('Create'), 'Create', {
      status: 'FAILED', physicalResourceId: TASK_ID, reasonIncludes: [TASK_ID, 'ResourceNotFoundException', 'not found'], readyAt: start + 600,
    });
    await run.invoke(create, 'Create');
  },
);

const longCancelling = scenario(
  'CANCELLING for 40 minutes, then CANCELLED',
  'An export is cancelled 5 virtual minutes into the wait and stays CANCELLING for 40 minutes',
  async (run) => {
    const { d, start } = run;
    const task = d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 3600 });
    run.timeline.at(start + 300, 'cancel the task', () => task.cancel(40 * 60));
    const cancelledAt = start + 300 + 40 * 60;
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, cancelledAt, 'CANCELLED', 'cancelled by request'));
    await run.invoke(create, 'Create');
    await d.idle();
    const cancelling = run.reads(TASK_ID).filter((c) => c.taskStatus === 'CANCELLING');
    run.check(cancelling.length >= 20, `only ${cancelling.length} reads saw CANCELLING: the waiter did not keep polling`);
    // Progress stops moving while CANCELLING: once the loop calls it stalled (within minutes), it
    // polls at the fallback interval until the end.
    const settled = cancelling.filter((c) => c.at >= start + 300 + 600);
    const gaps = settled.slice(1).map((c, i) => c.at - settled[i].at);
    const widest = Math.max(0, ...gaps);
    run.check(widest <= FALLBACK_INTERVAL_SECONDS + 1, `polls were up to ${widest.toFixed(0)} s apart after 10 minutes of CANCELLING (fallback ${FALLBACK_INTERVAL_SECONDS} s)`);
  },
);

const longStatusReason = scenario(
  'FAILED with a 10 kB statusReason',
  'The task fails with a 10 kB reason of multi-byte characters, quotes and newlines: the answer must fit in 4096 bytes',
  async (run) => {
    const { d, start } = run;
    const prefix = 'Export of graph g-0123456789 failed: ';
    let statusReason = prefix;
    while (Buffer.byteLength(statusReason) < 10 * 1024) statusReason += 'vertex «Ünïcødé» 漢字 🚀 "quoted" \\ back\nslash; ';
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 300, outcome: 'FAILED', statusReason });
    const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, start + 330, 'FAILED', prefix));
    await run.invoke(create, 'Create');
    await d.idle();
    const answer = d.cloudFormation.answers(create.RequestId)[0];
    const reason = String((answer?.body as Json | undefined)?.Reason ?? '');
    run.check(answer !== undefined && answer.rawBytes <= 4096, `the answer is ${answer?.rawBytes} bytes`);
    run.check(reason.endsWith('...') && Buffer.byteLength(reason) < Buffer.byteLength(statusReason), 'the Reason was not shortened');
  },
);

// ---------------------------------------------------------------------------------------------
// Requests arriving more than once, or out of turn

const duplicateCreate = scenario(
  'same Create delivered 4 times',
  'A Create arrives twice at once, again 2 virtual minutes into the wait, and once more after it was answered',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 600 });
    const create = run.expect(d.event('Create'), 'Create (4 deliveries)', taskEnded(run, TASK_ID, start + 630, 'SUCCEEDED'));
    run.timeline.at(start + 120, 'deliver the Create again', () => void run.invoke(create, 'Create, third delivery'));
    await Promise.all([run.invoke(create, 'Create'), run.invoke(create, 'Create, second delivery')]);
    await d.idle();
    await run.invoke(create, 'Create, fourth delivery');
    await d.idle();
    run.check(d.executions.length === 1, `${d.executions.length} executions started, expected 1`);
    run.check(d.cloudFormation.attempts(create.RequestId).length === 1, `${d.cloudFormation.attempts(create.RequestId).length} PUT attempts, expected 1`);
  },
);

const updateAndDeleteDuringCreate = scenario(
  'Update and Delete while the Create waits',
  'A Create waits for a 30-minute export; an Update to another task arrives after 5 minutes, a Delete after 10. CloudFormation sends a'
    + ' newer request for a resource only once it abandoned the older one: each newer request stops the execution of the older',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 1800 });
    d.emulator.addTask({ taskId: OTHER_TASK_ID, initializingSeconds: 30, exportingSeconds: 900, vertices: 42, edges: 84 });
    const abandoned = { status: 'NO_ANSWER' } as const;
    const create = run.expect(d.event('Create'), 'Create (abandoned)', abandoned);
    const update = run.expect(
      d.event('Update', { properties: { TaskIdentifier: OTHER_TASK_ID }, physicalResourceId: TASK_ID, oldProperties: { TaskIdentifier: TASK_ID } }),
      'Update (abandoned)', abandoned,
    );
    // Virtual time stands still while the Delete is handled: answered at once means 0 s.
    const del = run.expect(d.event('Delete', { physicalResourceId: TASK_ID }), 'Delete', { status: 'SUCCESS', physicalResourceId: TASK_ID, readyAt: start + 600 });
    run.timeline.at(start + 300, 'send the Update', () => void run.invoke(update, 'Update'));
    let deleteReturned = false;
    run.timeline.at(start + 600, 'send the Delete', () => void run.invoke(del, 'Delete').then(() => {
      deleteReturned = true;
      run.check(d.cloudFormation.answers(del.RequestId).length === 1, 'the Delete was not answered before its invocation returned');
    }));
    await run.invoke(create, 'Create');
    await d.idle();
    run.check(deleteReturned, 'the Delete invocation never returned');
    const statuses = d.executions.map((e) => e.status).join(', ');
    run.check(d.executions.length === 2 && d.executions.every((e) => e.status === 'ABORTED'), `executions ended ${statuses}, expected the Create's and the Update's ABORTED`);
  },
);

const deleteAfterFailedCreate = scenario(
  'Delete after a failed Create',
  'A Create fails because its task FAILED (read through throttling), another because its task id is invalid; each is then deleted',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 300, outcome: 'FAILED', statusReason: 'The destination bucket denied access' });
    d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.3 });
    const create = run.expect(d.event('Create'), 'Create (task FAILED)', taskEnded(run, TASK_ID, start + 330, 'FAILED', 'denied access'));
    await run.invoke(create, 'Create');
    await d.idle();
    const failedId = String((d.cloudFormation.answers(create.RequestId)[0]?.body as Json | undefined)?.PhysicalResourceId);
    const calls = d.emulator.calls.length;
    const executions = d.executions.length;
    const del = run.expect(d.event('Delete', { physicalResourceId: failedId }), 'Delete (task FAILED)', { status: 'SUCCESS', physicalResourceId: TASK_ID, readyAt: d.clock.now() });
    await run.invoke(del, 'Delete');

    const invalid = run.expect(d.event('Create', { properties: { TaskIdentifier: 'T-BAD' } }), 'Create (invalid task id)', {
      status: 'FAILED', physicalResourceId: CREATE_FAILED_ID, reasonIncludes: ['TaskIdentifier', '"T-BAD"'], readyAt: d.clock.now(),
    });
    await run.invoke(invalid, 'Create (invalid task id)');
    const delInvalid = run.expect(d.event('Delete', { physicalResourceId: CREATE_FAILED_ID }), 'Delete (invalid task id)', {
      status: 'SUCCESS', physicalResourceId: CREATE_FAILED_ID, readyAt: d.clock.now(),
    });
    await run.invoke(delInvalid, 'Delete (invalid task id)');
    await d.idle();
    run.check(d.executions.length === executions, 'a Delete, or the invalid Create, started an execution');
    run.check(d.emulator.calls.length === calls, 'a Delete, or the invalid Create, called Neptune Analytics');
  },
);

const startExecutionReplyLost = scenario(
  'StartExecution replies lost',
  'The execution starts, but the replies to the first 3 StartExecution calls are lost (the SDK\'s 3 attempts)',
  async (run) => {
    const { d, start } = run;
    const proxy = await StepFunctionsReplyLoss.install(3);
    try {
      d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 30, exportingSeconds: 300 });
      const create = run.expect(d.event('Create'), 'Create', taskEnded(run, TASK_ID, start + 330, 'SUCCEEDED'));
      await run.invoke(create, 'Create');
      await d.idle();
      run.check(proxy.lost === 3, `${proxy.lost} replies were lost, expected 3`);
      run.check(d.executions.length === 1, `${d.executions.length} executions, expected 1`);
    } finally {
      await proxy.stop();
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Load: 100 waiters at once

const LOAD_WAITERS = 100;
type LoadKind = 'succeeds' | 'fails' | 'cancelled' | 'deleted' | 'missing' | 'times out' | 'denied' | 'rejected';
const LOAD_MIX: Array<[LoadKind, number]> = [
  ['succeeds', 32], ['fails', 12], ['cancelled', 10], ['deleted', 8], ['missing', 10], ['times out', 14], ['denied', 7], ['rejected', 7],
];

function pick<T>(random: () => number, weighted: Array<[T, number]>): T {
  const total = weighted.reduce((sum, [, w]) => sum + w, 0);
  let r = random() * total;
  for (const [value, weight] of weighted) {
    r -= weight;
    if (r < 0) return value;
  }
  return weighted[weighted.length - 1][0];
}

export function loadScenario(seed: number, waiters = LOAD_WAITERS): Scenario {
  return scenario(
    `${waiters} waiters at once (seed ${seed})`,
    `${waiters} Creates in one deployment, each waiting for its own task with a random (seeded) script, under random faults`,
    async (run) => {
      const { d, start } = run;
      const random = seededRandom(seed);
      const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
      const ids = new Set<string>();
      const newId = (): string => {
        const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
        let id = '';
        while (id === '' || ids.has(id)) id = `t-${Array.from({ length: 10 }, () => alphabet[int(0, alphabet.length - 1)]).join('')}`;
        ids.add(id);
        return id;
      };
      // Faults for everyone: throttling, 500s and dropped connections at random, a few slow replies.
      d.emulator.fault({ operation: 'GetExportTask', kind: 'throttle', probability: 0.25 });
      d.emulator.fault({ operation: 'GetExportTask', kind: 'internal', probability: 0.05 });
      d.emulator.fault({ operation: 'GetExportTask', kind: 'drop', probability: 0.03 });
      for (let i = 0; i < 2; i++) {
        const from = start + int(0, 900);
        d.emulator.fault({ operation: 'GetExportTask', kind: 'slow', delayMs: int(2100, 2500), times: 1, between: [from, from + 600] });
      }
      const kinds = new Set<LoadKind>();
      const events: CustomResourceEvent[] = [];
      for (let i = 0; i < waiters; i++) {
        const kind = pick(random, LOAD_MIX);
        kinds.add(kind);
        const taskId = newId();
        const initializingSeconds = int(0, 60);
        const exportingSeconds = int(60, 1500);
        const script: TaskScript = { taskId, initializingSeconds, exportingSeconds, vertices: int(0, 1e6), edges: int(0, 1e7) };
        const duration = initializingSeconds + exportingSeconds;
        const end = start + duration;
        const event = d.event('Create', { properties: { TaskIdentifier: taskId } });
        let expectation: Expectation | (() => Expectation);
        switch (kind) {
          case 'succeeds':
            d.emulator.addTask(script);
            expectation = taskEnded(run, taskId, end, 'SUCCEEDED');
            break;
          case 'fails':
          case 'deleted': {
            const outcome = kind === 'fails' ? 'FAILED' : 'DELETED';
            const statusReason = `Scripted outcome ${outcome} of task #${i}`;
            d.emulator.addTask({ ...script, outcome, statusReason });
            expectation = taskEnded(run, taskId, end, outcome, statusReason);
            break;
          }
          case 'cancelled': {
            const cancelAfterSeconds = int(1, duration - 1);
            const cancellingSeconds = int(30, 900);
            d.emulator.addTask({ ...script, cancelAfterSeconds, cancellingSeconds });
            expectation = taskEnded(run, taskId, start + cancelAfterSeconds + cancellingSeconds, 'CANCELLED', 'cancelled by request');
            break;
          }
          case 'missing':
            expectation = { status: 'FAILED', physicalResourceId: taskId, reasonIncludes: [taskId, 'ResourceNotFoundException'], readyAt: start };
            break;
          case 'denied':
          case 'rejected':
            // Every read of this task is refused: an IAM denial, or a request the service rejects.
            d.emulator.addTask(script);
            d.emulator.fault({ operation: 'GetExportTask', taskId, kind: kind === 'denied' ? 'accessDenied' : 'validation' });
            expectation = {
              status: 'FAILED', physicalResourceId: taskId, reasonIncludes: [taskId, kind === 'denied' ? 'AccessDeniedException' : 'ValidationException'], readyAt: start,
            };
            break;
          case 'times out': {
            const timeout = int(60, 600);
            event.ResourceProperties.TimeoutSeconds = String(timeout);
            d.emulator.addTask({ ...script, exportingSeconds: 48 * 3600 });
            expectation = () => {
              // The deadline is the handler's: read it from the execution it started.
              const execution = d.executions.find((e) => e.name.endsWith(event.RequestId));
              const deadline = execution ? new Date(JSON.parse(execution.input).resume.deadline).getTime() / 1000 : undefined;
              return { status: 'FAILED', physicalResourceId: taskId, reasonIncludes: [taskId, `did not finish within ${timeout % 60 === 0 ? timeout / 60 : timeout}`], readyAt: deadline };
            };
            break;
          }
        }
        events.push(run.expect(event, `Create #${i} (${kind})`, expectation));
      }
      // A few answers meet a 503 or a reset connection once or twice before they get through.
      for (let i = 0; i < 5; i++) {
        const event = events[int(0, events.length - 1)];
        d.cloudFormation.fault({ kind: random() < 0.5 ? 'status5xx' : 'reset', times: int(1, 2), requestId: event.RequestId });
      }
      run.check(kinds.size === LOAD_MIX.length, `the random mix missed some outcomes: only ${[...kinds].join(', ')}`);
      await Promise.all(events.map((event, i) => run.invoke(event, `Create #${i}`)));
      await d.idle();
      // The faults did happen.
      const reads = run.reads();
      const count = (status: number) => reads.filter((c) => c.httpStatus === status).length;
      run.check(count(429) > 50 && count(500) > 5 && count(0) > 0, `faults seen: ${count(429)} throttled, ${count(500)} 500s, ${count(0)} dropped`);
      const slow = () => run.reads().filter((c) => c.faults?.includes('slow')).length;
      run.check(await until(() => slow() === 2), `${slow()} slow replies, expected 2`);
      const refused = d.cloudFormation.attempts().filter((a) => a.fault !== undefined).length;
      run.check(refused >= 5, `only ${refused} answers met a ResponseURL fault`);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Hostile input straight to the handler. The property names are spelled out on purpose, not taken
// from src/runtime/constants.ts: these are the events CloudFormation sends, written as a user's
// template makes them, so a renamed constant shows up here as a broken contract.

const LARGE = 100 * 1024;

interface HostileCase {
  readonly label: string;
  readonly mutate: (event: Json, properties: Json) => void;
  /** What the Reason must mention: the field, and usually the bad value as shown. */
  readonly names: string[];
  /** The event lacks a field the answer must echo: CloudFormation would see a mismatch, whatever the handler does. */
  readonly echoes?: RegExp[];
}

const almostTaskIds = ['t-012345678', 't-0123456789 ', ' t-0123456789', 'T-0123456789', 't-01234567890', 't-ABCDEFGHIJ', 't-0123456789\n',
  't-０１２３４５６７８９', 'т-0123456789', 't-01234\u200b56789', 't_0123456789', 't-012345678é'];

const hostileCases: HostileCase[] = [
  { label: 'RequestType missing', mutate: (e) => delete e.RequestType, names: ['RequestType', 'undefined'] },
  { label: 'RequestType 42', mutate: (e) => (e.RequestType = 42), names: ['RequestType 42'] },
  { label: 'RequestType "create"', mutate: (e) => (e.RequestType = 'create'), names: ['RequestType "create"'] },
  { label: 'RequestType "Destroy"', mutate: (e) => (e.RequestType = 'Destroy'), names: ['RequestType "Destroy"'] },
  { label: 'RequestType an object', mutate: (e) => (e.RequestType = { Create: true }), names: ['RequestType {"Create":true}'] },
  { label: 'RequestType of 100 kB', mutate: (e) => (e.RequestType = 'Create'.repeat(LARGE / 6)), names: ['RequestType "CreateCreate'] },
  { label: 'ResourceProperties missing', mutate: (e) => delete e.ResourceProperties, names: ['ResourceProperties', 'undefined'] },
  { label: 'ResourceProperties a string', mutate: (e) => (e.ResourceProperties = 't-0123456789'), names: ['ResourceProperties', '"t-0123456789"'] },
  { label: 'ResourceProperties an array', mutate: (e) => (e.ResourceProperties = [{ TaskIdentifier: TASK_ID }]), names: ['ResourceProperties', '[{"TaskIdentifier"'] },
  { label: 'ResourceProperties null', mutate: (e) => (e.ResourceProperties = null), names: ['ResourceProperties', 'null'] },
  { label: 'TaskIdentifier missing', mutate: (_e, p) => delete p.TaskIdentifier, names: ['TaskIdentifier', 'undefined'] },
  ...almostTaskIds.map((id): HostileCase => ({ label: `TaskIdentifier ${JSON.stringify(id)}`, mutate: (_e, p) => (p.TaskIdentifier = id), names: ['TaskIdentifier', JSON.stringify(id)] })),
  { label: 'TaskIdentifier of 100 kB', mutate: (_e, p) => (p.TaskIdentifier = `t-${'0'.repeat(LARGE)}`), names: ['TaskIdentifier', '"t-0000'] },
  { label: 'TaskIdentifier of 100 kB unicode', mutate: (_e, p) => (p.TaskIdentifier = '漢🚀'.repeat(LARGE / 7)), names: ['TaskIdentifier', '"漢🚀'] },
  { label: 'TaskIdentifier a number', mutate: (_e, p) => (p.TaskIdentifier = 123456789), names: ['TaskIdentifier', 'got 123456789'] },
  { label: 'TaskIdentifier true', mutate: (_e, p) => (p.TaskIdentifier = true), names: ['TaskIdentifier', 'got true'] },
  { label: 'TaskIdentifier null', mutate: (_e, p) => (p.TaskIdentifier = null), names: ['TaskIdentifier', 'got null'] },
  { label: 'TaskIdentifier an object', mutate: (_e, p) => (p.TaskIdentifier = { Ref: 'ExportTask' }), names: ['TaskIdentifier', '{"Ref":"ExportTask"}'] },
  { label: 'TaskIdentifier an array', mutate: (_e, p) => (p.TaskIdentifier = [TASK_ID]), names: ['TaskIdentifier', `["${TASK_ID}"]`] },
  { label: 'TaskIdentifier nested 50 deep', mutate: (_e, p) => (p.TaskIdentifier = nested(50, TASK_ID)), names: ['TaskIdentifier', '{"a":{"a":'] },
  { label: 'TimeoutSeconds of 100 kB digits', mutate: (_e, p) => (p.TimeoutSeconds = '6'.repeat(LARGE)), names: ['TimeoutSeconds', '"6666'] },
  { label: 'TimeoutSeconds an object', mutate: (_e, p) => (p.TimeoutSeconds = { Seconds: 600 }), names: ['TimeoutSeconds', '{"Seconds":600}'] },
  { label: 'TimeoutSeconds an array', mutate: (_e, p) => (p.TimeoutSeconds = ['600']), names: ['TimeoutSeconds', '["600"]'] },
  { label: 'TimeoutSeconds in Arabic-Indic digits', mutate: (_e, p) => (p.TimeoutSeconds = '٦٠٠'), names: ['TimeoutSeconds', '"٦٠٠"'] },
  { label: 'TimeoutSeconds "600.0"', mutate: (_e, p) => (p.TimeoutSeconds = '600.0'), names: ['TimeoutSeconds', '"600.0"'] },
  { label: 'TimeoutSeconds "1e3"', mutate: (_e, p) => (p.TimeoutSeconds = '1e3'), names: ['TimeoutSeconds', '"1e3"'] },
  { label: 'TimeoutSeconds -600', mutate: (_e, p) => (p.TimeoutSeconds = -600), names: ['TimeoutSeconds', 'got -600'] },
  { label: 'TimeoutSeconds NaN', mutate: (_e, p) => (p.TimeoutSeconds = NaN), names: ['TimeoutSeconds'] },
  { label: 'MinPollIntervalSeconds of 100 kB unicode', mutate: (_e, p) => (p.MinPollIntervalSeconds = '٥'.repeat(LARGE / 2)), names: ['MinPollIntervalSeconds', '"٥٥'] },
  { label: 'MaxPollIntervalSeconds nested', mutate: (_e, p) => (p.MaxPollIntervalSeconds = nested(20, '60')), names: ['MaxPollIntervalSeconds', '{"a":'] },
  { label: 'SignalURL a number', mutate: (_e, p) => (p.SignalURL = 443), names: ['SignalURL'] },
  { label: 'SignalURL not a URL', mutate: (_e, p) => (p.SignalURL = 'wait-condition-handle'), names: ['SignalURL'] },
  { label: 'ResourceType of a GraphExport, without Export', mutate: (e) => (e.ResourceType = 'Custom::NeptuneGraphExport'), names: ['Export', 'undefined'] },
  { label: 'properties from JSON with __proto__', mutate: (e) => (e.ResourceProperties = JSON.parse(`{"__proto__": {"TaskIdentifier": "${TASK_ID}"}}`)), names: ['TaskIdentifier', 'undefined'] },
  // Fields the answer echoes: missing or mistyped, they can only be echoed wrong.
  { label: 'RequestId missing', mutate: (e) => delete e.RequestId, names: ['RequestId'], echoes: [/^RequestId is /] },
  { label: 'RequestId a number', mutate: (e) => (e.RequestId = 42), names: ['RequestId'], echoes: [/^RequestId is /] },
  { label: 'StackId missing', mutate: (e) => delete e.StackId, names: ['StackId'], echoes: [/^StackId is /] },
  { label: 'StackId an object', mutate: (e) => (e.StackId = { Ref: 'AWS::StackId' }), names: ['StackId'], echoes: [/^StackId is /] },
  { label: 'LogicalResourceId missing', mutate: (e) => delete e.LogicalResourceId, names: ['LogicalResourceId'], echoes: [/^LogicalResourceId is /] },
  { label: 'LogicalResourceId an array', mutate: (e) => (e.LogicalResourceId = ['Waiter']), names: ['LogicalResourceId'], echoes: [/^LogicalResourceId is /] },
];

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const hostileInput = scenario(
  'hostile input to the handler',
  `${hostileCases.length} malformed Create events, each with a valid ResponseURL: each answered FAILED naming the problem, no execution`,
  async (run) => {
    const { d } = run;
    d.emulator.addTask({ taskId: TASK_ID, exportingSeconds: 60 });
    for (const c of hostileCases) {
      const event = run.expect(d.event('Create', { properties: { TaskIdentifier: TASK_ID } }), c.label, {
        status: 'FAILED', physicalResourceId: CREATE_FAILED_ID, reasonIncludes: c.names, readyAt: d.clock.now(), allowedViolations: c.echoes,
      });
      const raw = event as unknown as Json;
      c.mutate(raw, raw.ResourceProperties as Json);
      const began = performance.now();
      await run.invoke(event, c.label);
      const took = performance.now() - began;
      run.check(took <= INVOCATION_BUDGET_MS, `${c.label}: the handler took ${took.toFixed(0)} ms`);
    }
    await d.idle();
    run.check(d.executions.length === 0, `${d.executions.length} executions started: ${d.executions.map((e) => e.name.slice(0, 40)).join(', ')}`);
    run.check(d.emulator.calls.length === 0, `${d.emulator.calls.length} calls reached Neptune Analytics`);
  },
);

const oddButValid = scenario(
  'odd but valid input',
  'Valid Creates that carry a 100 kB unknown property, unicode property names, or no ResourceType: each waits and succeeds',
  async (run) => {
    const { d, start } = run;
    d.emulator.addTask({ taskId: TASK_ID, initializingSeconds: 0, exportingSeconds: 60 });
    const end = start + 60;
    const cases: Array<[string, (event: Json, properties: Json) => void]> = [
      ['an unknown property of 100 kB', (_e, p) => (p.Junk = 'j'.repeat(LARGE))],
      ['unicode property names and values', (_e, p) => Object.assign(p, { 'Ключ': 'значение', '🚀': ['漢字', { nested: true }] })],
      ['no ResourceType', (e) => delete e.ResourceType],
      ['numbers where CloudFormation sends strings', (_e, p) => Object.assign(p, { TimeoutSeconds: 3300, MinPollIntervalSeconds: 5, MaxPollIntervalSeconds: 900 })],
    ];
    const events = cases.map(([label, mutate]) => {
      const event = d.event('Create');
      mutate(event as unknown as Json, event.ResourceProperties);
      return run.expect(event, label, taskEnded(run, TASK_ID, end, 'SUCCEEDED'));
    });
    await Promise.all(events.map((event, i) => run.invoke(event, cases[i][0])));
    await d.idle();
    run.check(d.executions.length === cases.length, `${d.executions.length} executions for ${cases.length} valid requests`);
  },
);

const noUsableResponseUrl = scenario(
  'no usable ResponseURL',
  'Events whose ResponseURL is missing, not a string, or not an http(s) URL: nothing to answer, nothing started, nothing thrown',
  async (run) => {
    const { d } = run;
    const signature = 'f'.repeat(64);
    const bogus = [`ftp://example.com/answer?X-Amz-Signature=${signature}`, 'http://', `/relative/path?X-Amz-Signature=${signature}`, 'not a url'];
    run.extraSecrets.push(bogus[0], bogus[2], signature);
    const cases: Array<[string, (event: Json) => void]> = [
      ['ResponseURL missing', (e) => delete e.ResponseURL],
      ['ResponseURL a number', (e) => (e.ResponseURL = 443)],
      ['ResponseURL an object', (e) => (e.ResponseURL = { url: bogus[0] })],
      ...bogus.map((url): [string, (event: Json) => void] => [`ResponseURL ${JSON.stringify(url.slice(0, 24))}`, (e) => (e.ResponseURL = url)]),
      ['ResponseURL missing, and a property name of 100 kB', (e) => {
        delete e.ResponseURL;
        e[`Key${'k'.repeat(LARGE)}`] = true;
      }],
    ];
    for (const [label, mutate] of cases) {
      const event = d.event('Create');
      run.expect(event, label, { status: 'NO_ANSWER' });
      mutate(event as unknown as Json);
      const began = performance.now();
      await run.invoke(event, label);
      const took = performance.now() - began;
      run.check(took <= INVOCATION_BUDGET_MS, `${label}: the handler took ${took.toFixed(0)} ms`);
    }
    await d.idle();
    run.check(d.executions.length === 0, `${d.executions.length} executions started`);
    run.check(d.cloudFormation.attempts().length === 0, `${d.cloudFormation.attempts().length} answers were attempted`);
    const ignored = d.logs.filter((line) => line.includes('without a usable ResponseURL')).length;
    run.check(ignored === cases.length, `${ignored} of ${cases.length} ignored events were logged`);
  },
);

export interface ScenarioOptions {
  /** Seed of the load scenario. @default 7 */
  readonly seed?: number;
  /** Waiters in the load scenario. @default 100 */
  readonly waiters?: number;
}

export function scenarios(options: ScenarioOptions = {}): Scenario[] {
  return [
    throttlingStorm,
    burstOf500s,
    slowReplies,
    droppedConnections,
    responseUrlFlaky,
    responseUrlFlakyDelete,
    responseUrlDown,
    responseUrlDownDelete,
    deletedMidWait,
    vanishedMidWait,
    longCancelling,
    longStatusReason,
    duplicateCreate,
    updateAndDeleteDuringCreate,
    deleteAfterFailedCreate,
    startExecutionReplyLost,
    hostileInput,
    oddButValid,
    noUsableResponseUrl,
    loadScenario(options.seed ?? 7, options.waiters ?? LOAD_WAITERS),
  ];
}
