/**
 * Names shared by the constructs (src/) and the handler (lambda/), so the two cannot drift.
 * Changing any of these after a release replaces or breaks users' deployed resources.
 */

/** CloudFormation resource type of every waiter. Permanent: changing it replaces users' resources. */
export const WAITER_RESOURCE_TYPE = 'Custom::NeptuneGraphExportTaskWaiter';

/** CloudFormation resource type of every GraphExport. Permanent, like WAITER_RESOURCE_TYPE. */
export const GRAPH_EXPORT_RESOURCE_TYPE = 'Custom::NeptuneGraphExport';

/** Custom-resource properties the constructs send and the handler reads. */
export const ResourceProperties = {
  TASK_IDENTIFIER: 'TaskIdentifier',
  TIMEOUT_SECONDS: 'TimeoutSeconds',
  MIN_POLL_SECONDS: 'MinPollIntervalSeconds',
  MAX_POLL_SECONDS: 'MaxPollIntervalSeconds',
  /** Present in long-wait mode: the WaitConditionHandle the loop signals when the task ends. */
  SIGNAL_URL: 'SignalURL',
  /** GraphExport: 'true' to cancel a still-running export when the resource is deleted. */
  CANCEL_ON_DELETE: 'CancelOnDelete',
  /** GraphExport: the StartExportTask request, PascalCase as the Step Functions integration takes it. */
  EXPORT: 'Export',
  /**
   * 'true' on the waiter that reads a long-wait export's finished task: that export's wait is the
   * first resource's, so the read publishes no metrics of its own.
   */
  READS_ENDED_WAIT: 'ReadsEndedWait',
} as const;

/** Fields of the StartExportTask request (ResourceProperties.EXPORT), PascalCase. */
export const ExportFields = {
  GRAPH_IDENTIFIER: 'GraphIdentifier',
  ROLE_ARN: 'RoleArn',
  FORMAT: 'Format',
  PARQUET_TYPE: 'ParquetType',
  DESTINATION: 'Destination',
  KMS_KEY_IDENTIFIER: 'KmsKeyIdentifier',
  EXPORT_FILTER: 'ExportFilter',
  TAGS: 'Tags',
} as const;

/** Attributes of the custom resource (Fn::GetAtt names). */
export const ResourceAttributes = {
  TASK_ID: 'TaskId',
  GRAPH_ID: 'GraphId',
  STATUS: 'Status',
  FORMAT: 'Format',
  PARQUET_TYPE: 'ParquetType',
  DESTINATION: 'Destination',
  KMS_KEY_IDENTIFIER: 'KmsKeyIdentifier',
  ROLE_ARN: 'RoleArn',
  NUM_VERTICES_WRITTEN: 'NumVerticesWritten',
  NUM_EDGES_WRITTEN: 'NumEdgesWritten',
  TIME_ELAPSED_SECONDS: 'TimeElapsedSeconds',
  START_TIME: 'StartTime',
} as const;


/** Environment variables of the handler function. */
export const Env = {
  STATE_MACHINE_ARN: 'WAIT_LOOP_STATE_MACHINE_ARN',
  /** Parameter Store path under which the handler keeps request secrets and results. */
  PARAMETER_PREFIX: 'PARAMETER_PREFIX',
} as const;

/**
 * Parameter Store paths below the handler's PARAMETER_PREFIX:
 * - REQUESTS: one parameter per waiting request (named after its execution) holding the ResponseURL
 *   and, in long-wait mode, the WaitCondition handle URL, so neither travels through Step Functions
 *   (execution input and history are readable by anyone allowed states:DescribeExecution). Deleted
 *   once the request is answered.
 * - RESULTS: the attributes of each successful answer, per resource and task, so an Update or a
 *   rollback that returns to a task whose record the service no longer has still answers with them.
 *   Deleted with the resource.
 */
export const ParameterPaths = {
  REQUESTS: 'requests',
  RESULTS: 'results',
} as const;

/**
 * Polls per execution of the wait loop before it continues in a new execution. A poll round writes
 * about 13 history events (up to about 27 when every GetExportTask retry is used), and Step Functions
 * fails an execution at 25,000 events: 600 rounds stay below about 16,500 in the worst case.
 */
export const ROUNDS_PER_EXECUTION = 600;

/**
 * The largest export filter (serialized JSON) the waiter accepts. CloudFormation hands the handler
 * the old and new properties in one event, and Step Functions caps state data at 256 KiB: a larger
 * filter could leave a request that nobody answers.
 */
export const MAX_EXPORT_FILTER_BYTES = 64 * 1024;

/**
 * The wait loop invokes the handler with `{ [ANSWER_MARKER]: ... }` to answer CloudFormation;
 * anything else is treated as a CloudFormation event.
 */
export const ANSWER_MARKER = 'neptuneGraphExportWaiterAnswer';

/** Outcomes the wait loop hands to the handler when it answers. */
export const Outcome = {
  START_FAILED: 'START_FAILED',
  TASK_ENDED: 'TASK_ENDED',
  CALL_FAILED: 'CALL_FAILED',
  TIMED_OUT: 'TIMED_OUT',
} as const;

/** Error the handler throws when CloudFormation's ResponseURL keeps refusing the answer. */
export const ANSWER_NOT_DELIVERED = 'AnswerNotDelivered';

/** Identifiers and ARNs as the service defines them. */
export const TASK_ID_PATTERN = /^t-[a-z0-9]{10}$/;
export const GRAPH_ID_PATTERN = /^g-[a-z0-9]{10}$/;
export const ROLE_ARN_PATTERN = /^arn:aws[^:]*:iam::\d{12}:(role|role\/service-role)(\/[\w+=,.@-]+)+$/;
export const KMS_KEY_ARN_PATTERN = /^arn:aws[^:]*:kms:[a-zA-Z0-9-]*:[0-9]{12}:key\/[a-zA-Z0-9-]{36}$/;
export const OUTPUT_NAME_PATTERN = /^[a-zA-Z0-9_]{1,128}$/;


/** Timeouts and poll intervals, in seconds. */
export const Limits = {
  DEFAULT_TIMEOUT: 30 * 60,
  /**
   * CloudFormation waits at most 3600 s for a custom resource. The loop may answer up to
   * ANSWER_MARGIN after its deadline (one last GetExportTask with its retries, then the answer).
   */
  CLOUDFORMATION_MAX_WAIT: 3600,
  ANSWER_MARGIN: 5 * 60,
  MIN_TIMEOUT: 60,
  DEFAULT_MIN_POLL: 5,
  DEFAULT_MAX_POLL: 15 * 60,
  LOWEST_MIN_POLL: 1,
  HIGHEST_MAX_POLL: 60 * 60,
} as const;

/** The largest timeout a custom resource can honour; longer waits use a WaitCondition. */
export const MAX_TIMEOUT_SECONDS = Limits.CLOUDFORMATION_MAX_WAIT - Limits.ANSWER_MARGIN;

/** A WaitCondition waits at most 12 hours; the loop keeps the same margin to signal. */
export const WAIT_CONDITION_MAX_WAIT = 12 * 3600;
export const MAX_LONG_TIMEOUT_SECONDS = WAIT_CONDITION_MAX_WAIT - Limits.ANSWER_MARGIN;

/**
 * CloudWatch metrics the handler publishes, as Embedded Metric Format lines in its own log (no
 * cloudwatch:PutMetricData, no Lambda per poll), once per wait that ends (lambda/wait-metrics.ts):
 * not for an Update or rollback that only re-reads the task the resource already has. The constructs'
 * `metric*` methods name the same metrics. Changing a name after a release breaks users' alarms.
 */
export const WaitMetrics = {
  NAMESPACE: 'NeptuneGraphExport',
  /** Dimensions: the stack's name and the logical id of the custom resource whose wait ended. */
  STACK_DIMENSION: 'StackName',
  RESOURCE_DIMENSION: 'LogicalResourceId',
  /** 1 per wait that ended with the task SUCCEEDED. */
  SUCCEEDED: 'WaitsSucceeded',
  /** 1 per wait that failed the deployment: the export could not be started, the task failed, was cancelled or deleted, could not be read, or the wait timed out. */
  FAILED: 'WaitsFailed',
  /** 1 per wait that failed because the timeout passed (also counted in FAILED). */
  TIMED_OUT: 'WaitsTimedOut',
  /** Seconds the export ran (the task's TimeElapsedSeconds), for succeeded exports. */
  DURATION: 'ExportDuration',
  /** Vertices and edges the export wrote, for succeeded exports. */
  VERTICES_WRITTEN: 'VerticesWritten',
  EDGES_WRITTEN: 'EdgesWritten',
} as const;
