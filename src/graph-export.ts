import { Aws, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ExportDestination } from './export-destination';
import { ExportFilter } from './export-filter';
import { ExportFormat, ParquetType } from './export-format';
import { ExportWaitOptions } from './export-task-result';
import { filterForService, renderExportRequest } from './private/export-request';
import { ExportTaskResultBase } from './private/export-task-result-base';
import { checkWaitOptions, waitForExportTask } from './private/export-wait';
import { ExportedFiles } from './private/exported-files';
import { explainExportRoleFindings } from './private/nag-suppressions';
import { GRAPH_EXPORT_RESOURCE_TYPE, ResourceProperties } from './runtime/constants';
import {
  checkDestination, checkExportFilter, checkFormat, checkGraphIdentifier, checkKmsKeyArn, checkRoleArn, checkTags, show,
} from './runtime/validation';

/** Properties of a GraphExport. */
export interface GraphExportProps extends ExportWaitOptions {
  /**
   * The id of the graph to export: `g-` and 10 lowercase letters or digits, or a token (for a
   * `CfnGraph` of this app, its GraphId attribute). A literal is checked at synth time, a token at
   * deploy time.
   */
  readonly graphId: string;

  /** Where to write the export. */
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
   * The role Neptune Analytics assumes to write the export.
   * @default - a role trusted by neptune-graph.amazonaws.com (for this account only) that may write
   * to the destination prefix and use the encryption key
   */
  readonly role?: iam.IRole;

  /**
   * Tags of the export task (at most 50).
   * @default - none
   */
  readonly tags?: { [key: string]: string };

  /**
   * Whether deleting the resource (or rolling back its creation) cancels the export when it is still
   * running. Delete waits for the cancellation at most 30 seconds and always succeeds. Exported data
   * and finished tasks are never touched.
   * @default false
   */
  readonly cancelOnDelete?: boolean;
}

/**
 * Exports an Amazon Neptune Analytics graph to S3, waits for the export to end and exposes its
 * results: "export this graph to this bucket as Parquet, then continue".
 *
 * Any change to what is exported starts a new export (the resource's physical id is the task id).
 * Timeouts over 55 minutes, up to 11 hours 55 minutes, wait with a CloudFormation WaitCondition.
 * The stack's waiters and exports share one handler function and one state machine
 * (`handlerFunction`, `stateMachine`).
 *
 * @example
 * declare const bucket: s3.IBucket;
 * declare const key: kms.IKey;
 * declare const analytics: lambda.IFunction;
 *
 * const graphExport = new GraphExport(this, 'NightlyExport', {
 *   graphId: 'g-0123456789',
 *   destination: ExportDestination.fromBucket(bucket, 'nightly/'),
 *   encryptionKey: key,
 *   timeout: Duration.hours(2),
 * });
 * graphExport.grantRead(analytics);
 * new cloudwatch.Alarm(this, 'ExportFailed', {
 *   metric: graphExport.metricWaitsFailed(),
 *   threshold: 1,
 *   evaluationPeriods: 1,
 * });
 */
export class GraphExport extends ExportTaskResultBase {
  /** The role Neptune Analytics uses to write the export. */
  public readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: GraphExportProps) {
    let role: iam.IRole | undefined;
    super(scope, id, (self) => {
      const started = startExport(self, props);
      role = started.role;
      return started;
    });
    this.role = role!;
  }
}

/** Validates the props, creates the export role (unless given) and the custom resource that exports and waits. */
function startExport(self: Construct, props: GraphExportProps) {
  const graphId = props.graphId;
  const format = (props.format ?? ExportFormat.PARQUET).value;
  const parquetType = props.parquetType?.value;
  const keyArn = props.encryptionKey.keyArn;
  const destination = props.destination;

  const literal = (value: unknown) => value !== undefined && !Token.isUnresolved(value);
  checkWaitOptions(self, 'GraphExport', props, [
    literal(graphId) ? checkGraphIdentifier('graphId', graphId) : undefined,
    literal(destination.uri) ? checkDestination('destination', destination.uri) : undefined,
    literal(keyArn) ? checkKmsKeyArn('encryptionKey', keyArn) : undefined,
    props.role && literal(props.role.roleArn) ? checkRoleArn('role', props.role.roleArn) : undefined,
    literal(format) && (parquetType === undefined || literal(parquetType)) ? checkFormat('format', format, 'parquetType', parquetType) : undefined,
    props.exportFilter ? checkExportFilter('exportFilter', filterForService(props.exportFilter)) : undefined,
    props.tags ? checkTags('tags', props.tags) : undefined,
    // A literal URI that is not an S3 URI is reported by checkDestination above.
    !props.role && !destination.bucket && !literal(destination.bucketName) && !literal(destination.uri)
      ? `a destination given as a token URI (${show(destination.uri)}) needs a role: the default role cannot be scoped to it`
      : undefined,
  ]);

  const role = props.role ?? defaultRole(self, destination, props.encryptionKey);
  const request = renderExportRequest({
    graphId,
    roleArn: role.roleArn,
    format,
    destination: destination.uri,
    kmsKeyArn: keyArn,
    parquetType,
    exportFilter: props.exportFilter,
    tags: props.tags,
  });
  const wait = waitForExportTask(self, {
    resourceType: GRAPH_EXPORT_RESOURCE_TYPE,
    properties: {
      [ResourceProperties.EXPORT]: request,
      ...(props.cancelOnDelete ? { [ResourceProperties.CANCEL_ON_DELETE]: 'true' } : {}),
    },
    options: props,
    identity: request,
  });

  const graphArn = Stack.of(self).formatArn({ service: 'neptune-graph', resource: 'graph', resourceName: graphId });
  wait.infrastructure.allowStartingExports(graphArn, role);
  if (props.cancelOnDelete) wait.infrastructure.allowCancellingExports();
  // The export starts as soon as the resource is created: the role must be able to write by then.
  wait.resource.node.addDependency(role);
  return { wait, role, files: ExportedFiles.of(destination, props.encryptionKey) };
}

/** A role for Neptune Analytics with exactly what an export needs: write the prefix, use the key. */
function defaultRole(self: Construct, destination: ExportDestination, key: kms.IKey): iam.IRole {
  const role = new iam.Role(self, 'ExportRole', {
    assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    }),
    description: 'Lets Neptune Analytics write a graph export',
  });
  const bucketArn = destination.bucket?.bucketArn ?? `arn:${Aws.PARTITION}:s3:::${destination.bucketName}`;
  const prefix = destination.keyPrefix ?? '';
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
    resources: [`${bucketArn}/${prefix}*`],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['s3:ListBucket'],
    resources: [bucketArn],
    ...(prefix ? { conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } } } : {}),
  }));
  key.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:DescribeKey');
  // A bucket encrypted with its own key needs that key too.
  destination.bucket?.encryptionKey?.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
  explainExportRoleFindings(role, destination.bucketName, destination.bucket, prefix);
  return role;
}
