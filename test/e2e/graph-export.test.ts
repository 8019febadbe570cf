/**
 * End-to-end: GraphExport, which starts the export itself, through the local harness (the state
 * machine as synthesized, the handler bundle as shipped, the Neptune Analytics emulator, a virtual
 * clock): start, wait and answer; conflicts and redelivery; updates that keep or replace the export;
 * deletes that cancel it or leave it alone; and long-wait mode, where the custom resource is answered
 * once the task is known and a WaitCondition receives the end of the export.
 */
import { App, CfnElement, CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as neptunegraph from 'aws-cdk-lib/aws-neptunegraph';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  AnswerBody,
  answeredOnce,
  attributesOfEmulatedTask,
  CREATE_FAILED_ID,
  deploymentsStoppedAfterEach,
  getExportTaskCalls,
  receivedAt,
} from './helpers';
import { RecordedSignal, SignalBody } from '../../harness/cloudformation';
import { LocalDeployment, LocalDeploymentOptions } from '../../harness/local-deployment';
import { RecordedCall, TaskScript } from '../../harness/neptune-emulator';
import { exportFingerprint } from '../../lambda/physical-id';
import {
  ExportDestination, ExportFormat, ExportOutputType, ExportTaskWaiter, GraphExport, GraphExportProps, MultiValueHandling, ParquetType,
} from '../../src';
import { WAITER_RESOURCE_TYPE } from '../../src/runtime/constants';

const deploy = deploymentsStoppedAfterEach();

const GRAPH_ID = 'g-abcdef0123';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/S-ExportRole-1A2B3C4D5E6F';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const BUCKET = 's-exportbucket-q1w2e3r4t5y6';
const PREFIX = 'graph-exports/';
/** A running export that exists before the test's request (an earlier Create started it). */
const EXISTING_TASK_ID = 't-0123456789';

/** How every export the emulator starts runs, unless a test says otherwise. */
const TWENTY_MINUTES: TaskScript = { initializingSeconds: 60, exportingSeconds: 19 * 60, vertices: 4242, edges: 8484 };
const FIVE_HOURS: TaskScript = { initializingSeconds: 120, exportingSeconds: 5 * 3600 - 120, vertices: 9_876_543, edges: 12_345_678 };
const endOf = (script: TaskScript) => (script.initializingSeconds ?? 0) + (script.exportingSeconds ?? 0);

const FILTER: GraphExportProps['exportFilter'] = {
  vertexFilter: {
    Person: {
      properties: {
        name: { outputType: ExportOutputType.STRING, sourcePropertyName: 'fullName', multiValueHandling: MultiValueHandling.PICK_FIRST },
        scores: { outputType: ExportOutputType.DOUBLE_ARRAY, multiValueHandling: MultiValueHandling.TO_LIST },
      },
    },
  },
  edgeFilter: { KNOWS: {} },
};
const TAGS = { 'team': 'graph-analytics', 'cost-center': '4711' };

/**
 * Every attribute the constructs expose, by its Fn::GetAtt name (Status, always SUCCEEDED once the
 * resource exists, is in the answer but not exposed).
 */
function attributeValues(result: GraphExport | ExportTaskWaiter): Record<string, string> {
  return {
    TaskId: result.exportTaskId,
    GraphId: result.graphId,
    Format: result.format,
    ParquetType: result.parquetType,
    Destination: result.destination,
    KmsKeyIdentifier: result.kmsKeyIdentifier,
    RoleArn: result.roleArn,
    NumVerticesWritten: Token.asString(result.numVerticesWritten),
    NumEdgesWritten: Token.asString(result.numEdgesWritten),
    TimeElapsedSeconds: Token.asString(result.timeElapsedSeconds),
    StartTime: result.startTime,
  };
}

/** The attributes of an answer that the constructs expose. */
function exposed(attributes: Record<string, string>): Record<string, string> {
  const { Status: _alwaysSucceeded, ...rest } = attributes;
  return rest;
}

interface Exported {
  stack: Stack;
  /** Physical values of the export role, key and bucket, as the deployment should resolve them. */
  options: LocalDeploymentOptions;
}

/**
 * A stack with one GraphExport of a bucket prefix (the bucket deletes its objects with the stack: a
 * second Lambda function in the template), an output per attribute, and the role, key and bucket
 * given known physical values.
 */
function graphExportStack(props: Partial<GraphExportProps> = {}, useGraph = false): Exported {
  const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
  const key = new kms.Key(stack, 'ExportKey', { enableKeyRotation: true });
  const bucket = new s3.Bucket(stack, 'ExportBucket', { autoDeleteObjects: true, removalPolicy: RemovalPolicy.DESTROY });
  const graph = useGraph
    ? new neptunegraph.CfnGraph(stack, 'Graph', { provisionedMemory: 16, replicaCount: 0 })
    : undefined;
  const graphExport = new GraphExport(stack, 'Export', {
    graphId: graph?.attrGraphId ?? GRAPH_ID,
    destination: ExportDestination.fromBucket(bucket, PREFIX),
    encryptionKey: key,
    parquetType: ParquetType.COLUMNAR,
    exportFilter: FILTER,
    tags: TAGS,
    ...props,
  });
  for (const [name, value] of Object.entries(attributeValues(graphExport))) new CfnOutput(stack, `Export${name}`, { value });
  const logicalId = (element: unknown) => stack.getLogicalId(element as CfnElement);
  return {
    stack,
    options: {
      resourceValues: {
        [logicalId(graphExport.role.node.defaultChild)]: { ref: 'S-ExportRole-1A2B3C4D5E6F', attributes: { Arn: ROLE_ARN } },
        [logicalId(key.node.defaultChild)]: { ref: KEY_ARN.split('/')[1], attributes: { Arn: KEY_ARN } },
        [logicalId(bucket.node.defaultChild)]: { ref: BUCKET, attributes: { Arn: `arn:aws:s3:::${BUCKET}` } },
        ...(graph ? { [logicalId(graph)]: { ref: GRAPH_ID, attributes: { GraphId: GRAPH_ID } } } : {}),
      },
    },
  };
}

async function deployExport(props: Partial<GraphExportProps> = {}, script: TaskScript = TWENTY_MINUTES, useGraph = false): Promise<LocalDeployment> {
  const { stack, options } = graphExportStack(props, useGraph);
  const d = await deploy(stack, options);
  d.emulator.startDefaults = script;
  return d;
}

/** StartExportTask as the service received it (camelCase), for every export started. */
function startExportTaskCalls(d: LocalDeployment): RecordedCall[] {
  return d.emulator.calls.filter((call) => call.operation === 'StartExportTask');
}

/** The request the AWS SDK integration must send for the stack above. */
const EXPECTED_REQUEST = {
  graphIdentifier: GRAPH_ID,
  roleArn: ROLE_ARN,
  format: 'PARQUET',
  parquetType: 'COLUMNAR',
  destination: `s3://${BUCKET}/${PREFIX}`,
  kmsKeyIdentifier: KEY_ARN,
  exportFilter: {
    vertexFilter: {
      Person: {
        properties: {
          name: { outputType: 'String', sourcePropertyName: 'fullName', multiValueHandling: 'PICK_FIRST' },
          scores: { outputType: 'Double[]', multiValueHandling: 'TO_LIST' },
        },
      },
    },
    edgeFilter: { KNOWS: {} },
  },
  tags: TAGS,
};

/** The outputs of the stack, as CloudFormation renders them from the answer of the resource that carries the attributes. */
function outputs(d: LocalDeployment, answerData: Record<string, string> | undefined, waiterId = d.waiters()[0].logicalId): Record<string, string> {
  return Object.fromEntries(Object.entries(d.template.Outputs ?? {}).map(([name, output]) => {
    const getAtt = (output.Value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    expect(getAtt?.[0]).toBe(waiterId);
    return [name.replace(/^Export/, ''), answerData?.[getAtt![1]] ?? '<missing>'];
  }));
}

/** The physical id of a GraphExport: its task, and the fingerprint of the export request the handler checked. */
function exportPhysicalId(taskId: string, d: LocalDeployment): string {
  const request = Object.fromEntries(Object.entries(d.properties().Export as Record<string, unknown>).filter(([, v]) => v !== '' && v !== undefined && v !== null));
  return `${taskId}:${exportFingerprint(request)}`;
}

/** Long-wait mode: the waiter created after the WaitCondition reads the finished task; its answer carries the attributes. */
async function readResult(d: LocalDeployment, taskId: string): Promise<{ logicalId: string; data: Record<string, string> }> {
  const result = d.waiters().find((w) => w.type === WAITER_RESOURCE_TYPE && w.logicalId.includes('Result'));
  expect(result).toBeDefined();
  const answer = await d.run(d.event('Create', { logicalId: result!.logicalId, properties: { TaskIdentifier: taskId } }));
  const body = answeredOnce(d, answer);
  expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: taskId });
  return { logicalId: result!.logicalId, data: body.Data ?? {} };
}

describe('Create', () => {
  test('starts one export with the request as configured, waits for it and answers with its attributes', async () => {
    const d = await deployExport();
    const start = d.clock.now();

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    const starts = startExportTaskCalls(d);
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ httpStatus: 201, at: start });
    // PascalCase in the template, camelCase on the wire: label, property and tag keys untouched.
    expect(d.emulator.requestOf(starts[0])).toEqual(EXPECTED_REQUEST);
    const taskId = starts[0].taskId!;
    expect(taskId).toMatch(/^t-[a-z0-9]{10}$/);
    expect(body.PhysicalResourceId).toBe(exportPhysicalId(taskId, d));
    const task = d.emulator.task(taskId)!.describe();
    expect(body.Data).toEqual(attributesOfEmulatedTask(task));
    expect(body.Data).toMatchObject({
      TaskId: taskId,
      GraphId: GRAPH_ID,
      Status: 'SUCCEEDED',
      Format: 'PARQUET',
      ParquetType: 'COLUMNAR',
      Destination: `s3://${BUCKET}/${PREFIX}`,
      KmsKeyIdentifier: KEY_ARN,
      RoleArn: ROLE_ARN,
      NumVerticesWritten: '4242',
      NumEdgesWritten: '8484',
    });
    expect(outputs(d, body.Data)).toEqual(exposed(attributesOfEmulatedTask(task)));
    // Answered just after the export ended, and every read was of the started task.
    expect(receivedAt(answer) - (start + endOf(TWENTY_MINUTES))).toBeGreaterThanOrEqual(0);
    expect(receivedAt(answer) - (start + endOf(TWENTY_MINUTES))).toBeLessThanOrEqual(10);
    expect(new Set(getExportTaskCalls(d).map((call) => call.taskId))).toEqual(new Set([taskId]));
    expect(d.executions).toHaveLength(1);
    expect(d.executions[0].path.slice(0, 5)).toEqual(['StartWaiting', 'ExportToStart', 'StartExportTask', 'ReadStartedTaskId', 'NoteStartedTask']);
  });

  test('exports the graph defined in the stack (its GraphId attribute), without tags or filter', async () => {
    const d = await deployExport({ tags: undefined, exportFilter: undefined, parquetType: undefined }, TWENTY_MINUTES, true);

    const answer = await d.run(d.event('Create'));

    expect(answeredOnce(d, answer).Status).toBe('SUCCESS');
    const { exportFilter: _filter, tags: _tags, parquetType: _parquet, ...plain } = EXPECTED_REQUEST;
    expect(startExportTaskCalls(d).map((call) => d.emulator.requestOf(call))).toEqual([plain]);
  });

  test('fails with the service\'s words when another export of the graph is running (409 Conflict)', async () => {
    const d = await deployExport();
    const start = d.clock.now();
    d.emulator.fault({
      operation: 'StartExportTask',
      kind: 'conflict',
      message: `Graph ${GRAPH_ID} already has an export task in progress`,
    });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('StartExportTask failed');
    expect(body.Reason).toContain('ConflictException');
    expect(body.Reason).toContain(`Graph ${GRAPH_ID} already has an export task in progress`);
    expect(body.PhysicalResourceId).toBe(CREATE_FAILED_ID);
    expect(body.Data).toBeUndefined();
    // Not retried (the export might have started), nothing polled.
    expect(d.emulator.calls.map((call) => [call.operation, call.httpStatus])).toEqual([['StartExportTask', 409]]);
    expect(receivedAt(answer) - start).toBeLessThan(1);
    expect(d.executions[0].path).toContain('StartFailed');
  });

  test('starts only one export when CloudFormation delivers the Create twice', async () => {
    const d = await deployExport();
    const event = d.event('Create');

    await d.invoke(event);
    await d.invoke(event);
    const answer = await d.cloudFormation.answerFor(event.RequestId, 20_000);
    await d.idle();

    expect(answeredOnce(d, answer).Status).toBe('SUCCESS');
    expect(startExportTaskCalls(d)).toHaveLength(1);
    expect(d.executions).toHaveLength(1);
    expect(d.cloudFormation.attempts(event.RequestId)).toHaveLength(1);
    expect((answer.body as AnswerBody).PhysicalResourceId).toBe(exportPhysicalId(startExportTaskCalls(d)[0].taskId!, d));
  });

  test('a format this library does not know (ExportFormat.of) reaches the service, whose ValidationException is the reason', async () => {
    const d = await deployExport({ format: ExportFormat.of('JSON'), parquetType: undefined });

    const answer = await d.run(d.event('Create'));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('StartExportTask failed');
    expect(body.Reason).toContain('ValidationException');
    expect(body.Reason).toContain("Value 'JSON' at 'format' failed to satisfy constraint");
    expect(body.PhysicalResourceId).toBe(CREATE_FAILED_ID);
    expect(d.emulator.calls.map((call) => [call.operation, call.httpStatus])).toEqual([['StartExportTask', 400]]);
  });

  test('fails before starting anything when a value resolved at deploy time is invalid', async () => {
    const d = await deployExport();
    const properties = d.properties();
    const exportRequest = { ...(properties.Export as Record<string, unknown>), RoleArn: 'arn:aws:iam::123:role/too-short-account' };

    const answer = await d.run(d.event('Create', { properties: { Export: exportRequest } }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('Export.RoleArn');
    expect(body.Reason).toContain('"arn:aws:iam::123:role/too-short-account"');
    expect(body.PhysicalResourceId).toBe(CREATE_FAILED_ID);
    expect(d.executions).toEqual([]);
    expect(d.emulator.calls).toEqual([]);
  });
});

describe('Update', () => {
  test('that changes only the timeout waits for the existing export and starts none', async () => {
    const d = await deployExport({ timeout: Duration.minutes(50) });
    const existing = d.emulator.addTask({ ...TWENTY_MINUTES, taskId: EXISTING_TASK_ID, graphId: GRAPH_ID });
    const start = d.clock.now();
    const properties = d.properties();
    expect(properties.TimeoutSeconds).toBe('3000');

    const existingId = exportPhysicalId(EXISTING_TASK_ID, d);
    const answer = await d.run(d.event('Update', {
      physicalResourceId: existingId,
      oldProperties: { ...properties, TimeoutSeconds: '1800' },
    }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    expect(body.PhysicalResourceId).toBe(existingId);
    expect(body.Data).toEqual(attributesOfEmulatedTask(existing.describe()));
    expect(startExportTaskCalls(d)).toEqual([]);
    expect(new Set(getExportTaskCalls(d).map((call) => call.taskId))).toEqual(new Set([EXISTING_TASK_ID]));
    expect(receivedAt(answer)).toBeGreaterThanOrEqual(start + endOf(TWENTY_MINUTES));
    expect(d.executions[0].path).not.toContain('StartExportTask');
  });

  test('that changes the format starts a new export and answers with its id', async () => {
    const d = await deployExport({ format: ExportFormat.CSV, parquetType: undefined });
    d.emulator.addTask({ ...TWENTY_MINUTES, taskId: EXISTING_TASK_ID, graphId: GRAPH_ID });
    // The template now says CSV; the export was PARQUET (COLUMNAR).
    const properties = d.properties();
    expect((properties.Export as Record<string, unknown>).Format).toBe('CSV');

    const answer = await d.run(d.event('Update', {
      physicalResourceId: EXISTING_TASK_ID,
      oldProperties: { ...properties, Export: { ...(properties.Export as object), Format: 'PARQUET', ParquetType: 'COLUMNAR' } },
    }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('SUCCESS');
    const starts = startExportTaskCalls(d);
    expect(starts).toHaveLength(1);
    expect(d.emulator.requestOf(starts[0])).toMatchObject({ format: 'CSV', graphIdentifier: GRAPH_ID });
    expect(d.emulator.requestOf(starts[0])).not.toHaveProperty('parquetType');
    // The new export, then the one it replaces (which a rollback of this Update returns to).
    expect(body.PhysicalResourceId).toBe(`${exportPhysicalId(starts[0].taskId!, d)};${EXISTING_TASK_ID}`);
    expect(body.Data).toMatchObject({ Format: 'CSV', ParquetType: '' });
  });

  test('whose new export cannot start fails keeping the old physical id', async () => {
    const d = await deployExport();
    d.emulator.fault({ operation: 'StartExportTask', kind: 'validation', message: 'Destination bucket is in another region' });
    const properties = d.properties();

    const answer = await d.run(d.event('Update', {
      physicalResourceId: EXISTING_TASK_ID,
      oldProperties: { ...properties, Export: { ...(properties.Export as object), Format: 'CSV', ParquetType: '' } },
    }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('Destination bucket is in another region');
    expect(body.PhysicalResourceId).toBe(EXISTING_TASK_ID);
  });
});

describe('Delete', () => {
  test('with cancelOnDelete cancels the running export and succeeds', async () => {
    const d = await deployExport({ cancelOnDelete: true });
    expect(d.properties().CancelOnDelete).toBe('true');
    const task = d.emulator.addTask({ ...TWENTY_MINUTES, taskId: EXISTING_TASK_ID, graphId: GRAPH_ID, cancellingSeconds: 0 });
    d.clock.advance(300);
    expect(task.status()).toBe('EXPORTING');

    const answer = await d.run(d.event('Delete', { physicalResourceId: EXISTING_TASK_ID }));

    const body = answeredOnce(d, answer);
    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: EXISTING_TASK_ID });
    const calls = d.emulator.calls.map((call) => [call.operation, call.taskId, call.httpStatus]);
    expect(calls).toContainEqual(['CancelExportTask', EXISTING_TASK_ID, 200]);
    expect(calls[0]).toEqual(['GetExportTask', EXISTING_TASK_ID, 200]);
    // The emulated cancellation takes no time (cancellingSeconds: 0): the handler's Date is virtual
    // and does not move while it waits, so it would otherwise poll until its own deadline.
    expect(task.status()).toBe('CANCELLED');
    expect(d.executions).toEqual([]);
  });

  test('without cancelOnDelete leaves the running export alone', async () => {
    const d = await deployExport();
    expect(d.properties()).not.toHaveProperty('CancelOnDelete');
    const task = d.emulator.addTask({ ...TWENTY_MINUTES, taskId: EXISTING_TASK_ID, graphId: GRAPH_ID });
    d.clock.advance(300);

    const answer = await d.run(d.event('Delete', { physicalResourceId: EXISTING_TASK_ID }));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: EXISTING_TASK_ID });
    expect(d.emulator.calls).toEqual([]);
    expect(task.status()).toBe('EXPORTING');
  });

  test('with cancelOnDelete of a finished export makes no CancelExportTask call and succeeds', async () => {
    const d = await deployExport({ cancelOnDelete: true });
    const task = d.emulator.addTask({ ...TWENTY_MINUTES, taskId: EXISTING_TASK_ID, graphId: GRAPH_ID });
    d.clock.advance(endOf(TWENTY_MINUTES) + 60);

    const answer = await d.run(d.event('Delete', { physicalResourceId: EXISTING_TASK_ID }));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: EXISTING_TASK_ID });
    expect(d.emulator.calls.map((call) => call.operation)).toEqual(['GetExportTask']);
    expect(task.status()).toBe('SUCCEEDED');
  });

  test('with cancelOnDelete after a Create that never started an export touches nothing', async () => {
    const d = await deployExport({ cancelOnDelete: true });

    const answer = await d.run(d.event('Delete', { physicalResourceId: CREATE_FAILED_ID }));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: CREATE_FAILED_ID });
    expect(d.emulator.calls).toEqual([]);
  });

  test('with cancelOnDelete succeeds even when the service refuses the cancellation', async () => {
    const d = await deployExport({ cancelOnDelete: true });
    const task = d.emulator.addTask({ ...TWENTY_MINUTES, taskId: EXISTING_TASK_ID, graphId: GRAPH_ID });
    d.emulator.fault({ operation: 'CancelExportTask', kind: 'accessDenied' });

    const answer = await d.run(d.event('Delete', { physicalResourceId: EXISTING_TASK_ID }));

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: EXISTING_TASK_ID });
    expect(task.status()).toBe('INITIALIZING');
    expect(d.logs.some((line) => line.includes('could not cancel the export'))).toBe(true);
  });
});

describe('long-wait mode (timeout over 55 minutes)', () => {
  /** The only WaitCondition of the template, and its handle. */
  function waitCondition(d: LocalDeployment) {
    const conditions = d.waitConditions();
    expect(conditions).toHaveLength(1);
    return conditions[0];
  }

  function onlySignal(d: LocalDeployment, handleLogicalId: string): RecordedSignal & { body: SignalBody } {
    expect(d.cloudFormation.signalAttempts()).toHaveLength(1);
    const signals = d.cloudFormation.signals(handleLogicalId);
    expect(signals).toHaveLength(1);
    return signals[0] as RecordedSignal & { body: SignalBody };
  }

  test('a 5-hour export: the custom resource is answered at start, the WaitCondition signalled at the end with every attribute', async () => {
    const d = await deployExport({ timeout: Duration.hours(6) }, FIVE_HOURS);
    const condition = waitCondition(d);
    const start = d.clock.now();
    const event = d.event('Create');
    expect(event.ResourceProperties.SignalURL).toBe(d.cloudFormation.waitConditionHandle(condition.handleLogicalId));

    const answer = await d.run(event, 60_000);

    // The custom resource: SUCCESS as soon as the export was started.
    const body = answeredOnce(d, answer);
    const taskId = startExportTaskCalls(d)[0].taskId!;
    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: exportPhysicalId(taskId, d), Data: { TaskId: taskId } });
    expect(receivedAt(answer) - start).toBeLessThan(2);
    expect(startExportTaskCalls(d)).toHaveLength(1);

    // The WaitCondition: one SUCCESS signal, seconds after the export ended.
    const end = start + endOf(FIVE_HOURS);
    const signal = onlySignal(d, condition.handleLogicalId);
    expect(signal.violations).toEqual([]);
    expect(signal.body).toMatchObject({ Status: 'SUCCESS', UniqueId: taskId });
    expect(typeof signal.body.Reason).toBe('string');
    expect(signal.receivedAt / 1000).toBeGreaterThanOrEqual(end);
    expect(signal.receivedAt / 1000 - end).toBeLessThanOrEqual(10);
    expect(await d.signalFor(condition.logicalId)).toBe(signal);

    // Then CloudFormation creates the waiter that reads the finished task: its answer carries the
    // attributes, byte for byte what custom-resource mode answers.
    const result = await readResult(d, taskId);
    const task = d.emulator.task(taskId)!.describe();
    expect(outputs(d, result.data, result.logicalId)).toEqual(exposed(attributesOfEmulatedTask(task)));
    expect(outputs(d, result.data, result.logicalId)).toMatchObject({
      TaskId: taskId,
      Destination: `s3://${BUCKET}/${PREFIX}`,
      NumVerticesWritten: '9876543',
      NumEdgesWritten: '12345678',
      TimeElapsedSeconds: String(endOf(FIVE_HOURS)),
    });

    // One execution answered twice (AnswerStarted, then the signal); a second one read the task for the result.
    expect(d.executions).toHaveLength(2);
    expect(d.executions[0].path).toContain('AnswerStarted');
    expect(d.executions[0].path.indexOf('AnswerStarted')).toBeLessThan(d.executions[0].path.indexOf('GetExportTask'));
    // Polling stayed sparse over five hours.
    expect(getExportTaskCalls(d).length).toBeLessThan(200);
  });

  test('an export that FAILS signals FAILURE with the service\'s reason', async () => {
    const d = await deployExport({ timeout: Duration.hours(6) }, {
      ...FIVE_HOURS, outcome: 'FAILED', statusReason: 'Access denied writing to the destination: check the export role',
    });
    const condition = waitCondition(d);

    const answer = await d.run(d.event('Create'), 60_000);

    const body = answeredOnce(d, answer);
    const taskId = startExportTaskCalls(d)[0].taskId!;
    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: exportPhysicalId(taskId, d) });
    const signal = onlySignal(d, condition.handleLogicalId);
    expect(signal.violations).toEqual([]);
    expect(signal.body.Status).toBe('FAILURE');
    expect(signal.body.UniqueId).toBe(taskId);
    expect(signal.body.Reason).toContain(taskId);
    expect(signal.body.Reason).toContain('FAILED');
    expect(signal.body.Reason).toContain('Access denied writing to the destination: check the export role');
    expect(signal.body.Data).toBe(taskId);
  });

  test('an export that cannot start fails the custom resource, and nothing is signalled', async () => {
    const d = await deployExport({ timeout: Duration.hours(6) }, FIVE_HOURS);
    const condition = waitCondition(d);
    d.emulator.fault({ operation: 'StartExportTask', kind: 'conflict', message: `Graph ${GRAPH_ID} already has an export task in progress` });

    const answer = await d.run(d.event('Create'), 60_000);

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('ConflictException');
    expect(body.PhysicalResourceId).toBe(CREATE_FAILED_ID);
    expect(d.cloudFormation.signalAttempts()).toEqual([]);
    await expect(d.cloudFormation.signalFor(condition.handleLogicalId, 10)).rejects.toThrow(/no accepted signal/);
    expect(d.executions[0].path).not.toContain('AnswerStarted');
  });

  test('an ExportTaskWaiter waits for a 5-hour export the same way', async () => {
    const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    const waiter = new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: EXISTING_TASK_ID, timeout: Duration.hours(6) });
    for (const [name, value] of Object.entries(attributeValues(waiter))) new CfnOutput(stack, `Export${name}`, { value });
    const d = await deploy(stack);
    const task = d.emulator.addTask({ ...FIVE_HOURS, taskId: EXISTING_TASK_ID });
    const start = d.clock.now();
    const condition = waitCondition(d);

    const answer = await d.run(d.event('Create'), 60_000);

    expect(answeredOnce(d, answer)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: EXISTING_TASK_ID });
    expect(receivedAt(answer) - start).toBeLessThan(2);
    const signal = onlySignal(d, condition.handleLogicalId);
    expect(signal.body).toMatchObject({ Status: 'SUCCESS', UniqueId: EXISTING_TASK_ID });
    expect(signal.receivedAt / 1000 - (start + endOf(FIVE_HOURS))).toBeLessThanOrEqual(10);
    const result = await readResult(d, EXISTING_TASK_ID);
    expect(outputs(d, result.data, result.logicalId)).toEqual(exposed(attributesOfEmulatedTask(task.describe())));
  });
});

describe('long-wait mode when the export behind a token changes', () => {
  test('fails an Update whose task changed behind the same WaitCondition, instead of handing on the old results', async () => {
    const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    // The task id is a token (here a parameter): its value can change while the template, and so
    // the WaitCondition, stay the same.
    const taskId = new CfnParameter(stack, 'ExportTaskId').valueAsString;
    new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: taskId, timeout: Duration.hours(6) });
    const d = await deploy(stack);
    const oldProperties = { ...d.properties(), TaskIdentifier: EXISTING_TASK_ID };

    const answer = await d.run(d.event('Update', {
      properties: { TaskIdentifier: 't-replaced01' },
      physicalResourceId: EXISTING_TASK_ID,
      oldProperties,
    }));

    const body = answeredOnce(d, answer);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('cannot wait a second time');
    expect(body.Reason).toContain(EXISTING_TASK_ID);
    expect(body.PhysicalResourceId).toBe(EXISTING_TASK_ID);
    expect(d.executions).toEqual([]);
  });
});

describe('the harness', () => {
  test('serves the GraphExport from the waiter function among several, and resolves its properties to physical values', async () => {
    const d = await deployExport({ timeout: Duration.hours(6) });
    expect(Object.values(d.template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(2);
    // The export, and the waiter that reads its results after the WaitCondition.
    expect(d.waiters().map((w) => w.type)).toEqual(['Custom::NeptuneGraphExport', 'Custom::NeptuneGraphExportTaskWaiter']);
    const properties = d.properties();
    expect(properties).toMatchObject({
      ServiceToken: d.functionArn,
      TimeoutSeconds: String(6 * 3600),
      SignalURL: d.cloudFormation.waitConditionHandle(d.waitConditions()[0].handleLogicalId),
      Export: { RoleArn: ROLE_ARN, KmsKeyIdentifier: KEY_ARN, Destination: `s3://${BUCKET}/${PREFIX}`, GraphIdentifier: GRAPH_ID },
    });
    // The handle URL is a bearer credential, like a ResponseURL: checked against the logs too.
    expect(d.cloudFormation.secrets).toContain(properties.SignalURL);
  });

  test('points the handler\'s Neptune Analytics client at the emulator, and restores the environment on stop', async () => {
    const before = process.env.AWS_ENDPOINT_URL_NEPTUNE_GRAPH;
    const { stack, options } = graphExportStack();
    const d = await LocalDeployment.start(stack, options);
    try {
      expect(process.env.AWS_ENDPOINT_URL_NEPTUNE_GRAPH).toBe(d.emulator.endpoint);
    } finally {
      await d.stop();
    }
    expect(process.env.AWS_ENDPOINT_URL_NEPTUNE_GRAPH).toBe(before);
  });
});
