/**
 * Spec checks: a synthesized template against AWS's machine-readable specifications.
 *
 *   const findings = specFindings(Template.fromStack(stack).toJSON());
 *   expect(formatFindings(findings)).toBe('');
 */
import { cloudFormationFindings } from './cloudformation-checks';
import { Finding } from './finding';
import { iamFindings } from './iam-checks';
import { ConditionalGrant, SdkRequestSource, stepFunctionsFindings } from './stepfunctions-checks';
import { CfnTemplate, isIntrinsic } from './template';
import { GRAPH_EXPORT_RESOURCE_TYPE, ResourceProperties } from '../../src/runtime/constants';

export type { Finding, Rule } from './finding';
export { formatFindings } from './finding';
export type { CfnTemplate } from './template';
export type { ConditionalGrant, OptimizedIntegration, SdkRequestSource } from './stepfunctions-checks';
export { COMMON_API_ERRORS, OPTIMIZED_INTEGRATIONS } from './stepfunctions-checks';
export { specVersions } from './specs';

/**
 * This library's contract between template and state machine: the handler starts the wait loop
 * with a GraphExport's `Export` property as the StartExportTask request, which the task reads
 * through InputPath unchanged.
 */
export const LIBRARY_REQUEST_SOURCES: SdkRequestSource[] = [
  { sdkAction: 'neptunegraph:startExportTask', resourceType: GRAPH_EXPORT_RESOURCE_TYPE, property: ResourceProperties.EXPORT },
];

/** The logical ids of a template's GraphExports (for which `where` holds). */
function graphExports(template: CfnTemplate, where: (properties: Record<string, unknown>) => boolean = () => true): string[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, resource]) => resource.Type === GRAPH_EXPORT_RESOURCE_TYPE && where(resource.Properties ?? {}))
    .map(([id]) => id);
}

/**
 * This library's loop has StartExportTask and CancelExportTask states in every stack, but reaches
 * them only for some resources: the handler hands the loop a StartExportTask request only for a
 * GraphExport, and sets cancelOnTimeout only for a GraphExport whose CancelOnDelete is 'true' (it
 * reads `String(CancelOnDelete) === 'true'`; a value computed at deploy time may be 'true').
 */
export const LIBRARY_CONDITIONAL_GRANTS: ConditionalGrant[] = [
  {
    sdkAction: 'neptunegraph:startExportTask',
    reachableWith: `a GraphExport (${GRAPH_EXPORT_RESOURCE_TYPE})`,
    reachers: (template) => graphExports(template),
    // The custom resource's StartExportTask takes the handler's request from the state data; a
    // WaitForExportTask's carries its request in Parameters and is reached by every execution.
    appliesTo: (state) => state.Parameters === undefined && state.Arguments === undefined,
  },
  {
    sdkAction: 'neptunegraph:cancelExportTask',
    reachableWith: `a GraphExport with ${ResourceProperties.CANCEL_ON_DELETE} 'true'`,
    reachers: (template) => graphExports(template, (properties) => {
      const value = properties[ResourceProperties.CANCEL_ON_DELETE];
      return isIntrinsic(value) || String(value) === 'true';
    }),
  },
];

export interface SpecCheckOptions {
  /** @default LIBRARY_REQUEST_SOURCES */
  readonly requestSources?: readonly SdkRequestSource[];
  /** @default LIBRARY_CONDITIONAL_GRANTS */
  readonly conditionalGrants?: readonly ConditionalGrant[];
}

/** Every disagreement of the template with CloudFormation's, IAM's and the AWS APIs' specifications. */
export function specFindings(template: CfnTemplate, options: SpecCheckOptions = {}): Finding[] {
  return [
    ...cloudFormationFindings(template),
    ...iamFindings(template),
    ...stepFunctionsFindings(
      template,
      options.requestSources ?? LIBRARY_REQUEST_SOURCES,
      options.conditionalGrants ?? LIBRARY_CONDITIONAL_GRANTS,
    ),
  ];
}
