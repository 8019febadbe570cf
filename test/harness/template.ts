/**
 * Reads what a deployment needs out of a synthesized CloudFormation template: the state machine
 * definition with its few intrinsics evaluated, the waiter function's environment, and the
 * custom resources' properties, as CloudFormation would hand them over.
 */

export type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

export interface Pseudo {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** What Fn::GetAtt [logicalId, 'Arn'] and Ref resolve to, by logical id. */
  readonly arns: Record<string, string>;
}

/** Evaluates Fn::Join, Ref and Fn::GetAtt (Arn only): all a synthesized definition uses. */
export function resolve(value: unknown, pseudo: Pseudo): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, pseudo));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolve(p, pseudo))).join(separator);
  }
  if (keys.length === 1 && keys[0] === 'Ref') {
    const ref = object.Ref as string;
    const known: Record<string, string> = {
      'AWS::Partition': pseudo.partition,
      'AWS::Region': pseudo.region,
      'AWS::AccountId': pseudo.account,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const resolved = known[ref] ?? pseudo.arns[ref];
    if (resolved === undefined) throw new Error(`Cannot resolve Ref ${ref}`);
    return resolved;
  }
  if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
    const [logicalId, attribute] = object['Fn::GetAtt'] as [string, string];
    if (attribute !== 'Arn' || pseudo.arns[logicalId] === undefined) throw new Error(`Cannot resolve Fn::GetAtt ${logicalId}.${attribute}`);
    return pseudo.arns[logicalId];
  }
  if (keys.some((k) => k.startsWith('Fn::'))) throw new Error(`Unsupported intrinsic ${keys.join(', ')}`);
  return Object.fromEntries(keys.map((k) => [k, resolve(object[k], pseudo)]));
}

export function resourcesOfType(template: Template, type: string): Array<[string, Record<string, unknown>]> {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => [id, resource.Properties ?? {}]);
}

/** CloudFormation hands custom resources their properties with every scalar as a string. */
export function asCloudFormationSends(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asCloudFormationSends);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asCloudFormationSends(v)]));
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}
