/**
 * `npm run example:nightly-export`: the nightly export's state machine exactly as `cdk synth` emits
 * it, run for three nights in the local harness (harness/user-state-machine.ts) on virtual time,
 * against the Neptune Analytics emulator: an export that succeeds after two hours, one that fails
 * with the service's reason, and one that fails because the graph does not exist.
 */
import { App } from 'aws-cdk-lib';
import { NightlyExportStack } from './stack';
import { TaskScript } from '../../harness/neptune-emulator';
import { UserStateMachine } from '../../harness/user-state-machine';

const NIGHTS: Array<{ name: string; graphId: string; export: TaskScript }> = [
  { name: 'night-2026-11-27', graphId: 'g-0123456789', export: { initializingSeconds: 60, exportingSeconds: 2 * 3600, vertices: 4242, edges: 8484 } },
  {
    name: 'night-2026-11-28',
    graphId: 'g-0123456789',
    export: { exportingSeconds: 1800, outcome: 'FAILED', statusReason: 'The export role cannot write to the destination bucket' },
  },
  { name: 'night-2026-11-29', graphId: 'g-0deleted00', export: {} },
];

async function main(): Promise<void> {
  const stack = new NightlyExportStack(new App(), 'NightlyGraphExport', { env: { account: '123456789012', region: 'us-east-1' } });
  for (const night of NIGHTS) {
    const machine = await UserStateMachine.start(stack, {
      parameters: { GraphId: night.graphId },
      // The downstream Lambda step, answered locally as the optimized lambda:invoke integration would.
      tasks: { PublishLatestExport: async () => ({ StatusCode: 200, Payload: { latest: 's3://exports/nightly/latest.json' } }) },
    });
    try {
      machine.emulator.startDefaults = night.export;
      if (night.graphId === 'g-0deleted00') {
        machine.emulator.fault({ operation: 'StartExportTask', kind: 'notFound', message: `Graph ${night.graphId} not found` });
      }
      const execution = await machine.run({}, night.name);
      // The virtual clock counts seconds.
      const hours = ((execution.endedAt ?? execution.startedAt) - execution.startedAt) / 3600;
      const polls = execution.path.filter((state) => state.endsWith('GetExportTask')).length;
      console.log(`${night.name}: ${execution.status} after ${hours.toFixed(2)} h (virtual), ${polls} polls, ${execution.historyEvents} history events`);
      if (execution.status === 'SUCCEEDED') console.log(`  output: ${JSON.stringify(execution.output?.exportTask)}`);
      else console.log(`  ${execution.error}: ${execution.cause}`);
    } finally {
      await machine.stop();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
