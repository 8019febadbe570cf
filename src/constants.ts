/**
 * Names shared by the constructs (src/) and the handler (lambda/), so the two cannot drift.
 * Changing any of these after a release replaces or breaks users' deployed resources.
 */

/** CloudFormation resource type of every waiter. Permanent: changing it replaces users' resources. */
export const WAITER_RESOURCE_TYPE = 'Custom::NeptuneGraphExportTaskWaiter';

/** Custom-resource properties the construct sends and the handler reads. */
export const Props = {
  TASK_IDENTIFIER: 'TaskIdentifier',
  TIMEOUT_SECONDS: 'TimeoutSeconds',
  MIN_POLL_SECONDS: 'MinPollIntervalSeconds',
  MAX_POLL_SECONDS: 'MaxPollIntervalSeconds',
} as const;

/** Attributes of the custom resource (Fn::GetAtt names). */
export const Attrs = {
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
} as const;

/**
 * The wait loop invokes the handler with `{ [ANSWER_MARKER]: ... }` to answer CloudFormation;
 * anything else is treated as a CloudFormation event.
 */
export const ANSWER_MARKER = 'neptuneGraphExportWaiterAnswer';

/** Outcomes the wait loop hands to the handler when it answers. */
export const Outcome = {
  TASK_ENDED: 'TASK_ENDED',
  CALL_FAILED: 'CALL_FAILED',
  TIMED_OUT: 'TIMED_OUT',
} as const;

/** Error the handler throws when CloudFormation's ResponseURL keeps refusing the answer. */
export const ANSWER_NOT_DELIVERED = 'AnswerNotDelivered';

/** Task identifiers as the service defines them. */
export const TASK_ID_PATTERN = /^t-[a-z0-9]{10}$/;

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

/** The largest timeout a custom-resource waiter can honour. */
export const MAX_TIMEOUT_SECONDS = Limits.CLOUDFORMATION_MAX_WAIT - Limits.ANSWER_MARGIN;
