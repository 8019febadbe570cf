import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ExportFormat } from './export-format';
import { ExportTaskErrors } from './export-task-errors';
import { _ExportTaskSourceConfig, StartExportOptions, ExportTaskSource } from './export-task-source';
import { renderExportRequest, filterForService } from './private/export-request';
import { at, Intrinsic } from './private/intrinsics';
import { budgetPolicy, lowestMinPollSeconds, MAX_FRAGMENT_ROUNDS } from './private/wait-budget';
import { WaitLoop } from './private/wait-loop';
import { Limits } from './runtime/constants';
import { initialPollState } from './runtime/polling-policy';
import {
  checkDestination, checkExportFilter, checkFormat, checkGraphIdentifier, checkKmsKeyArn, checkPollInterval, checkPollRange,
  checkRoleArn, checkTags, checkTaskIdentifier, show,
} from './runtime/validation';

export interface WaitForExportTaskProps {
  /**
   * The export task to wait for: one started earlier,
   * `ExportTaskSource.fromTaskId(sfn.JsonPath.stringAt('$.taskId'))` (or a literal id), or one the
   * fragment starts first, `ExportTaskSource.startExport({ graphId, role, destination, encryptionKey })`.
   */
  readonly task: ExportTaskSource;
  /**
   * Where the fragment writes the task's fields when it succeeded (see the README for the shape).
   * The fragment also keeps its working state there while it waits.
   * @default '$.exportTask'
   */
  readonly resultPath?: string;
  /**
   * How long to wait for the task to end before failing with `ExportTaskErrors.TIMED_OUT`. It counts
   * the waits between polls; the calls themselves add their own time (under a second each, without retries).
   * @default Duration.minutes(30)
   */
  readonly timeout?: Duration;
  /**
   * The shortest time between two GetExportTask calls. It must be at least the timeout divided by
   * the fragment's round budget (see the README, "History events"): that keeps a wait within its
   * share of the execution's 25,000 history events.
   * @default - 5 seconds, or the shortest the round budget allows for `timeout` when that is longer
   */
  readonly minPollInterval?: Duration;
  /**
   * The longest time between two GetExportTask calls, whatever the task's progress suggests.
   * @default Duration.minutes(15)
   */
  readonly maxPollInterval?: Duration;
}

/**
 * Waits for a Neptune Analytics export task inside your own state machine, or starts one and waits
 * for it: the progress-aware wait loop of `ExportTaskWaiter` and `GraphExport` as Step Functions
 * states, with no Lambda function. On success the task's fields are at `resultPath`; a failure ends
 * in a Fail state with one of the `ExportTaskErrors` (use `toSingleState()` to Catch them). The tasks
 * add the IAM statements they need to the state machine's role.
 *
 * @example
 * declare const exportRole: iam.IRole;
 * declare const bucket: s3.IBucket;
 * declare const key: kms.IKey;
 *
 * const exportGraph = new WaitForExportTask(this, 'ExportGraph', {
 *   task: ExportTaskSource.startExport({
 *     graphId: 'g-0123456789',
 *     role: exportRole,
 *     destination: ExportDestination.fromBucket(bucket, 'nightly/'),
 *     encryptionKey: key,
 *   }),
 *   timeout: Duration.hours(2),
 * });
 * new sfn.StateMachine(this, 'NightlyExport', {
 *   definitionBody: sfn.DefinitionBody.fromChainable(exportGraph.next(new sfn.Succeed(this, 'Done'))),
 * });
 */
export class WaitForExportTask extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  private readonly statePath: string;
  private readonly loop: WaitLoop;

  constructor(scope: Construct, id: string, props: WaitForExportTaskProps) {
    super(scope, id);
    const task = props.task._bind();
    const { timeout, minPoll, maxPoll } = this.checkProps(props, task);
    this.statePath = props.resultPath ?? '$.exportTask';
    this.loop = new WaitLoop(this, {
      statePath: this.statePath,
      policyPath: this.field('policy'),
      // The task's export filter stays in the state while the fragment polls: a ResultSelector sees
      // only the result and the context object (the user's execution input), so there is nothing to
      // merge over it. The filter is at most 64 KiB (checked above), well inside the 256 KiB of state.
      clock: 'budget',
      maxRounds: MAX_FRAGMENT_ROUNDS,
      stateFields: ['taskId', 'policy', 'last', 'poll'],
      stateName: (name) => `${id}: ${name}`,
    });
    const stack = Stack.of(this);
    const exportTasks = stack.formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: '*' });
    const output = this.output();
    const getExportTask = this.loop.pollUntilEnded({
      taskEnded: this.taskEnded(output),
      callFailed: this.fail('ReadFailed', ExportTaskErrors.READ_FAILED,
        Intrinsic.format('GetExportTask of {} failed: {}', this.field('taskId'), Intrinsic.jsonToString(this.field('last.error')))),
      timedOut: this.timedOut('TimedOut', 'did not end within the timeout'),
      roundsExhausted: this.timedOut('RoundBudgetSpent', `did not end within ${MAX_FRAGMENT_ROUNDS} polls (the history-event budget)`),
    }, [exportTasks]);
    const [prepare, loadPolicy] = this.prepare(task.taskId, timeout, minPoll, maxPoll);
    this.startState = prepare;
    this.endStates = [output];
    if (task.startExport) {
      const startFailed = this.fail('StartFailed', ExportTaskErrors.START_FAILED,
        Intrinsic.format('StartExportTask failed: {}', Intrinsic.jsonToString(this.field('last.error'))));
      loadPolicy.next(this.loop.startExport(this.startExportTask(task.startExport, exportTasks), startFailed, getExportTask));
    } else {
      loadPolicy.next(getExportTask);
    }
  }

  private field(name: string): string {
    return at(this.statePath, name);
  }

  private checkProps(props: WaitForExportTaskProps, task: _ExportTaskSourceConfig): { timeout: number; minPoll: number; maxPoll: number } {
    const timeout = (props.timeout ?? Duration.seconds(Limits.DEFAULT_TIMEOUT)).toSeconds();
    const lowest = lowestMinPollSeconds(timeout);
    const minPoll = props.minPollInterval?.toSeconds() ?? Math.max(Limits.DEFAULT_MIN_POLL, lowest);
    const maxPoll = props.maxPollInterval?.toSeconds() ?? Limits.DEFAULT_MAX_POLL;
    const literal = (value: unknown) => value !== undefined && !Token.isUnresolved(value);
    const resultPath = props.resultPath;
    const problems = [
      literal(task.taskId) ? checkTaskIdentifier('taskId', task.taskId) : undefined,
      resultPath !== undefined && !/^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(resultPath)
        ? `resultPath must be a JSONPath to a field such as $.exportTask, got ${show(resultPath)}` : undefined,
      timeout < Limits.MIN_TIMEOUT ? `timeout must be at least ${Limits.MIN_TIMEOUT} seconds, got ${timeout}` : undefined,
      checkPollInterval('minPollInterval', minPoll),
      checkPollInterval('maxPollInterval', maxPoll),
      props.minPollInterval === undefined && minPoll > maxPoll
        ? `timeout (${timeout} s) needs at least ${minPoll} s between polls to stay within ${MAX_FRAGMENT_ROUNDS} polls, more than `
          + `maxPollInterval (${maxPoll} s): raise maxPollInterval or lower timeout`
        : checkPollRange('minPollInterval', minPoll, 'maxPollInterval', maxPoll),
      minPoll < lowest
        ? `minPollInterval (${minPoll} s) must be at least ${lowest} s with a timeout of ${timeout} s: the fragment polls at most `
          + `${MAX_FRAGMENT_ROUNDS} times, to keep within its share of the execution's 25,000 history events; raise minPollInterval or lower timeout`
        : undefined,
      ...(task.startExport ? this.checkStartExport(task.startExport) : []),
    ].filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) throw new Error(`WaitForExportTask ${this.node.path}: ${problems.join('; ')}`);
    return { timeout, minPoll, maxPoll };
  }

  private checkStartExport(request: StartExportOptions): Array<string | undefined> {
    const literal = (value: unknown) => value !== undefined && !Token.isUnresolved(value);
    const format = (request.format ?? ExportFormat.PARQUET).value;
    const parquetType = request.parquetType?.value;
    return [
      literal(request.graphId) ? checkGraphIdentifier('startExport.graphId', request.graphId) : undefined,
      literal(request.destination.uri) ? checkDestination('startExport.destination', request.destination.uri) : undefined,
      literal(request.encryptionKey.keyArn) ? checkKmsKeyArn('startExport.encryptionKey', request.encryptionKey.keyArn) : undefined,
      literal(request.role.roleArn) ? checkRoleArn('startExport.role', request.role.roleArn) : undefined,
      literal(format) ? checkFormat('startExport.format', format, 'startExport.parquetType', parquetType) : undefined,
      request.exportFilter ? checkExportFilter('startExport.exportFilter', filterForService(request.exportFilter)) : undefined,
      request.tags ? checkTags('startExport.tags', request.tags) : undefined,
    ];
  }

  /** The working state: the task id (until started, none), the bookkeeping, then the policy tables. */
  private prepare(taskId: string | undefined, timeout: number, minPoll: number, maxPoll: number): [sfn.Pass, sfn.Pass] {
    const policy = budgetPolicy(minPoll, maxPoll);
    const prepare = new sfn.Pass(this, 'Prepare', {
      stateName: this.loop.name('Prepare'),
      comment: `Wait for the export task at most ${timeout} s, polling every ${minPoll} to ${maxPoll} s.`,
      parameters: {
        ...(taskId === undefined ? {} : sfn.FieldUtils.renderObject({ taskId })),
        last: { task: {}, error: {} },
        poll: { ...initialPollState(policy.fallbackSeconds as number), remainingSeconds: timeout, negativeWaitSeconds: 0 },
      },
      resultPath: this.statePath,
    });
    // A Result, not Parameters: CDK drops null values from Parameters, and the output defaults are nulls.
    const loadPolicy = new sfn.Pass(this, 'LoadPolicy', {
      stateName: this.loop.name('LoadPolicy'),
      result: sfn.Result.fromObject(policy),
      resultPath: this.field('policy'),
    });
    prepare.next(loadPolicy);
    return [prepare, loadPolicy];
  }

  /** StartExportTask, granted on the graph and this account's export tasks, passing only the export role. */
  private startExportTask(request: StartExportOptions, exportTasks: string): tasks.CallAwsService {
    const stack = Stack.of(this);
    const graphArn = stack.formatArn({
      service: 'neptune-graph',
      resource: 'graph',
      // A graph chosen at run time (a JSONPath) is only known to be one of this account's.
      resourceName: sfn.JsonPath.isEncodedJsonPath(request.graphId) ? '*' : request.graphId,
    });
    const { resultSelector, resultPath } = this.loop.startedResult;
    return new tasks.CallAwsService(this, 'StartExportTask', {
      stateName: this.loop.name('StartExportTask'),
      service: 'neptunegraph',
      action: 'startExportTask',
      iamAction: 'neptune-graph:StartExportTask',
      iamResources: [graphArn, exportTasks],
      additionalIamStatements: [new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [request.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'neptune-graph.amazonaws.com' } },
      })],
      parameters: renderExportRequest({
        graphId: request.graphId,
        roleArn: request.role.roleArn,
        format: (request.format ?? ExportFormat.PARQUET).value,
        destination: request.destination.uri,
        kmsKeyArn: request.encryptionKey.keyArn,
        parquetType: request.parquetType?.value,
        exportFilter: request.exportFilter,
        tags: request.tags,
      }),
      resultSelector,
      resultPath,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(30)),
    });
  }

  /** Fills the fields the service left out with null, then succeeds or fails on the status. */
  private taskEnded(output: sfn.IChainable): sfn.IChainable {
    const ended = this.field('ended');
    const completeTask = new sfn.Pass(this, 'CompleteTask', {
      stateName: this.loop.name('CompleteTask'),
      parameters: { 'task.$': Intrinsic.jsonMerge(this.field('policy.taskDefaults'), this.field('last.task')) },
      resultPath: ended,
    });
    const completeDetails = new sfn.Pass(this, 'CompleteDetails', {
      stateName: this.loop.name('CompleteDetails'),
      parameters: { 'value.$': Intrinsic.jsonMerge(this.field('policy.detailsDefaults'), `${ended}.task.ExportTaskDetails`) },
      resultPath: `${ended}.details`,
    });
    const failed = this.fail('TaskFailed', ExportTaskErrors.TASK_FAILED,
      Intrinsic.format('Export task {} ended {}: {}', this.field('taskId'), `${ended}.task.Status`, `${ended}.task.StatusReason`));
    return completeTask.next(completeDetails).next(new sfn.Choice(this, 'Succeeded', { stateName: this.loop.name('Succeeded') })
      .when(sfn.Condition.stringEquals(`${ended}.task.Status`, 'SUCCEEDED'), output)
      .otherwise(failed));
  }

  /** The documented output, in place of the working state. */
  private output(): sfn.Pass {
    const task = (field: string) => `${this.field('ended.task')}.${field}`;
    const details = (field: string) => `${this.field('ended.details.value')}.${field}`;
    return new sfn.Pass(this, 'Output', {
      stateName: this.loop.name('Output'),
      parameters: {
        'exportTaskId.$': this.field('taskId'),
        'graphId.$': task('GraphId'),
        'status.$': task('Status'),
        'statusReason.$': task('StatusReason'),
        'format.$': task('Format'),
        'parquetType.$': task('ParquetType'),
        'destination.$': task('Destination'),
        'kmsKeyIdentifier.$': task('KmsKeyIdentifier'),
        'roleArn.$': task('RoleArn'),
        'startTime.$': details('StartTime'),
        'timeElapsedSeconds.$': details('TimeElapsedSeconds'),
        'numVerticesWritten.$': details('NumVerticesWritten'),
        'numEdgesWritten.$': details('NumEdgesWritten'),
      },
      resultPath: this.statePath,
    });
  }

  private timedOut(id: string, what: string): sfn.IChainable {
    return this.fail(id, ExportTaskErrors.TIMED_OUT, Intrinsic.format(`Export task {} ${what}; last read {}, last error {}`,
      this.field('taskId'), Intrinsic.jsonToString(this.field('last.task')), Intrinsic.jsonToString(this.field('last.error'))));
  }

  /** A Fail with a cause computed first: a Fail's CausePath may hold an intrinsic on AWS, but not in every interpreter. */
  private fail(id: string, error: string, cause: string): sfn.IChainable {
    return new sfn.Pass(this, `Explain${id}`, {
      stateName: this.loop.name(`Explain${id}`),
      parameters: { 'cause.$': cause },
      resultPath: this.field('failure'),
    }).next(new sfn.Fail(this, id, { stateName: this.loop.name(id), error, causePath: this.field('failure.cause') }));
  }
}
