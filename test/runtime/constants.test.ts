/**
 * src/runtime/constants.ts: the names deployed stacks and users' alarms depend on. This is the one
 * place in the tests that spells them out on purpose: renaming any of them replaces users' resources
 * or breaks their Fn::GetAtt and alarms, so a rename must fail here, loudly, whatever else follows it.
 * Every other test imports them.
 */
import { CREATE_FAILED_ID } from '../../lambda/common';
import {
  ANSWER_MARKER, ANSWER_NOT_DELIVERED, Env, ExportFields, GRAPH_EXPORT_RESOURCE_TYPE, Limits, MAX_EXPORT_FILTER_BYTES, MAX_LONG_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS, Outcome, ParameterPaths, ResourceAttributes, ResourceProperties, ROUNDS_PER_EXECUTION, WAIT_CONDITION_MAX_WAIT, WaitMetrics,
  WAITER_RESOURCE_TYPE,
} from '../../src/runtime/constants';

describe('names that deployed resources depend on never change', () => {
  test('the custom resource types', () => {
    expect(WAITER_RESOURCE_TYPE).toBe('Custom::NeptuneGraphExportTaskWaiter');
    expect(GRAPH_EXPORT_RESOURCE_TYPE).toBe('Custom::NeptuneGraphExport');
  });

  test('the custom resource properties and the export request fields', () => {
    expect(ResourceProperties).toEqual({
      TASK_IDENTIFIER: 'TaskIdentifier',
      TIMEOUT_SECONDS: 'TimeoutSeconds',
      MIN_POLL_SECONDS: 'MinPollIntervalSeconds',
      MAX_POLL_SECONDS: 'MaxPollIntervalSeconds',
      SIGNAL_URL: 'SignalURL',
      CANCEL_ON_DELETE: 'CancelOnDelete',
      EXPORT: 'Export',
      READS_ENDED_WAIT: 'ReadsEndedWait',
    });
    expect(Object.values(ExportFields).sort()).toEqual(
      ['Destination', 'ExportFilter', 'Format', 'GraphIdentifier', 'KmsKeyIdentifier', 'ParquetType', 'RoleArn', 'Tags'],
    );
  });

  test('the attributes users read with Fn::GetAtt', () => {
    expect(Object.values(ResourceAttributes).sort()).toEqual([
      'Destination', 'Format', 'GraphId', 'KmsKeyIdentifier', 'NumEdgesWritten', 'NumVerticesWritten', 'ParquetType', 'RoleArn', 'StartTime',
      'Status', 'TaskId', 'TimeElapsedSeconds',
    ]);
  });

  test('what a running wait of an earlier version still reads: environment, parameter paths, the answer marker and outcomes', () => {
    expect(Env).toEqual({ STATE_MACHINE_ARN: 'WAIT_LOOP_STATE_MACHINE_ARN', PARAMETER_PREFIX: 'PARAMETER_PREFIX' });
    expect(ParameterPaths).toEqual({ REQUESTS: 'requests', RESULTS: 'results' });
    expect(ANSWER_MARKER).toBe('neptuneGraphExportWaiterAnswer');
    expect(ANSWER_NOT_DELIVERED).toBe('AnswerNotDelivered');
    expect(Outcome).toEqual({ START_FAILED: 'START_FAILED', TASK_ENDED: 'TASK_ENDED', CALL_FAILED: 'CALL_FAILED', TIMED_OUT: 'TIMED_OUT' });
    // A Delete after a failed Create recognises this id as "nothing to clean up".
    expect(CREATE_FAILED_ID).toBe('neptune-graph-export-waiter-create-failed');
  });

  test('the metric names and dimensions users alarm on', () => {
    expect(WaitMetrics).toEqual({
      NAMESPACE: 'NeptuneGraphExport',
      STACK_DIMENSION: 'StackName',
      RESOURCE_DIMENSION: 'LogicalResourceId',
      SUCCEEDED: 'WaitsSucceeded',
      FAILED: 'WaitsFailed',
      TIMED_OUT: 'WaitsTimedOut',
      DURATION: 'ExportDuration',
      VERTICES_WRITTEN: 'VerticesWritten',
      EDGES_WRITTEN: 'EdgesWritten',
    });
  });
});

describe('limits', () => {
  test('a custom resource answers within CloudFormation\'s hour, and a long wait within the WaitCondition\'s 12 hours, keeping the margin to answer', () => {
    expect(MAX_TIMEOUT_SECONDS + Limits.ANSWER_MARGIN).toBe(3600);
    expect(Limits.CLOUDFORMATION_MAX_WAIT).toBe(3600);
    expect(WAIT_CONDITION_MAX_WAIT).toBe(12 * 3600);
    expect(MAX_LONG_TIMEOUT_SECONDS + Limits.ANSWER_MARGIN).toBe(WAIT_CONDITION_MAX_WAIT);
  });

  test('the defaults are inside the ranges the checks accept', () => {
    expect(Limits.DEFAULT_TIMEOUT).toBeGreaterThanOrEqual(Limits.MIN_TIMEOUT);
    expect(Limits.DEFAULT_TIMEOUT).toBeLessThanOrEqual(MAX_TIMEOUT_SECONDS);
    for (const poll of [Limits.DEFAULT_MIN_POLL, Limits.DEFAULT_MAX_POLL]) {
      expect(poll).toBeGreaterThanOrEqual(Limits.LOWEST_MIN_POLL);
      expect(poll).toBeLessThanOrEqual(Limits.HIGHEST_MAX_POLL);
    }
    expect(Limits.DEFAULT_MIN_POLL).toBeLessThanOrEqual(Limits.DEFAULT_MAX_POLL);
  });

  test('an execution continues before Step Functions\' 25,000-event limit even when every poll round uses all its retries', () => {
    // About 27 history events per round in the worst case (src/runtime/constants.ts, ROUNDS_PER_EXECUTION).
    expect(ROUNDS_PER_EXECUTION * 27).toBeLessThan(25_000);
  });

  test('the largest export filter leaves room in Step Functions\' 256 KiB for the old and the new filter of one event', () => {
    expect(2 * MAX_EXPORT_FILTER_BYTES).toBeLessThan(256 * 1024);
  });
});
