/**
 * The wait loop's polling policy, as lookup tables.
 *
 * The state machine is JSONPath (so it runs in a local interpreter too), whose only arithmetic is
 * integer addition. The policy is therefore computed in "log space": every duration is an index
 * i = round(STEPS_PER_DOUBLING * log2(seconds)), so multiplying durations is adding indexes, and
 * each non-linear function is a table built here, passed to every execution by the handler and
 * read by the loop with States.ArrayGetItem. The loop's states (src/private/wait-loop.ts) only add indexes.
 *
 * The policy, for a task that reports progress p (integer percent) after T seconds:
 * - remaining time is estimated optimistically, as if progress were p+1 (the service floors it):
 *   R = T * (99 - p) / (p + 1);
 * - the next poll comes after PACE_FRACTION of R, never more than T / GROWTH_CAP_DIVISOR (so an export
 *   that speeds up is caught like an exponential backoff would), clamped to [min, max] interval;
 * - at 99 % or more, it polls at the minimum interval;
 * - progress is "stalled" when it has not moved for STALL_PERCENTS average percent-durations; from then
 *   on (and while the task reports no progress at all) the interval is capped at the fallback interval,
 *   because an export that stalled once may jump to the end at any moment.
 */

/** Index steps per doubling of a duration: 8 gives about 9 % resolution. */
export const STEPS_PER_DOUBLING = 8;
/** Poll after this fraction of the estimated remaining time. */
export const PACE_FRACTION = 0.2;
/** Never wait longer than the task's elapsed time divided by this. */
export const GROWTH_CAP_DIVISOR = 8;
/** Without usable progress, never wait longer than this. */
export const FALLBACK_INTERVAL_SECONDS = 40;
/** Progress is stalled after this many average-percent durations without a change. */
export const STALL_PERCENTS = 4;

/**
 * Ranges of timeElapsedSeconds and how the loop turns each into a table index (a States.ArrayRange
 * holds at most 1000 items, so large values are divided first by counting a stepped range).
 */
export const ELAPSED_RANGES = [
  { below: 1000, divisor: 1 },
  { below: 16000, divisor: 16 },
  { below: 256000, divisor: 256 },
] as const;

const LOG_TABLE_SIZE = 1000;
/** Offset that keeps every index into the duration tables non-negative. */
const OFFSET = 24 * STEPS_PER_DOUBLING;
/** Index used for "as soon as possible" (at or beyond 99 %). */
const ASAP = -OFFSET;
const DURATION_TABLE_SIZE = 2 * OFFSET;

export interface PollingPolicyInput {
  readonly minIntervalSeconds: number;
  readonly maxIntervalSeconds: number;
  /** When the waiter gives up; every wait that would end after it is cut short. */
  readonly deadline: Date;
}

/** What the handler passes to every execution as `policy`. */
export interface PollingPolicy {
  readonly minIntervalSeconds: number;
  readonly fallbackIntervalSeconds: number;
  /** Fields merged over each GetExportTask result: the export filter is dropped, it can be large. */
  readonly taskOverrides: Record<string, unknown>;
  /** Merged over the poll bookkeeping when the loop continues in a new execution. */
  readonly newExecutionPoll: Record<string, unknown>;
  /** log index of n, for n < 1000. */
  readonly log: number[];
  /** Per elapsed range, per progress percent: index offset of the next wait. */
  readonly pace: number[][];
  /** Per elapsed range, per progress percent: index offset of the stall threshold. */
  readonly stall: number[][];
  /** Wait in seconds for each (offset) index, clamped to the configured interval. */
  readonly waitSeconds: number[];
  /** Duration in seconds for each (offset) index, unclamped. */
  readonly seconds: number[];
  /** Backoff without progress information: wait for step n, and the step after n. */
  readonly blindWaitSeconds: number[];
  readonly blindNextStep: number[];
  /** Per progress percent: 1 when progress has started (a stall then sticks), else 0. */
  readonly positive: number[];
  /**
   * The latest moment (ISO timestamp) a wait of waitSeconds[i] may start without ending after the
   * deadline; likewise for the backoff waits and the fallback wait. The loop compares timestamps
   * only, so the time its retries and calls take is counted too.
   */
  readonly latestStart: string[];
  readonly blindLatestStart: string[];
  readonly fallbackLatestStart: string;
}

const toIndex = (seconds: number) => Math.round(STEPS_PER_DOUBLING * Math.log2(seconds));
const fromIndex = (index: number) => Math.pow(2, index / STEPS_PER_DOUBLING);

/** Index offset (relative to log T) of the next wait for progress p. */
export function paceIndex(p: number): number {
  if (p >= 99) return ASAP;
  const estimate = toIndex(PACE_FRACTION * (99 - p) / (p + 1));
  return Math.max(ASAP, Math.min(estimate, -toIndex(GROWTH_CAP_DIVISOR)));
}

/** Index offset (relative to log T) of the stall threshold for progress p. */
export function stallIndex(p: number): number {
  if (p <= 0) return ASAP; // no progress yet: every unchanged poll counts as stalled
  return toIndex(STALL_PERCENTS / (p + 1));
}

export function buildPollingPolicy(input: PollingPolicyInput): PollingPolicy {
  const { minIntervalSeconds: min, maxIntervalSeconds: max, deadline } = input;
  const latestStartFor = (wait: number) => new Date(deadline.getTime() - wait * 1000).toISOString();
  const fallback = Math.min(max, Math.max(min, FALLBACK_INTERVAL_SECONDS));
  const clampIndex = (i: number) => Math.max(0, Math.min(DURATION_TABLE_SIZE - 1, i));
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);

  const log = range(LOG_TABLE_SIZE).map((n) => toIndex(Math.max(n, 1)));
  const rangeOffset = (divisor: number) => toIndex(divisor) + OFFSET;
  const percents = range(101);
  const pace = ELAPSED_RANGES.map(({ divisor }) => percents.map((p) => paceIndex(p) + rangeOffset(divisor)));
  const stall = ELAPSED_RANGES.map(({ divisor }) => percents.map((p) => stallIndex(p) + rangeOffset(divisor)));
  const seconds = range(DURATION_TABLE_SIZE).map((i) => Math.round(fromIndex(i - OFFSET)));
  const waitSeconds = seconds.map((s) => Math.max(min, Math.min(max, s)));

  const blindWaitSeconds: number[] = [];
  for (let wait = min; wait < fallback; wait *= 2) blindWaitSeconds.push(wait);
  blindWaitSeconds.push(fallback);
  const blindNextStep = blindWaitSeconds.map((_, i) => Math.min(i + 1, blindWaitSeconds.length - 1));

  // Tables are indexed by values the loop computes; keep every such index inside its table.
  for (const row of [...pace, ...stall]) {
    for (const offset of row) {
      if (clampIndex(offset) !== offset || clampIndex(offset + log[LOG_TABLE_SIZE - 1]) !== offset + log[LOG_TABLE_SIZE - 1]) {
        throw new Error(`polling policy table offset ${offset} out of range`);
      }
    }
  }

  return {
    minIntervalSeconds: min,
    fallbackIntervalSeconds: fallback,
    taskOverrides: { ExportFilter: null },
    newExecutionPoll: { rounds: 0 },
    log,
    pace,
    stall,
    waitSeconds,
    seconds,
    blindWaitSeconds,
    blindNextStep,
    positive: percents.map((p) => (p > 0 ? 1 : 0)),
    latestStart: waitSeconds.map(latestStartFor),
    blindLatestStart: blindWaitSeconds.map(latestStartFor),
    fallbackLatestStart: latestStartFor(fallback),
  };
}

/** The fields of the wait loop's state (see src/private/wait-loop.ts); every execution starts from them. */
export const LOOP_STATE_FIELDS = [
  'taskId', 'export', 'longWait', 'cancelOnTimeout', 'announcement', 'deadline', 'generation', 'last', 'poll',
] as const;

export interface InitialLoopStateInput {
  /** The task to wait for, or null when the loop starts `startExportTask` first. */
  readonly taskId: string | null;
  readonly startExportTask: Record<string, unknown> | null;
  readonly longWait: boolean;
  /** Whether the loop cancels the export it started when the wait times out. */
  readonly cancelOnTimeout: boolean;
  readonly deadline: Date;
  readonly policy: PollingPolicy;
}

/** The poll fields of the loop state before the first poll (the custom resource's and the fragment's). */
export function initialPollState(fallbackSeconds: number) {
  return {
    waitSeconds: 0,
    progress: -1,
    sinceProgressSeconds: 0,
    stallAfterSeconds: 0,
    stalled: 0,
    blindStep: 0,
    fallbackSeconds,
    rounds: 0,
  };
}

/** The state the first execution of a wait starts from (later executions receive their predecessor's). */
export function initialLoopState(input: InitialLoopStateInput): Record<(typeof LOOP_STATE_FIELDS)[number], unknown> {
  return {
    taskId: input.taskId,
    export: input.startExportTask,
    longWait: input.longWait,
    cancelOnTimeout: input.cancelOnTimeout,
    announcement: { announced: false },
    deadline: input.deadline.toISOString(),
    generation: 0,
    last: { task: {}, error: {} },
    poll: initialPollState(input.policy.fallbackIntervalSeconds),
  };
}
