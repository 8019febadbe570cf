/**
 * The errors a `WaitForExportTask` ends with, for `Catch` rules (through the fragment's
 * `toSingleState()`) and alarms. Each fails the execution when not caught; the cause names the task
 * and what happened.
 */
export class ExportTaskErrors {
  /** The export task ended FAILED, CANCELLED or DELETED (or GetExportTask answered without a status). */
  public static readonly TASK_FAILED = 'NeptuneGraphExport.TaskFailed';
  /** The timeout passed (or the fragment's round budget was spent) before the task ended. */
  public static readonly TIMED_OUT = 'NeptuneGraphExport.TimedOut';
  /** GetExportTask failed with an error waiting cannot fix: ResourceNotFound, Validation, AccessDenied. */
  public static readonly READ_FAILED = 'NeptuneGraphExport.ReadFailed';
  /** StartExportTask failed (or returned no task id): no export was started. */
  public static readonly START_FAILED = 'NeptuneGraphExport.StartFailed';

  private constructor() {}
}
