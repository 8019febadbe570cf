/**
 * lambda/physical-id.ts: physical ids (what CloudFormation keeps of a resource, and what a later
 * Update or rollback reads back), execution names and the keys of what Parameter Store keeps.
 */
import { randomUUID } from 'node:crypto';
import { forEachSeed, Random } from './seeded';
import {
  baseOfExecutionName, executionBaseName, exportFingerprint, formatIdentity, formatPhysicalId, parsePhysicalId, resourceKey, resultsKey,
} from '../../lambda/physical-id';
import { TASK_ID_PATTERN } from '../../src/runtime/constants';

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const randomTaskId = (random: Random) => `t-${random.string(LOWER_ALNUM, 10)}`;
const randomIdentity = (random: Random) => formatIdentity(randomTaskId(random), random.chance(0.5) ? random.string(HEX, 16) : null);
const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/0a1b2c3d-0000-4000-8000-000000000000';

describe('physical ids', () => {
  test('a waiter\'s id is its task id', () => {
    expect(parsePhysicalId('t-0123456789')).toEqual({ identity: 't-0123456789', taskId: 't-0123456789', fingerprint: undefined });
  });

  test('a GraphExport\'s id is its task id and export fingerprint, then the identity it replaced', () => {
    expect(parsePhysicalId('t-0123456789:00112233aabbccdd;t-abcdefghij:ffeeddccbbaa9988')).toEqual({
      identity: 't-0123456789:00112233aabbccdd',
      taskId: 't-0123456789',
      fingerprint: '00112233aabbccdd',
      previous: { identity: 't-abcdefghij:ffeeddccbbaa9988', taskId: 't-abcdefghij', fingerprint: 'ffeeddccbbaa9988' },
    });
  });

  test.each([
    'neptune-graph-export-waiter-create-failed', '', 'T-0123456789', 't-012345678', 't-0123456789:XYZ', 't-0123456789:00112233aabbccd',
    't-0123456789;t-abcdefghij;t-bbbbbbbbbb', ' t-0123456789', 't-0123456789 ',
  ])('%j is not an id the handler answered', (value) => {
    expect(parsePhysicalId(value)).toBeUndefined();
  });

  test('a previous identity that cannot be read is left out, keeping the current one', () => {
    expect(parsePhysicalId('t-0123456789;garbage')).toEqual({ identity: 't-0123456789', taskId: 't-0123456789', fingerprint: undefined });
  });

  test('an identity never names itself as its previous one', () => {
    expect(formatPhysicalId('t-0123456789', 't-0123456789')).toBe('t-0123456789');
    expect(formatPhysicalId('t-0123456789', null)).toBe('t-0123456789');
  });

  test('property: formatted ids parse back to what was formatted, and format again to the same text', async () => {
    const runs = await forEachSeed('physical id round trip', 300, 1_000, (random) => {
      const identity = randomIdentity(random);
      const previous = random.chance(0.5) ? randomIdentity(random) : null;
      const text = formatPhysicalId(identity, previous);
      const parsed = parsePhysicalId(text);

      expect(parsed).toBeDefined();
      expect(parsed!.identity).toBe(identity);
      expect(TASK_ID_PATTERN.test(parsed!.taskId)).toBe(true);
      expect(formatIdentity(parsed!.taskId, parsed!.fingerprint)).toBe(identity);
      expect(parsed!.previous?.identity ?? null).toBe(previous === identity ? null : previous);
      expect(formatPhysicalId(parsed!.identity, parsed!.previous?.identity)).toBe(text);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024);
    });
    expect(runs).toBeGreaterThan(0);
  });

  test('property: any text parses to nothing or to an identity it starts with, and never throws', async () => {
    await forEachSeed('physical id parse of arbitrary text', 300, 2_000, (random) => {
      // Valid ids, cut, spliced and sprinkled with the separators.
      const parts = Array.from({ length: 1 + random.int(3) }, () => randomIdentity(random));
      let text = parts.join(random.pick([';', ':', '', ';;']));
      for (let edits = random.int(3); edits > 0; edits--) {
        const at = random.int(text.length + 1);
        text = text.slice(0, at) + random.string(`${LOWER_ALNUM}:;-T `, random.int(3)) + text.slice(at + random.int(3));
      }
      const parsed = parsePhysicalId(text);
      if (parsed) {
        expect(text.startsWith(parsed.identity)).toBe(true);
        expect(parsed.identity).toMatch(/^t-[a-z0-9]{10}(:[0-9a-f]{16})?$/);
        if (parsed.previous) expect(text).toBe(`${parsed.identity};${parsed.previous.identity}`);
      }
    });
  });
});

describe('export fingerprints', () => {
  test('equal requests have equal fingerprints, whatever the order of their keys', () => {
    const request = { GraphIdentifier: 'g-0123456789', Format: 'CSV', ExportFilter: { VertexFilter: { a: {}, b: {} } } };
    const reordered = { ExportFilter: { VertexFilter: { b: {}, a: {} } }, Format: 'CSV', GraphIdentifier: 'g-0123456789' };
    expect(exportFingerprint(reordered)).toBe(exportFingerprint(request));
    expect(exportFingerprint(request)).toMatch(/^[0-9a-f]{16}$/);
  });

  test('a change anywhere in the request changes the fingerprint', () => {
    const request = { GraphIdentifier: 'g-0123456789', Format: 'CSV', Tags: { team: 'a' } };
    expect(exportFingerprint({ ...request, Tags: { team: 'b' } })).not.toBe(exportFingerprint(request));
    expect(exportFingerprint({ ...request, Format: 'PARQUET' })).not.toBe(exportFingerprint(request));
  });
});

describe('execution names', () => {
  test('a CloudFormation request id (a UUID) gives <16 hex of the resource>-<the UUID with _ for ->', () => {
    const requestId = '5d295008-4a6d-4cb9-bfa1-28d99f2645c1';
    const key = resourceKey(STACK_ID, 'Waiter');
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(executionBaseName(key, requestId)).toBe(`${key}-5d295008_4a6d_4cb9_bfa1_28d99f2645c1`);
  });

  test('resources of another stack or another logical id get other keys', () => {
    const keys = new Set([resourceKey(STACK_ID, 'Waiter'), resourceKey(STACK_ID, 'Waiter2'), resourceKey(`${STACK_ID}x`, 'Waiter')]);
    expect(keys.size).toBe(3);
  });

  test('property: any request id gives a name Step Functions accepts, whose base reads back from every generation', async () => {
    await forEachSeed('execution names', 300, 3_000, (random) => {
      const alphabet = 'abcXYZ019_-./:; ü€😀\n';
      const requestId = random.chance(0.5) ? randomUUID() : random.string(alphabet, random.int(120));
      const key = resourceKey(STACK_ID, random.string(LOWER_ALNUM, 1 + random.int(20)));
      const name = executionBaseName(key, requestId);

      expect(name).toMatch(/^[0-9a-f]{16}-[A-Za-z0-9_]+$/);
      expect(name.length).toBeLessThanOrEqual(72);
      expect(baseOfExecutionName(name)).toBe(name);
      const generation = 1 + random.int(1000);
      // Continuations append -<generation>, and stay within Step Functions' 80 characters.
      expect(baseOfExecutionName(`${name}-${generation}`)).toBe(name);
      expect(`${name}-${generation}`.length).toBeLessThanOrEqual(80);
    });
  });

  test('property: different CloudFormation request ids of one resource never share an execution', async () => {
    await forEachSeed('execution names are distinct', 50, 4_000, (random) => {
      const key = resourceKey(STACK_ID, random.string(LOWER_ALNUM, 8));
      const names = new Set(Array.from({ length: 200 }, () => executionBaseName(key, randomUUID())));
      expect(names.size).toBe(200);
    });
  });

  test('results keys differ per stack, resource and identity', () => {
    const keys = new Set([
      resultsKey(STACK_ID, 'Waiter', 't-0123456789'),
      resultsKey(STACK_ID, 'Waiter', 't-abcdefghij'),
      resultsKey(STACK_ID, 'Other', 't-0123456789'),
      resultsKey(`${STACK_ID}x`, 'Waiter', 't-0123456789'),
    ]);
    expect(keys.size).toBe(4);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{32}$/);
  });
});
