/** A disagreement between a template and an AWS specification. */
export interface Finding {
  /** The logical id of the resource (or `Outputs.<name>`) the finding is about. */
  readonly resource: string;
  /** Where in it: `Properties.PolicyDocument.Statement[2].Resource[0]`, `States.GetExportTask.Retry[0]`. */
  readonly path: string;
  readonly rule: Rule;
  readonly message: string;
  /** The specification entry that shows it: package, file, key. */
  readonly evidence: string;
}

export type Rule =
  | 'cfn/unknown-resource-type'
  | 'cfn/unknown-property'
  | 'cfn/missing-required-property'
  | 'cfn/property-shape'
  | 'cfn/unknown-reference'
  | 'cfn/unknown-attribute'
  | 'iam/unknown-action'
  | 'iam/resource-mismatch'
  | 'iam/unknown-condition-key'
  | 'sfn/definition-unreadable'
  | 'sfn/asl-invalid'
  | 'sfn/unchecked-task-resource'
  | 'sfn/unknown-sdk-service'
  | 'sfn/unknown-sdk-action'
  | 'sfn/unknown-parameter'
  | 'sfn/missing-parameter'
  | 'sfn/parameter-shape'
  | 'sfn/unknown-result-member'
  | 'sfn/unknown-error'
  | 'sfn/task-iam-action';

/** One finding per paragraph: where, which rule, what, and the proof. */
export function formatFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => `[${f.rule}] ${f.resource} ${f.path}\n    ${f.message}\n    spec: ${f.evidence}`)
    .join('\n');
}
