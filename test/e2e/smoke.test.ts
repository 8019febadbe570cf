import { App, Stack } from 'aws-cdk-lib';
import { ExportTaskWaiter } from '../../src';
import { LocalDeployment } from '../harness/local-deployment';

test('smoke', async () => {
  const app = new App();
  const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
  new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789' });
  const d = await LocalDeployment.start(stack, { verbose: true });
  try {
    d.emulator.addTask({ taskId: 't-0123456789', exportingSeconds: 7200 });
    const answer = await d.run(d.event('Create'));
    console.log(JSON.stringify(answer.body), answer.violations, d.executions.map(e => [e.status, e.transitions, e.error, e.path.slice(-12)]), d.emulator.calls.length);
  } finally { await d.stop(); }
});
