/**
 * End-to-end: the export started by an `AwsCustomResource` calling Neptune Analytics StartExportTask
 * (examples/aws-custom-resource-export), and the ExportTaskWaiter on the task id it returned, in one
 * stack. aws-cdk-lib's own AwsCustomResource handler calls the emulator and answers the CloudFormation
 * receiver (see harness/aws-custom-resource.ts for the two things it cannot do here); CloudFormation
 * hands its `taskId` to the waiter, which the local deployment runs as it ships.
 */
import { App } from 'aws-cdk-lib';
import { AnswerBody, answeredOnce, attributesOfEmulatedTask, deploymentsStoppedAfterEach, getExportTaskCalls, receivedAt } from './helpers';
import { EXPORT_PREFIX, PLACEHOLDER_GRAPH_ID, StartedExportStack } from '../../examples/aws-custom-resource-export/stack';
import { AwsCustomResourceFunction } from '../../harness/aws-custom-resource';
import { CustomResourceEvent, RecordedAnswer } from '../../harness/cloudformation';
import { LocalDeployment } from '../../harness/local-deployment';
import { TaskScript } from '../../harness/neptune-emulator';
import { resolve } from '../../harness/template';

const deploy = deploymentsStoppedAfterEach();

const TWENTY_MINUTES: TaskScript = { initializingSeconds: 60, exportingSeconds: 19 * 60, vertices: 4242, edges: 8484 };
const TASK_ID = /^t-[a-z0-9]{10}$/;

interface Started {
  d: LocalDeployment;
  startExport: AwsCustomResourceFunction;
}

async function deployExample(script: TaskScript = TWENTY_MINUTES): Promise<Started> {
  const d = await deploy(new StartedExportStack(new App(), 'StartedExport'));
  d.emulator.startDefaults = script;
  return { d, startExport: new AwsCustomResourceFunction(d.template, { neptuneGraphEndpoint: d.emulator.endpoint }) };
}

/** Invokes aws-cdk-lib's handler; its answer as CloudFormation received it. It never logs the ResponseURL. */
async function handle(started: Started, event: CustomResourceEvent): Promise<RecordedAnswer> {
  await started.startExport.invoke(event);
  const answer = await started.d.cloudFormation.answerFor(event.RequestId);
  const secrets = started.d.cloudFormation.secrets;
  expect(started.startExport.logs.filter((line) => secrets.some((secret) => line.includes(secret)))).toEqual([]);
  return answer;
}

/** What CloudFormation puts in the waiter's TaskIdentifier: its Fn::GetAtt, read from the AwsCustomResource's answer. */
function taskIdentifierFor(d: LocalDeployment, startExportId: string, answer: AnswerBody): string {
  const expression = d.waiters()[0].properties.TaskIdentifier;
  expect(expression).toEqual({ 'Fn::GetAtt': [startExportId, 'taskId'] });
  return String(resolve(expression, { partition: 'aws', region: 'us-east-1', account: '123456789012', arns: {}, attributes: { [startExportId]: answer.Data ?? {} } }));
}

describe('an export started by an AwsCustomResource, waited for by ExportTaskWaiter', () => {
  test('the AwsCustomResource starts the export; the waiter waits for the task id it returned and answers SUCCESS with the task\'s attributes', async () => {
    const started = await deployExample();
    const { d, startExport } = started;
    const startId = startExport.logicalIds()[0];
    const t0 = d.clock.now();

    const start = answeredOnce(d, await handle(started, startExport.event(d.cloudFormation, 'Create')));

    // StartExportTask reached the service once, with the stack's graph, role, key and prefix.
    const starts = d.emulator.calls.filter((call) => call.operation === 'StartExportTask');
    expect(starts.map((call) => call.httpStatus)).toEqual([201]);
    const request = d.emulator.requestOf(starts[0]) as Record<string, string>;
    expect(request).toMatchObject({
      graphIdentifier: PLACEHOLDER_GRAPH_ID,
      format: 'PARQUET',
      parquetType: 'COLUMNAR',
      destination: expect.stringMatching(new RegExp(`^s3://[a-z0-9.-]+/${EXPORT_PREFIX}$`)),
      roleArn: expect.stringMatching(/^arn:aws:iam::123456789012:role\/ExportRole/),
      kmsKeyIdentifier: expect.stringMatching(/^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36}$/),
    });
    // The task id is the physical id, and the only attribute (outputPaths).
    expect(start.Status).toBe('SUCCESS');
    expect(start.PhysicalResourceId).toMatch(TASK_ID);
    expect(start.Data).toEqual({ taskId: start.PhysicalResourceId });
    expect(d.emulator.task(start.PhysicalResourceId)?.status()).toBe('INITIALIZING');

    const taskId = taskIdentifierFor(d, startId, start);
    const answer = await d.run(d.event('Create', { properties: { TaskIdentifier: taskId } }));

    const body = answeredOnce(d, answer);
    const task = d.emulator.task(taskId)!.describe();
    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: taskId, Data: attributesOfEmulatedTask(task) });
    expect(body.Data).toMatchObject({ Status: 'SUCCEEDED', Destination: request.destination, NumVerticesWritten: '4242', NumEdgesWritten: '8484' });
    // Answered once the export ended (20 minutes), not before.
    expect(receivedAt(answer) - t0).toBeGreaterThanOrEqual(20 * 60);
    expect(receivedAt(answer) - t0).toBeLessThan(21 * 60);
    expect(getExportTaskCalls(d).length).toBeGreaterThan(1);
    expect(d.cloudFormation.unanswered()).toEqual([]);
  });

  test('aws-cdk-lib\'s handler answers on https port 443 whatever the ResponseURL says, and falls back to the installed SDK when npm is out of reach', async () => {
    const started = await deployExample();
    const { d, startExport } = started;
    const event = startExport.event(d.cloudFormation, 'Create');

    answeredOnce(d, await handle(started, event));

    // The facts harness/aws-custom-resource.ts works around; if aws-cdk-lib changes them, this fails.
    const url = new URL(event.ResponseURL);
    expect(startExport.answerRequests).toEqual([{ hostname: url.hostname, port: undefined, path: `${url.pathname}${url.search}`, method: 'PUT' }]);
    expect(event.ResourceProperties.InstallLatestAwsSdk).toBe('true');
    expect(startExport.installAttempts).toEqual([expect.stringContaining('npm install "@aws-sdk/client-neptune-graph"')]);
  });

  test('an update of the export starts a new task, and the waiter waits for the new one', async () => {
    const started = await deployExample();
    const { d, startExport } = started;
    const startId = startExport.logicalIds()[0];
    const first = answeredOnce(d, await handle(started, startExport.event(d.cloudFormation, 'Create')));
    const firstTaskId = taskIdentifierFor(d, startId, first);
    answeredOnce(d, await d.run(d.event('Create', { properties: { TaskIdentifier: firstTaskId } })));

    // Another destination prefix, say: CloudFormation sends Update with the old properties.
    const old = startExport.properties(startId);
    const changed = String(old.Update).replace(`/${EXPORT_PREFIX}`, '/exports-v2/');
    const update = answeredOnce(d, await handle(started, startExport.event(d.cloudFormation, 'Update', {
      physicalResourceId: first.PhysicalResourceId, oldProperties: old, properties: { Create: changed, Update: changed },
    })));

    expect(update.Status).toBe('SUCCESS');
    expect(update.PhysicalResourceId).toMatch(TASK_ID);
    expect(update.PhysicalResourceId).not.toBe(first.PhysicalResourceId);
    const secondTaskId = taskIdentifierFor(d, startId, update);
    expect(d.emulator.task(secondTaskId)?.describe().destination).toMatch(/\/exports-v2\/$/);

    const answer = await d.run(d.event('Update', {
      properties: { TaskIdentifier: secondTaskId },
      physicalResourceId: firstTaskId,
      oldProperties: { ...d.properties(), TaskIdentifier: firstTaskId },
    }));
    const body = answeredOnce(d, answer);
    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${secondTaskId};${firstTaskId}`, Data: attributesOfEmulatedTask(d.emulator.task(secondTaskId)!.describe()) });
  });

  test('when StartExportTask is refused, the AwsCustomResource fails with the service\'s message and no task exists to wait for', async () => {
    const started = await deployExample();
    const { d, startExport } = started;
    d.emulator.fault({ operation: 'StartExportTask', kind: 'conflict', message: 'Another export task is running for graph g-0123456789' });

    const start = answeredOnce(d, await handle(started, startExport.event(d.cloudFormation, 'Create')));

    expect(start.Status).toBe('FAILED');
    expect(start.Reason).toContain('Another export task is running for graph g-0123456789');
    expect(start.Data).toEqual({});
    // Its physical id is the function's log stream: nothing the waiter could wait for.
    expect(start.PhysicalResourceId).not.toMatch(TASK_ID);
    // Every attempt was refused, so no task was created. (There are two: the emulator's Date header is real
    // time, the clients' clock virtual, so the SDK corrects a clock skew and retries once.)
    const attempts = d.emulator.calls.filter((call) => call.operation === 'StartExportTask');
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.every((call) => call.httpStatus === 409)).toBe(true);
  });
});
