import { ExportFilter, ExportFilterElement } from '../export-filter';
import { ExportFields } from '../runtime/constants';

/** What a StartExportTask request is made of, as values (literals, CloudFormation tokens or JSONPaths). */
export interface ExportRequestValues {
  readonly graphId: unknown;
  readonly roleArn: string;
  readonly format: string;
  readonly destination: string;
  readonly kmsKeyArn: string;
  readonly parquetType?: string;
  readonly exportFilter?: ExportFilter;
  readonly tags?: { [key: string]: string };
}

/**
 * The StartExportTask request in the PascalCase the Step Functions integration takes: the same for
 * a GraphExport (through its custom resource) and the WaitForExportTask fragment.
 */
export function renderExportRequest(values: ExportRequestValues): Record<string, unknown> {
  return {
    [ExportFields.GRAPH_IDENTIFIER]: values.graphId,
    [ExportFields.ROLE_ARN]: values.roleArn,
    [ExportFields.FORMAT]: values.format,
    [ExportFields.DESTINATION]: values.destination,
    [ExportFields.KMS_KEY_IDENTIFIER]: values.kmsKeyArn,
    ...(values.parquetType ? { [ExportFields.PARQUET_TYPE]: values.parquetType } : {}),
    ...(values.exportFilter ? { [ExportFields.EXPORT_FILTER]: filterForService(values.exportFilter) } : {}),
    ...(values.tags && Object.keys(values.tags).length > 0 ? { [ExportFields.TAGS]: values.tags } : {}),
  };
}

/** The filter in the shape (and PascalCase) the Step Functions integration sends to StartExportTask. */
export function filterForService(filter: ExportFilter): Record<string, unknown> {
  const labels = (byLabel: { [label: string]: ExportFilterElement }) =>
    Object.fromEntries(Object.entries(byLabel).map(([label, element]) => [label, {
      ...(element.properties ? {
        Properties: Object.fromEntries(Object.entries(element.properties).map(([name, attributes]) => [name, {
          ...(attributes.outputType ? { OutputType: attributes.outputType.value } : {}),
          ...(attributes.sourcePropertyName ? { SourcePropertyName: attributes.sourcePropertyName } : {}),
          ...(attributes.multiValueHandling ? { MultiValueHandling: attributes.multiValueHandling.value } : {}),
        }])),
      } : {}),
    }]));
  return {
    ...(filter.vertexFilter ? { VertexFilter: labels(filter.vertexFilter) } : {}),
    ...(filter.edgeFilter ? { EdgeFilter: labels(filter.edgeFilter) } : {}),
  };
}
