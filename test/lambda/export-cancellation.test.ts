/**
 * lambda/export-cancellation.ts: a Delete (or an Update that abandons a request) cancels exports
 * through the bundled Neptune Analytics client, here against the emulator. It never throws.
 */
import { exportRequest, useHandlerEnvironment } from './fixtures';
import { cancelExport, cancelExportsStartedFor } from '../../lambda/export-cancellation';
import { ExportFields } from '../../src/runtime/constants';

const env = useHandlerEnvironment();
/** Leaves time for one call but not for waiting on the cancellation to show. */
const soon = () => Date.now() + 2_500;
const cancelCalls = () => env.neptune.calls.filter((c) => c.operation === 'CancelExportTask').map((c) => c.taskId);

describe('cancelExport', () => {
  test('cancels a running export and waits until it shows CANCELLED', async () => {
    const task = env.addTask({ cancellingSeconds: 0 });
    await cancelExport(task.taskId, Date.now() + 30_000);

    expect(cancelCalls()).toEqual([task.taskId]);
    expect(task.status()).toBe('CANCELLED');
    expect(env.logLines.some((line) => line.includes('the export ended') && line.includes('CANCELLED'))).toBe(true);
  });

  test('does not wait past the time it was given for a cancellation that takes long', async () => {
    const task = env.addTask({ cancellingSeconds: 600 });
    const started = Date.now();
    await cancelExport(task.taskId, soon());

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(task.status()).toBe('CANCELLING');
    expect(env.logLines.some((line) => line.includes('still cancelling'))).toBe(true);
  });

  test.each(['SUCCEEDED', 'FAILED'] as const)('leaves an export that already %s alone', async (outcome) => {
    const task = env.addTask({ initializingSeconds: 0, exportingSeconds: 0, outcome });
    await cancelExport(task.taskId, soon());

    expect(cancelCalls()).toEqual([]);
    expect(task.status()).toBe(outcome);
  });

  test('does not throw for an export the service does not know', async () => {
    await expect(cancelExport('t-doesnotexi', soon())).resolves.toBeUndefined();
    expect(env.logLines.some((line) => line.includes('could not cancel the export') && line.includes('ResourceNotFoundException'))).toBe(true);
  });

  test('does not throw when the service refuses the cancellation', async () => {
    const task = env.addTask();
    env.neptune.fault({ operation: 'CancelExportTask', kind: 'conflict' });
    await expect(cancelExport(task.taskId, soon())).resolves.toBeUndefined();
    expect(task.status()).toBe('INITIALIZING');
  });
});

describe('cancelExportsStartedFor', () => {
  test('cancels the running exports matching a request on graph, destination, role, format and key, except the one kept', async () => {
    const request = exportRequest();
    const matching = env.addTask({ cancellingSeconds: 0 });
    const kept = env.addTask();
    const others = [
      env.addTask({ destination: 's3://another-bucket/' }),
      env.addTask({ roleArn: 'arn:aws:iam::123456789012:role/Other' }),
      env.addTask({ format: 'CSV' }),
      env.addTask({ kmsKeyIdentifier: 'arn:aws:kms:us-east-1:123456789012:key/11111111-1111-4111-8111-111111111111' }),
      env.addTask({ graphId: 'g-9999999999' }),
    ];
    await cancelExportsStartedFor([request], kept.taskId, soon());

    expect(cancelCalls()).toEqual([matching.taskId]);
    expect(matching.status()).toBe('CANCELLED');
    for (const task of [kept, ...others]) expect(task.status()).toBe('INITIALIZING');
  });

  test('ignores requests that name no graph, and does not throw when the exports cannot be listed', async () => {
    const task = env.addTask();
    await cancelExportsStartedFor([{ [ExportFields.DESTINATION]: 's3://x/' }, null as never], undefined, soon());
    env.neptune.fault({ operation: 'ListExportTasks', kind: 'accessDenied' });
    await expect(cancelExportsStartedFor([exportRequest()], undefined, soon())).resolves.toBeUndefined();

    expect(cancelCalls()).toEqual([]);
    expect(task.status()).toBe('INITIALIZING');
  });
});
