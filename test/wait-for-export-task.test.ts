import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  ExportDestination, ExportFormat, ExportTaskErrors, ExportTaskSource, ExportTaskWaiter, ParquetType, StartExportOptions, WaitForExportTask,
  WaitForExportTaskProps,
} from '../src';
import { MAX_FRAGMENT_ROUNDS } from '../src/private/wait-budget';

type Json = Record<string, any>;
const ROLE_ARN = 'arn:aws:iam::123456789012:role/NeptuneExport';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/01234567-89ab-cdef-0123-456789abcdef';
const EXPORT_TASKS = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':neptune-graph:us-east-1:123456789012:export-task/*']] };

function newStack(): Stack {
  return new Stack(new App(), 'Pipeline', { env: { account: '123456789012', region: 'us-east-1' } });
}

function startExport(stack: Stack, options: Partial<StartExportOptions> = {}): ExportTaskSource {
  return ExportTaskSource.startExport({
    graphId: 'g-0123456789',
    role: iam.Role.fromRoleArn(stack, 'ExportRole', ROLE_ARN),
    destination: ExportDestination.fromS3Uri('s3://analytics-exports/nightly/'),
    encryptionKey: kms.Key.fromKeyArn(stack, 'ExportKey', KEY_ARN),
    ...options,
  });
}

/** A user's state machine: the fragment, then a Succeed. */
function machine(props: (stack: Stack) => WaitForExportTaskProps): { template: Template; states: Record<string, Json>; definition: Json } {
  const stack = newStack();
  const wait = new WaitForExportTask(stack, 'Export', props(stack));
  new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(wait.next(new sfn.Succeed(stack, 'Done'))) });
  const template = Template.fromStack(stack);
  const definition = definitionOf(template);
  return { template, states: definition.States, definition };
}

function definitionOf(template: Template): Json {
  const [resource] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Json[];
  return JSON.parse(resource.Properties.DefinitionString['Fn::Join'][1].map((part: unknown) => (typeof part === 'string' ? part : 'aws')).join(''));
}

function statements(template: Template): Json[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy: Json) => policy.Properties.PolicyDocument.Statement);
}

const byTaskId = () => ({ task: ExportTaskSource.fromTaskId(sfn.JsonPath.stringAt('$.taskId')) });

describe('states', () => {
  test('starts with Prepare, polls with GetExportTask, and ends in Output, every state named after the fragment', () => {
    const { definition, states } = machine(byTaskId);
    expect(definition.StartAt).toBe('Export: Prepare');
    expect(states['Export: Output'].Next).toBe('Done');
    expect(Object.keys(states).filter((name) => name !== 'Done').every((name) => name.startsWith('Export: '))).toBe(true);
    expect(states['Export: GetExportTask']).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:neptunegraph:getExportTask',
      Parameters: { 'TaskIdentifier.$': '$.exportTask.taskId' },
      ResultPath: '$.exportTask.last',
    });
    expect(states['Export: Prepare'].Parameters['taskId.$']).toBe('$.taskId');
  });

  test('waits for a literal task id as given, starting no export', () => {
    const { states } = machine(() => ({ task: ExportTaskSource.fromTaskId('t-0123456789') }));
    expect(states['Export: Prepare'].Parameters.taskId).toBe('t-0123456789');
    expect(states['Export: LoadPolicy'].Next).toBe('Export: GetExportTask');
    expect(Object.keys(states).some((name) => name.includes('StartExportTask'))).toBe(false);
  });

  test('retries and catches GetExportTask errors exactly as the custom resource\'s loop does', () => {
    const { states } = machine(byTaskId);
    const stack = newStack();
    new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789' });
    const customResource = definitionOf(Template.fromStack(stack)).States.GetExportTask;
    const fragment = states['Export: GetExportTask'];
    expect(fragment.Retry).toEqual(customResource.Retry);
    expect(fragment.Catch.map((c: Json) => c.ErrorEquals)).toEqual(customResource.Catch.map((c: Json) => c.ErrorEquals));
    expect(fragment.TimeoutSeconds).toBe(customResource.TimeoutSeconds);
  });

  test('ends every failure in a Fail state with one of the documented error names', () => {
    const { states } = machine((s) => ({ task: startExport(s) }));
    const fails = Object.values(states).filter((state) => state.Type === 'Fail').map((state) => state.Error).sort();
    expect(fails).toEqual([
      'NeptuneGraphExport.ReadFailed', 'NeptuneGraphExport.StartFailed', 'NeptuneGraphExport.TaskFailed',
      'NeptuneGraphExport.TimedOut', 'NeptuneGraphExport.TimedOut',
    ]);
  });

  test('writes its output (and its working state) at resultPath', () => {
    const { states } = machine(() => ({ ...byTaskId(), resultPath: '$.nightly.export' }));
    expect(states['Export: Output'].ResultPath).toBe('$.nightly.export');
    expect(states['Export: GetExportTask'].ResultPath).toBe('$.nightly.export.last');
  });

  test('sends the StartExportTask request a GraphExport sends, JSONPaths included', () => {
    const { states } = machine((s) => ({
      task: startExport(s, {
        graphId: sfn.JsonPath.stringAt('$.graphId'),
        destination: ExportDestination.fromS3Uri(sfn.JsonPath.format('s3://analytics-exports/{}/', sfn.JsonPath.executionName)),
        format: ExportFormat.PARQUET,
        parquetType: ParquetType.COLUMNAR,
        tags: { team: 'graph' },
      }),
    }));
    expect(states['Export: StartExportTask'].Parameters).toEqual({
      'GraphIdentifier.$': '$.graphId',
      'RoleArn': ROLE_ARN,
      'Format': 'PARQUET',
      'Destination.$': "States.Format('s3://analytics-exports/{}/', $$.Execution.Name)",
      'KmsKeyIdentifier': KEY_ARN,
      'ParquetType': 'COLUMNAR',
      'Tags': { team: 'graph' },
    });
  });

  test('can be caught as a single Parallel state by the documented error names', () => {
    const stack = newStack();
    const wait = new WaitForExportTask(stack, 'Export', byTaskId());
    const caught = wait.toSingleState({ stateId: 'ExportOrReport' }).addCatch(new sfn.Pass(stack, 'ReportFailure'), { errors: [ExportTaskErrors.TASK_FAILED] });
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(caught) });
    const state = definitionOf(Template.fromStack(stack)).States.ExportOrReport;
    expect(state.Type).toBe('Parallel');
    expect(state.Catch).toEqual([{ ErrorEquals: ['NeptuneGraphExport.TaskFailed'], Next: 'ReportFailure' }]);
    expect(state.Branches[0].StartAt).toBe('ExportOrReport: Export: Prepare');
  });

  test('two fragments in one state machine do not collide', () => {
    const stack = newStack();
    const first = new WaitForExportTask(stack, 'First', { ...byTaskId(), resultPath: '$.first' });
    const second = new WaitForExportTask(stack, 'Second', { task: ExportTaskSource.fromTaskId(sfn.JsonPath.stringAt('$.otherTaskId')), resultPath: '$.second' });
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(first.next(second)) });
    const states = definitionOf(Template.fromStack(stack)).States;
    expect(states['First: Output'].Next).toBe('Second: Prepare');
  });
});

describe('IAM', () => {
  test('waiting for a task id grants GetExportTask on this account\'s export tasks, and nothing else', () => {
    const { template } = machine(byTaskId);
    expect(statements(template)).toEqual([{ Action: 'neptune-graph:GetExportTask', Effect: 'Allow', Resource: EXPORT_TASKS }]);
  });

  test('starting an export grants StartExportTask on the graph and export tasks, PassRole of the export role to Neptune Analytics only', () => {
    const { template } = machine((s) => ({ task: startExport(s) }));
    expect(statements(template)).toEqual([
      {
        Action: 'neptune-graph:StartExportTask',
        Effect: 'Allow',
        Resource: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':neptune-graph:us-east-1:123456789012:graph/g-0123456789']] }, EXPORT_TASKS],
      },
      { Action: 'iam:PassRole', Condition: { StringEquals: { 'iam:PassedToService': 'neptune-graph.amazonaws.com' } }, Effect: 'Allow', Resource: ROLE_ARN },
      { Action: 'neptune-graph:GetExportTask', Effect: 'Allow', Resource: EXPORT_TASKS },
    ]);
  });

  test('a graph chosen at run time is granted as any graph of the account', () => {
    const { template } = machine((s) => ({ task: startExport(s, { graphId: sfn.JsonPath.stringAt('$.graphId') }) }));
    expect(statements(template)[0].Resource[0]).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':neptune-graph:us-east-1:123456789012:graph/*']] });
  });
});

describe('polling and the history-event bound', () => {
  const policyOf = (states: Record<string, Json>) => states['Export: LoadPolicy'].Result;

  test('polls between the given intervals', () => {
    const { states } = machine(() => ({ ...byTaskId(), minPollInterval: Duration.seconds(10), maxPollInterval: Duration.minutes(2) }));
    const waits: number[] = policyOf(states).waitSeconds;
    expect([Math.min(...waits), Math.max(...waits)]).toEqual([10, 120]);
    expect(states['Export: Prepare'].Parameters.poll.remainingSeconds).toBe(1800);
  });

  test(`raises the default minimum interval so that a 12-hour timeout takes at most ${MAX_FRAGMENT_ROUNDS} polls`, () => {
    const { states } = machine(() => ({ ...byTaskId(), timeout: Duration.hours(12) }));
    const shortest = Math.min(...(policyOf(states).waitSeconds as number[]));
    expect(shortest).toBe(Math.ceil(12 * 3600 / (MAX_FRAGMENT_ROUNDS - 1)));
    expect(states['Export: GuardWait'].Choices[1]).toMatchObject({ Variable: '$.exportTask.poll.rounds', NumericGreaterThanEquals: MAX_FRAGMENT_ROUNDS });
  });
});

describe('validation', () => {
  const fails = (props: (stack: Stack) => WaitForExportTaskProps) => () => machine(props);

  test('fails when a literal task id is not a task id, naming taskId and showing the value', () => {
    expect(fails(() => ({ task: ExportTaskSource.fromTaskId('export-1') })))
      .toThrow(/WaitForExportTask Pipeline\/Export: taskId must be a Neptune Analytics export task id: .*, got "export-1"/);
  });

  test('fails when resultPath is not a path to a field', () => {
    expect(fails(() => ({ ...byTaskId(), resultPath: '$' }))).toThrow(/resultPath must be a JSONPath to a field such as \$\.exportTask, got "\$"/);
  });

  test('fails when minPollInterval would let the wait outrun its history-event budget, naming both options', () => {
    expect(fails(() => ({ ...byTaskId(), timeout: Duration.hours(12), minPollInterval: Duration.seconds(30) })))
      .toThrow(new RegExp(`minPollInterval \\(30 s\\) must be at least 117 s with a timeout of 43200 s: the fragment polls at most ${MAX_FRAGMENT_ROUNDS} times.*raise minPollInterval or lower timeout`));
  });

  test('fails when a timeout needs fewer polls than maxPollInterval allows, naming both options', () => {
    expect(fails(() => ({ ...byTaskId(), timeout: Duration.days(5) })))
      .toThrow(/timeout \(432000 s\) needs at least 1162 s between polls to stay within 373 polls, more than maxPollInterval \(900 s\): raise maxPollInterval or lower timeout/);
  });

  test('fails when minPollInterval exceeds maxPollInterval', () => {
    expect(fails(() => ({ ...byTaskId(), minPollInterval: Duration.minutes(5), maxPollInterval: Duration.minutes(1) })))
      .toThrow(/minPollInterval \(300 s\) must not exceed maxPollInterval \(60 s\)/);
  });

  test('fails when the timeout is shorter than a minute', () => {
    expect(fails(() => ({ ...byTaskId(), timeout: Duration.seconds(30) }))).toThrow(/timeout must be at least 60 seconds, got 30/);
  });

  test('fails when the export request has a bad graph id or destination, naming each', () => {
    expect(fails((s) => ({ task: startExport(s, { graphId: 'my-graph', destination: ExportDestination.fromS3Uri('https://bucket/x') }) })))
      .toThrow(/startExport\.graphId .*"my-graph".*startExport\.destination must be an S3 URI .*"https:\/\/bucket\/x"/);
  });

  test('fails when parquetType is given for a CSV export', () => {
    expect(fails((s) => ({ task: startExport(s, { format: ExportFormat.CSV, parquetType: ParquetType.COLUMNAR }) })))
      .toThrow(/startExport\.parquetType applies to PARQUET exports only/);
  });
});
