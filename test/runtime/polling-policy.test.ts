/**
 * src/runtime/polling-policy.ts: the lookup tables the wait loop reads, checked as the loop reads
 * them. `planned()` below repeats the loop's arithmetic (planFromProgress in src/private/wait-loop.ts:
 * integer additions of table entries) on purpose, so the tables are judged by the waits the loop
 * would actually get, not by the formulas that built them.
 */
import {
  buildPollingPolicy, ELAPSED_RANGES, FALLBACK_INTERVAL_SECONDS, GROWTH_CAP_DIVISOR, initialLoopState, LOOP_STATE_FIELDS, PACE_FRACTION,
  paceIndex, PollingPolicy, STALL_PERCENTS, stallIndex, STEPS_PER_DOUBLING,
} from '../../src/runtime/polling-policy';
import { forEachSeed, Random } from '../lambda/seeded';

const DEADLINE = new Date('2026-01-01T12:00:00.000Z');
const policyOf = (minIntervalSeconds: number, maxIntervalSeconds: number, deadline = DEADLINE) =>
  buildPollingPolicy({ minIntervalSeconds, maxIntervalSeconds, deadline });
const DEFAULT_POLICY = policyOf(5, 900);
const LAST_ELAPSED = ELAPSED_RANGES[ELAPSED_RANGES.length - 1].below - 1;
const PERCENTS = Array.from({ length: 101 }, (_, p) => p);

/** One table step is this factor; a lookup is off by at most a step plus the rounding to whole seconds. */
const STEP = 2 ** (1 / STEPS_PER_DOUBLING);

interface Planned {
  /** Index into waitSeconds, latestStart and seconds. */
  waitIndex: number;
  stallIndex: number;
  waitSeconds: number;
  stallAfterSeconds: number;
}

/** What the loop plans for a task that reports `progress` after `elapsed` seconds (both in the tables' ranges). */
function planned(policy: PollingPolicy, elapsed: number, progress: number): Planned {
  const r = ELAPSED_RANGES.findIndex(({ below }) => elapsed < below);
  if (r < 0) throw new Error(`elapsed ${elapsed} is past the tables`);
  const { divisor } = ELAPSED_RANGES[r];
  // States.ArrayLength(States.ArrayRange(divisor, elapsed, divisor)) counts floor(elapsed / divisor) items.
  const logElapsed = policy.log[divisor === 1 ? elapsed : Math.floor(elapsed / divisor)];
  const waitIndex = logElapsed + policy.pace[r][progress];
  const stall = logElapsed + policy.stall[r][progress];
  return { waitIndex, stallIndex: stall, waitSeconds: policy.waitSeconds[waitIndex], stallAfterSeconds: policy.seconds[stall] };
}

const clamp = (value: number, min: number, max: number) => Math.max(min, Math.min(max, value));

/** The wait the policy aims at: a fraction of the optimistic remaining time, capped by the elapsed time. */
function idealWait(elapsed: number, progress: number): number {
  if (progress >= 99) return 0;
  const remaining = elapsed * (99 - progress) / (progress + 1);
  return Math.min(PACE_FRACTION * remaining, elapsed / GROWTH_CAP_DIVISOR);
}

function expectNear(actual: number, ideal: number, steps: number): void {
  const tolerance = 0.5 + ideal * (STEP ** steps - 1);
  expect(Math.abs(actual - ideal)).toBeLessThanOrEqual(tolerance);
}

function randomSettings(random: Random): { min: number; max: number } {
  const min = 1 + random.int(random.chance(0.5) ? 60 : 3600);
  return { min, max: min + random.int(3600 - min + 1) };
}

function randomElapsed(random: Random): number {
  // Every range, and the values right at its edges, come up.
  const range = random.pick(ELAPSED_RANGES);
  const lower = ELAPSED_RANGES.indexOf(range) === 0 ? 0 : ELAPSED_RANGES[ELAPSED_RANGES.indexOf(range) - 1].below;
  return random.chance(0.1) ? random.pick([lower, range.below - 1]) : lower + random.int(range.below - lower);
}

describe('the duration tables', () => {
  test('log holds round(8 * log2 n) for every n below 1000, so adding entries multiplies durations', () => {
    const { log } = DEFAULT_POLICY;
    expect(log).toHaveLength(1000);
    expect(log[0]).toBe(0);
    expect(log[1]).toBe(0);
    for (let n = 1; n < log.length; n++) {
      expect(Math.abs(2 ** (log[n] / STEPS_PER_DOUBLING) / n - 1)).toBeLessThan(STEP ** 0.5 - 1 + 1e-9);
      expect(log[n]).toBeGreaterThanOrEqual(log[n - 1]);
    }
  });

  test('seconds never decrease and double every 8 entries', () => {
    const { seconds } = DEFAULT_POLICY;
    for (let i = 1; i < seconds.length; i++) expect(seconds[i]).toBeGreaterThanOrEqual(seconds[i - 1]);
    for (let i = 0; i + STEPS_PER_DOUBLING < seconds.length; i++) {
      if (seconds[i] >= 100) expect(Math.abs(seconds[i + STEPS_PER_DOUBLING] - 2 * seconds[i])).toBeLessThanOrEqual(1);
    }
    // From well under a second to far beyond the longest wait anyone can configure.
    expect(seconds[0]).toBe(0);
    expect(seconds[seconds.length - 1]).toBeGreaterThan(12 * 3600);
  });

  test('waitSeconds are the seconds clamped to the configured intervals, so they never decrease either', async () => {
    await forEachSeed('waitSeconds clamp', 50, 1_000, (random) => {
      const { min, max } = randomSettings(random);
      const policy = policyOf(min, max);
      expect(policy.waitSeconds).toEqual(policy.seconds.map((s) => clamp(s, min, max)));
      expect(policy.waitSeconds[0]).toBe(min);
      expect(policy.waitSeconds[policy.waitSeconds.length - 1]).toBe(max);
    });
  });

  test('latestStart is the deadline minus each wait, so no wait planned in time ends after the deadline', () => {
    const policy = policyOf(7, 1200);
    policy.waitSeconds.forEach((wait, i) => expect(Date.parse(policy.latestStart[i])).toBe(DEADLINE.getTime() - wait * 1000));
    policy.blindWaitSeconds.forEach((wait, i) => expect(Date.parse(policy.blindLatestStart[i])).toBe(DEADLINE.getTime() - wait * 1000));
    expect(Date.parse(policy.fallbackLatestStart)).toBe(DEADLINE.getTime() - policy.fallbackIntervalSeconds * 1000);
  });
});

describe('the range guard: every index the loop computes stays inside the tables', () => {
  test('the elapsed ranges start at 0, follow each other, and each one\'s divided values index the log table', () => {
    let lower = 0;
    for (const { below, divisor } of ELAPSED_RANGES) {
      expect(below).toBeGreaterThan(lower);
      // States.ArrayRange(divisor, elapsed, divisor) needs elapsed >= divisor, and holds at most 1000 items.
      if (divisor > 1) expect(lower).toBeGreaterThanOrEqual(divisor);
      expect(Math.floor((below - 1) / divisor)).toBeLessThan(DEFAULT_POLICY.log.length);
      lower = below;
    }
  });

  test('at both ends of every elapsed range, for every progress percent, the wait and stall indexes are inside the tables', async () => {
    await forEachSeed('table range guard', 20, 2_000, (random) => {
      const { min, max } = randomSettings(random);
      const policy = policyOf(min, max);
      const outside: string[] = [];
      let lower = 0;
      for (const { below } of ELAPSED_RANGES) {
        for (const elapsed of [lower, below - 1]) {
          for (const progress of PERCENTS) {
            const plan = planned(policy, elapsed, progress);
            const inside = (index: number) => index >= 0 && index < policy.seconds.length;
            if (!inside(plan.waitIndex) || !inside(plan.stallIndex)) outside.push(`elapsed ${elapsed}, progress ${progress}: ${plan.waitIndex}, ${plan.stallIndex}`);
          }
        }
        lower = below;
      }
      expect(outside).toEqual([]);
      expect(policy.latestStart).toHaveLength(policy.seconds.length);
    });
  });

  test('the tables end where the ranges end: elapsed at the last bound, or progress past 100, has no entry (the loop plans those without progress)', () => {
    const last = ELAPSED_RANGES[ELAPSED_RANGES.length - 1];
    expect(DEFAULT_POLICY.log[last.below / last.divisor]).toBeUndefined();
    expect(() => planned(DEFAULT_POLICY, last.below, 50)).toThrow('past the tables');
    for (const row of [...DEFAULT_POLICY.pace, ...DEFAULT_POLICY.stall]) {
      expect(row).toHaveLength(101);
      expect(row[101]).toBeUndefined();
      expect(row[-1]).toBeUndefined();
    }
    expect(DEFAULT_POLICY.pace).toHaveLength(ELAPSED_RANGES.length);
    expect(DEFAULT_POLICY.stall).toHaveLength(ELAPSED_RANGES.length);
  });
});

describe('the waits the loop plans from progress', () => {
  test('property: the planned wait is the aimed one within one table step, clamped to the configured intervals', async () => {
    await forEachSeed('planned wait', 300, 3_000, (random) => {
      const { min, max } = randomSettings(random);
      const elapsed = randomElapsed(random);
      const progress = random.int(101);
      const wait = planned(policyOf(min, max), elapsed, progress).waitSeconds;
      expect(wait).toBeGreaterThanOrEqual(min);
      expect(wait).toBeLessThanOrEqual(max);
      // 1.2 steps: half a step each for the log entry and the pace entry, and the bucketing of large elapsed values.
      expectNear(wait, clamp(idealWait(elapsed, progress), min, max), 1.2);
    });
  });

  test('property: more progress never means a longer wait', async () => {
    await forEachSeed('wait shrinks with progress', 200, 4_000, (random) => {
      const { min, max } = randomSettings(random);
      const policy = policyOf(min, max);
      const elapsed = randomElapsed(random);
      const waits = PERCENTS.map((p) => planned(policy, elapsed, p).waitSeconds);
      const longer = waits.flatMap((wait, p) => (p > 0 && wait > waits[p - 1] ? [`${p - 1} % -> ${p} %: ${waits[p - 1]} s -> ${wait} s`] : []));
      expect(longer).toEqual([]);
    });
  });

  test('property: more elapsed time never means a shorter wait, across range boundaries too', async () => {
    const policy = policyOf(1, 3600);
    await forEachSeed('wait grows with elapsed time', 300, 5_000, (random) => {
      const progress = random.int(101);
      const a = randomElapsed(random);
      const b = random.chance(0.3) ? Math.min(LAST_ELAPSED, a + 1) : randomElapsed(random);
      const [earlier, later] = a <= b ? [a, b] : [b, a];
      expect(planned(policy, later, progress).waitSeconds).toBeGreaterThanOrEqual(planned(policy, earlier, progress).waitSeconds);
    });
    const shorter = ELAPSED_RANGES.slice(0, -1).flatMap(({ below }) => PERCENTS
      .filter((p) => planned(policy, below, p).waitSeconds < planned(policy, below - 1, p).waitSeconds)
      .map((p) => `${below} s at ${p} %`));
    expect(shorter).toEqual([]);
  });

  test('at 99 % and above the loop polls at the minimum interval, however long the export ran', () => {
    for (const elapsed of [0, 1, 999, 1000, 15_999, 16_000, LAST_ELAPSED]) {
      expect(planned(DEFAULT_POLICY, elapsed, 99).waitSeconds).toBe(5);
      expect(planned(DEFAULT_POLICY, elapsed, 100).waitSeconds).toBe(5);
    }
  });

  test('an export that just started is polled at the minimum interval, and one that runs for hours at most at the maximum', () => {
    expect(planned(DEFAULT_POLICY, 0, 0).waitSeconds).toBe(5);
    expect(planned(DEFAULT_POLICY, 8, 0).waitSeconds).toBe(5);
    expect(planned(DEFAULT_POLICY, LAST_ELAPSED, 0).waitSeconds).toBe(900);
  });

  test('without progress, the wait grows like a backoff: about an eighth of the elapsed time', () => {
    for (const elapsed of [400, 800, 1600, 3200]) expectNear(planned(policyOf(1, 3600), elapsed, 0).waitSeconds, elapsed / GROWTH_CAP_DIVISOR, 1.2);
  });

  test('property: the stall threshold is STALL_PERCENTS average percent-durations, and 0 before any progress', async () => {
    await forEachSeed('stall threshold', 200, 6_000, (random) => {
      const elapsed = randomElapsed(random);
      const progress = 1 + random.int(100);
      expectNear(planned(DEFAULT_POLICY, elapsed, progress).stallAfterSeconds, STALL_PERCENTS * elapsed / (progress + 1), 1.2);
    });
    for (const elapsed of [0, 500, 10_000, LAST_ELAPSED]) expect(planned(DEFAULT_POLICY, elapsed, 0).stallAfterSeconds).toBe(0);
  });

  test('paceIndex never grows with progress and is lowest from 99 %; stallIndex never grows with progress past 0', () => {
    for (let p = 1; p <= 100; p++) expect(paceIndex(p)).toBeLessThanOrEqual(paceIndex(p - 1));
    for (let p = 2; p <= 100; p++) expect(stallIndex(p)).toBeLessThanOrEqual(stallIndex(p - 1));
    expect(paceIndex(99)).toBe(paceIndex(100));
    expect(paceIndex(98)).toBeGreaterThan(paceIndex(99));
    // Before any progress every unchanged poll counts as stalled: the same "as soon as possible" index.
    expect(stallIndex(0)).toBe(paceIndex(99));
  });

  test('positive marks every percent above 0: once progress started, a stall sticks', () => {
    expect(DEFAULT_POLICY.positive).toEqual(PERCENTS.map((p) => (p === 0 ? 0 : 1)));
  });
});

describe('the backoff without progress', () => {
  test.each([
    [5, 900, [5, 10, 20, 40]],
    [1, 3600, [1, 2, 4, 8, 16, 32, 40]],
    [30, 900, [30, 40]],
    [40, 900, [40]],
    [60, 900, [60]],
    [5, 10, [5, 10]],
  ])('min %i s, max %i s: doubles from the minimum up to the fallback interval, %j', (min, max, expected) => {
    const policy = policyOf(min, max);
    expect(policy.blindWaitSeconds).toEqual(expected);
    expect(policy.fallbackIntervalSeconds).toBe(clamp(FALLBACK_INTERVAL_SECONDS, min, max));
  });

  test('property: following blindNextStep from the first step reaches the fallback interval and stays there', async () => {
    await forEachSeed('blind backoff', 100, 7_000, (random) => {
      const { min, max } = randomSettings(random);
      const policy = policyOf(min, max);
      const last = policy.blindWaitSeconds.length - 1;
      let step = 0;
      for (let round = 0; round < 20; round++) {
        expect(step).toBeGreaterThanOrEqual(0);
        expect(step).toBeLessThanOrEqual(last);
        expect(policy.blindWaitSeconds[step]).toBeLessThanOrEqual(policy.fallbackIntervalSeconds);
        step = policy.blindNextStep[step];
      }
      expect(step).toBe(last);
      expect(policy.blindWaitSeconds[last]).toBe(policy.fallbackIntervalSeconds);
      policy.blindWaitSeconds.slice(1).forEach((wait, i) => expect(wait).toBeGreaterThan(policy.blindWaitSeconds[i]));
    });
  });
});

describe('what every execution starts from', () => {
  const input = {
    taskId: 't-0123456789', startExportTask: null, longWait: true, cancelOnTimeout: false, deadline: DEADLINE, policy: policyOf(10, 600),
  };

  test('initialLoopState has exactly the LOOP_STATE_FIELDS, carrying the task, the export request, the mode and the deadline', () => {
    const state = initialLoopState(input);
    expect(Object.keys(state)).toEqual([...LOOP_STATE_FIELDS]);
    expect(state).toMatchObject({
      taskId: 't-0123456789',
      export: null,
      longWait: true,
      cancelOnTimeout: false,
      deadline: '2026-01-01T12:00:00.000Z',
      generation: 0,
      announcement: { announced: false },
      last: { task: {}, error: {} },
    });
    const exporting = initialLoopState({ ...input, taskId: null, startExportTask: { GraphIdentifier: 'g-0123456789' }, cancelOnTimeout: true });
    expect(exporting).toMatchObject({ taskId: null, export: { GraphIdentifier: 'g-0123456789' }, cancelOnTimeout: true });
  });

  test('the first poll has seen no progress yet, starts the backoff at its first step, and counts no rounds', () => {
    expect(initialLoopState(input).poll).toEqual({
      waitSeconds: 0,
      progress: -1,
      sinceProgressSeconds: 0,
      stallAfterSeconds: 0,
      stalled: 0,
      blindStep: 0,
      fallbackSeconds: input.policy.fallbackIntervalSeconds,
      rounds: 0,
    });
  });

  test('a continuation resets only the round count, to what a first execution starts with', () => {
    const { poll } = initialLoopState(input) as { poll: Record<string, unknown> };
    const reset = input.policy.newExecutionPoll;
    expect(Object.keys(reset)).toEqual(['rounds']);
    for (const [key, value] of Object.entries(reset)) expect(poll[key]).toEqual(value);
  });

  test('every GetExportTask result drops its export filter, which can be large, from the loop state', () => {
    expect(input.policy.taskOverrides).toEqual({ ExportFilter: null });
  });

  test('the state and the policy survive JSON, as the execution input carries them', () => {
    const state = initialLoopState(input);
    expect(JSON.parse(JSON.stringify({ state, policy: input.policy }))).toEqual({ state, policy: input.policy });
  });
});
