/**
 * Reads what a deployment needs out of a synthesized CloudFormation template: the state machine
 * definition with its few intrinsics evaluated, the waiter function's environment, and the
 * custom resources' properties, as CloudFormation would hand them over.
 */
import { createHash } from 'node:crypto';

export type Template = {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string | string[] }>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Outputs?: Record<string, { Value: unknown }>;
};

export interface Pseudo {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** What Fn::GetAtt [logicalId, 'Arn'] and Ref resolve to, by logical id. */
  readonly arns: Record<string, string>;
  /** What Ref resolves to, by logical id, where it is not the ARN (`arns` wins). */
  readonly refs?: Record<string, string>;
  /** What Fn::GetAtt [logicalId, attribute] resolves to, by logical id and attribute. */
  readonly attributes?: Record<string, Record<string, string>>;
}

/** A resource's physical values: what its Ref and its Fn::GetAtt attributes return. */
export interface ResourceValues {
  readonly ref?: string;
  readonly attributes?: Record<string, string>;
}

/**
 * Evaluates Fn::Join, Ref and Fn::GetAtt: all a synthesized definition uses, and all the properties
 * of the library's custom resources use. Anything it cannot resolve throws.
 */
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
    const resolved = known[ref] ?? pseudo.arns[ref] ?? pseudo.refs?.[ref];
    if (resolved === undefined) throw new Error(`Cannot resolve Ref ${ref}`);
    return resolved;
  }
  if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
    const [logicalId, attribute] = object['Fn::GetAtt'] as [string, string];
    const resolved = (attribute === 'Arn' ? pseudo.arns[logicalId] : undefined) ?? pseudo.attributes?.[logicalId]?.[attribute];
    if (resolved === undefined) throw new Error(`Cannot resolve Fn::GetAtt ${logicalId}.${attribute}`);
    return resolved;
  }
  if (keys.some((k) => k.startsWith('Fn::'))) throw new Error(`Unsupported intrinsic ${keys.join(', ')}`);
  return Object.fromEntries(keys.map((k) => [k, resolve(object[k], pseudo)]));
}

/**
 * Like `resolve`, but an intrinsic it cannot resolve (a parameter without a default, an attribute
 * the harness does not know) is kept as it is, for the handler to see and reject.
 */
export function resolvePartially(value: unknown, pseudo: Pseudo): unknown {
  if (Array.isArray(value)) return value.map((v) => resolvePartially(v, pseudo));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.some((k) => k === 'Ref' || k.startsWith('Fn::'))) {
    try {
      return resolve(value, pseudo);
    } catch {
      return value;
    }
  }
  return Object.fromEntries(keys.map((k) => [k, resolvePartially((value as Record<string, unknown>)[k], pseudo)]));
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

/**
 * Plausible physical values for the resources of a template, as CloudFormation would report them
 * once created: role ARNs `arn:aws:iam::<account>:role/<name>`, KMS key ARNs with a 36-character key
 * id, valid bucket names, graph ids `g-` and 10 characters. Deterministic (derived from the logical
 * id), so two events of one test carry the same values. Parameters resolve to their Default.
 * WaitConditionHandles, functions and state machines are left to the caller.
 */
export function plausibleResourceValues(template: Template, pseudo: Omit<Pseudo, 'arns'>): Record<string, ResourceValues> {
  const { partition, region, account } = pseudo;
  const values: Record<string, ResourceValues> = {};
  for (const [logicalId, parameter] of Object.entries(template.Parameters ?? {})) {
    if (parameter.Default !== undefined) values[logicalId] = { ref: String(parameter.Default) };
  }
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    const literal = (key: string) => (typeof props[key] === 'string' ? props[key] : undefined);
    const digest = createHash('sha256').update(logicalId).digest('hex');
    const suffix = BigInt(`0x${digest.slice(0, 16)}`).toString(36).padStart(12, '0').slice(0, 12);
    const physical = (max: number) => `${logicalId.slice(0, max - 13)}-${suffix.toUpperCase()}`;
    switch (resource.Type) {
      case 'AWS::IAM::Role': {
        const name = literal('RoleName') ?? physical(64);
        values[logicalId] = { ref: name, attributes: { Arn: `arn:${partition}:iam::${account}:role/${name}`, RoleId: `AROA${digest.slice(0, 17).toUpperCase()}` } };
        break;
      }
      case 'AWS::KMS::Key': {
        const id = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-4${digest.slice(13, 16)}-8${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
        values[logicalId] = { ref: id, attributes: { Arn: `arn:${partition}:kms:${region}:${account}:key/${id}`, KeyId: id } };
        break;
      }
      case 'AWS::S3::Bucket': {
        const name = literal('BucketName') ?? `${logicalId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 40)}-${suffix}`;
        values[logicalId] = {
          ref: name,
          attributes: {
            Arn: `arn:${partition}:s3:::${name}`,
            DomainName: `${name}.s3.amazonaws.com`,
            RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
          },
        };
        break;
      }
      case 'AWS::NeptuneGraph::Graph': {
        const graphId = `g-${suffix.slice(0, 10)}`;
        values[logicalId] = {
          ref: graphId,
          attributes: {
            GraphId: graphId,
            GraphArn: `arn:${partition}:neptune-graph:${region}:${account}:graph/${graphId}`,
            Endpoint: `${graphId}.${region}.neptune-graph.amazonaws.com`,
          },
        };
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = literal('LogGroupName') ?? physical(128);
        values[logicalId] = { ref: name, attributes: { Arn: `arn:${partition}:logs:${region}:${account}:log-group:${name}:*` } };
        break;
      }
      default:
        values[logicalId] = { ref: physical(128) };
    }
  }
  return values;
}

/**
 * Evaluates exactly `{ "Fn::Select": [i, { "Fn::Split": [separator, { "Fn::GetAtt": [id, attribute] }] }] }`
 * as CloudFormation would, with `getAtt` supplying the attribute's value (for a WaitCondition's
 * Data: the JSON text `{"<UniqueId>":"<Data>"}`). Any other shape, or an index out of range, throws.
 */
export function evaluateSelectSplit(expression: unknown, getAtt: (logicalId: string, attribute: string) => string): string {
  const fail = (why: string): never => {
    throw new Error(`Not Fn::Select(i, Fn::Split(sep, Fn::GetAtt)): ${why} in ${JSON.stringify(expression)}`);
  };
  const only = (value: unknown, intrinsic: string): unknown[] => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(`expected ${intrinsic}`);
    const keys = Object.keys(value);
    const args = (value as Record<string, unknown>)[intrinsic];
    if (keys.length !== 1 || !Array.isArray(args)) return fail(`expected ${intrinsic}`);
    return args;
  };
  const select = only(expression, 'Fn::Select');
  if (select.length !== 2) fail('Fn::Select takes [index, list]');
  const index = Number(select[0]);
  if (!Number.isInteger(index) || index < 0) fail(`index ${JSON.stringify(select[0])}`);
  const split = only(select[1], 'Fn::Split');
  if (split.length !== 2 || typeof split[0] !== 'string') fail('Fn::Split takes [separator, string]');
  const getAttArgs = only(split[1], 'Fn::GetAtt');
  if (getAttArgs.length !== 2 || typeof getAttArgs[0] !== 'string' || typeof getAttArgs[1] !== 'string') fail('Fn::GetAtt takes [logicalId, attribute]');
  const parts = getAtt(getAttArgs[0] as string, getAttArgs[1] as string).split(split[0] as string);
  if (index >= parts.length) fail(`index ${index} out of range (${parts.length} parts)`);
  return parts[index];
}
