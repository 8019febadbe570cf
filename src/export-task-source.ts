import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ExportDestination } from './export-destination';
import { ExportFilter } from './export-filter';
import { ExportFormat, ParquetType } from './export-format';

/** The export a `WaitForExportTask` starts: the StartExportTask request, as a `GraphExport` takes it. */
export interface StartExportOptions {
  /**
   * The id of the graph to export (`g-` and 10 lowercase letters or digits), or a JSONPath to it
   * (`sfn.JsonPath.stringAt('$.graphId')`).
   */
  readonly graphId: string;
  /**
   * The role Neptune Analytics assumes to write the export (trusted by neptune-graph.amazonaws.com,
   * allowed to write the destination and use the key). The fragment passes it: `iam:PassRole` is
   * granted to the state machine's role for this role only, and only to Neptune Analytics.
   */
  readonly role: iam.IRole;
  /** Where to write the export. A URI may be a JSONPath, e.g. `sfn.JsonPath.format('s3://bucket/{}/', ...)`. */
  readonly destination: ExportDestination;
  /** The KMS key that encrypts the exported files. */
  readonly encryptionKey: kms.IKey;
  /**
   * The format of the exported files.
   * @default ExportFormat.PARQUET
   */
  readonly format?: ExportFormat;
  /**
   * The Parquet layout (Parquet exports only).
   * @default - the service's default
   */
  readonly parquetType?: ParquetType;
  /**
   * Which labels and properties to export.
   * @default - the whole graph
   */
  readonly exportFilter?: ExportFilter;
  /**
   * Tags of the export task (at most 50).
   * @default - none
   */
  readonly tags?: { [key: string]: string };
}

/**
 * What a `WaitForExportTask` reads from its `task`: exactly one of the two is set.
 *
 * @internal
 */
export interface _ExportTaskSourceConfig {
  readonly taskId?: string;
  readonly startExport?: StartExportOptions;
}

/**
 * The export task a `WaitForExportTask` waits for: one started earlier, by its id, or one the
 * fragment starts first.
 */
export class ExportTaskSource {
  /**
   * Wait for a task started earlier. A literal id is checked at synth time; a JSONPath is read from
   * the state when the fragment starts.
   *
   * @param taskId the task's id (`t-` and 10 lowercase letters or digits), or a JSONPath to it
   *   (`sfn.JsonPath.stringAt('$.taskId')`)
   */
  public static fromTaskId(taskId: string): ExportTaskSource {
    return new ExportTaskSource({ taskId });
  }

  /**
   * Start an export with StartExportTask, then wait for it. The fragment's role is granted
   * StartExportTask on the graph and `iam:PassRole` of the export role to Neptune Analytics only.
   *
   * @param options the StartExportTask request
   */
  public static startExport(options: StartExportOptions): ExportTaskSource {
    return new ExportTaskSource({ startExport: options });
  }

  // Private: a source is one of the two the factories make. A subclass (in any jsii language) could
  // not provide what the fragment reads, which is internal.
  private constructor(private readonly config: _ExportTaskSourceConfig) {}

  /**
   * The task id or the request, for the fragment.
   *
   * @internal
   */
  public _bind(): _ExportTaskSourceConfig {
    return this.config;
  }
}
