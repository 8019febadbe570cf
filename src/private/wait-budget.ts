import { buildPollingPolicy } from '../runtime/polling-policy';

/**
 * The history-event bound of the WaitForExportTask fragment. Step Functions fails a Standard
 * execution at 25,000 history events. The custom resource's loop continues in a new execution of its
 * own state machine; a fragment inside a user's state machine cannot continue that machine, so it
 * spends at most FRAGMENT_HISTORY_EVENTS of them and leaves the rest to the user's own states.
 */
export const FRAGMENT_HISTORY_EVENTS = 15_000;

/**
 * The most history events one poll round can write (harness/execution-observer.ts's model: 2 per
 * Pass, Choice and Wait; a Task 2 plus 3 per attempt): GetExportTask with every attempt its
 * retriers allow (1 + 5 transient + 2 unknown = 8 attempts, 26 events), CheckStatus, a plan, the
 * guard, CapWhileStalled and the guard again, SpendRemainingTime and the Wait (14). A round without
 * retries writes 13 (measured in test/e2e/wait-for-export-task.test.ts).
 */
export const WORST_EVENTS_PER_ROUND = 40;

/** The fragment's own states outside the rounds: preparing, starting the export, reading the result. */
export const FIXED_EVENTS = 60;

/** Poll rounds the fragment makes at most: it fails with its timeout error after them. */
export const MAX_FRAGMENT_ROUNDS = Math.floor((FRAGMENT_HISTORY_EVENTS - FIXED_EVENTS) / WORST_EVENTS_PER_ROUND);

/**
 * The shortest minimum poll interval that keeps a wait of `timeoutSeconds` within
 * MAX_FRAGMENT_ROUNDS: each round but the last spends at least the minimum interval of the budget.
 */
export function lowestMinPollSeconds(timeoutSeconds: number): number {
  return Math.ceil(timeoutSeconds / (MAX_FRAGMENT_ROUNDS - 1));
}

/** Fields a task lacks when the service omits them read as null in the fragment's output. */
const TASK_DEFAULTS = {
  TaskId: null,
  GraphId: null,
  Status: null,
  Format: null,
  ParquetType: null,
  Destination: null,
  KmsKeyIdentifier: null,
  RoleArn: null,
  StatusReason: null,
  ExportTaskDetails: {},
};
const DETAILS_DEFAULTS = { StartTime: null, TimeElapsedSeconds: null, ProgressPercentage: null, NumVerticesWritten: null, NumEdgesWritten: null };

/**
 * The polling policy of a fragment, fixed at synth time (the custom resource's handler computes its
 * own per execution): the same tables, with the waits negated for the budget clock instead of the
 * latest start times of a deadline, and the defaults that make the output's fields always present.
 */
export function budgetPolicy(minIntervalSeconds: number, maxIntervalSeconds: number): Record<string, unknown> {
  // The deadline only feeds the latest-start tables, which the budget clock does not use.
  const policy = buildPollingPolicy({ minIntervalSeconds, maxIntervalSeconds, deadline: new Date(0) });
  const negated = (values: number[]) => values.map((v) => -v);
  return {
    log: policy.log,
    pace: policy.pace,
    stall: policy.stall,
    waitSeconds: policy.waitSeconds,
    seconds: policy.seconds,
    blindWaitSeconds: policy.blindWaitSeconds,
    blindNextStep: policy.blindNextStep,
    positive: policy.positive,
    negativeWaitSeconds: negated(policy.waitSeconds),
    negativeBlindWaitSeconds: negated(policy.blindWaitSeconds),
    negativeFallbackSeconds: -policy.fallbackIntervalSeconds,
    fallbackSeconds: policy.fallbackIntervalSeconds,
    taskDefaults: TASK_DEFAULTS,
    detailsDefaults: DETAILS_DEFAULTS,
  };
}
