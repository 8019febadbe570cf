/**
 * Seeded property cases without a property-testing library. Each case gets its own seed; a failing
 * case reports its seed, and `PROPERTY_SEED=<seed>` runs that case alone to replay it
 * (`PROPERTY_RUNS=<n>` changes how many cases run).
 */
import * as path from 'node:path';

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
  string(alphabet: string, length: number): string;
}

/** Park-Miller (MINSTD): reproducible, and exact in doubles without bitwise operators. */
export function seededRandom(seed: number): Random {
  let state = (Math.abs(Math.floor(seed)) % 2_147_483_646) + 1;
  const next = () => {
    state = (state * 48_271) % 2_147_483_647;
    return (state - 1) / 2_147_483_646;
  };
  // Neighbouring seeds start out correlated; a few rounds spread them apart.
  for (let i = 0; i < 8; i++) next();
  const random: Random = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[random.int(items.length)],
    chance: (probability) => next() < probability,
    string: (alphabet, length) => Array.from({ length }, () => alphabet[random.int(alphabet.length)]).join(''),
  };
  return random;
}

/**
 * Runs `body` once per seed (`runs` seeds from `firstSeed`, or only PROPERTY_SEED when set) and
 * rethrows the first failure with its seed and the command that replays it.
 */
export async function forEachSeed(
  name: string, runs: number, firstSeed: number, body: (random: Random, seed: number) => void | Promise<void>,
): Promise<number> {
  const only = process.env.PROPERTY_SEED;
  const count = Number(process.env.PROPERTY_RUNS ?? runs);
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => firstSeed + i);
  for (const seed of seeds) {
    try {
      await body(seededRandom(seed), seed);
    } catch (error) {
      const replay = `PROPERTY_SEED=${seed} npx jest ${path.relative(process.cwd(), expect.getState().testPath ?? '')} -t '${name}'`;
      process.stderr.write(`Property "${name}" failed for seed ${seed}; replay with: ${replay}\n`);
      if (error instanceof Error) error.message = `[seed ${seed}; replay with ${replay}]\n${error.message}`;
      throw error;
    }
  }
  return seeds.length;
}
