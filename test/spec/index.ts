/**
 * Spec checks: a synthesized template against AWS's machine-readable specifications.
 *
 *   const findings = specFindings(Template.fromStack(stack).toJSON());
 *   expect(formatFindings(findings)).toBe('');
 */
import { cloudFormationFindings } from './cloudformation-checks';
import { Finding } from './finding';
import { iamFindings } from './iam-checks';
import { SdkRequestSource, stepFunctionsFindings } from './stepfunctions-checks';
import { CfnTemplate } from './template';
import { GRAPH_EXPORT_RESOURCE_TYPE, Props } from '../../src/constants';

export type { Finding, Rule } from './finding';
export { formatFindings } from './finding';
export type { CfnTemplate } from './template';
export type { SdkRequestSource } from './stepfunctions-checks';
export { COMMON_API_ERRORS } from './stepfunctions-checks';
export { specVersions } from './specs';

/**
 * This library's contract between template and state machine: the handler starts the wait loop
 * with a GraphExport's `Export` property as the StartExportTask request, which the task reads
 * through InputPath unchanged.
 */
export const LIBRARY_REQUEST_SOURCES: SdkRequestSource[] = [
  { sdkAction: 'neptunegraph:startExportTask', resourceType: GRAPH_EXPORT_RESOURCE_TYPE, property: Props.EXPORT },
];

export interface SpecCheckOptions {
  /** @default LIBRARY_REQUEST_SOURCES */
  readonly requestSources?: readonly SdkRequestSource[];
}

/** Every disagreement of the template with CloudFormation's, IAM's and the AWS APIs' specifications. */
export function specFindings(template: CfnTemplate, options: SpecCheckOptions = {}): Finding[] {
  return [
    ...cloudFormationFindings(template),
    ...iamFindings(template),
    ...stepFunctionsFindings(template, options.requestSources ?? LIBRARY_REQUEST_SOURCES),
  ];
}
