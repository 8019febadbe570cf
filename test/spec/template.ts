/**
 * A synthesized CloudFormation template, and two readings of its intrinsic functions:
 * - `resolveText`: plain values, for a state machine definition (pseudo parameters become fixed
 *   placeholders, ARNs of resources are sample ARNs built from their type's ARN template);
 * - `resolveGlob`: a pattern, for IAM resource ARNs (what the template cannot know becomes a
 *   wildcard; literal parts such as the service and the resource-type segment stay literal).
 */
import { cloudFormationSpec } from './specs';

export interface CfnTemplate {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown }>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Outputs?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
  [key: string]: unknown;
}

/** What a pseudo parameter stands for in resolved values. */
export const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'Stack',
  'AWS::StackId': 'arn:aws:cloudformation:us-east-1:123456789012:stack/Stack/00000000-0000-0000-0000-000000000000',
  'AWS::NotificationARNs': '',
};
const ARN_TEMPLATE_PSEUDO: Record<string, string> = { Partition: PSEUDO['AWS::Partition'], Region: PSEUDO['AWS::Region'], Account: PSEUDO['AWS::AccountId'] };

export function isIntrinsic(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') || keys[0] === 'Condition');
}

/** `Fn::GetAtt` as `[logicalId, attribute]`, from either of its forms. */
export function getAttArgs(value: unknown): [string, string] | undefined {
  if (typeof value === 'string') {
    const dot = value.indexOf('.');
    return dot > 0 ? [value.slice(0, dot), value.slice(dot + 1)] : undefined;
  }
  if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') return [value[0], value[1]];
  return undefined;
}

/** The ARN template of a resource of the template whose attribute (or Ref) is its ARN, else undefined. */
function arnTemplateOf(template: CfnTemplate, logicalId: string, attribute: string | 'Ref'): string | undefined {
  const resource = template.Resources?.[logicalId];
  if (!resource) return undefined;
  const spec = cloudFormationSpec().resource(resource.Type);
  if (!spec?.arnTemplate) return undefined;
  if (attribute === 'Ref') {
    const identifier = spec.cfnRefIdentifier ?? spec.primaryIdentifier ?? [];
    return identifier.length === 1 && identifier[0] === 'Arn' ? spec.arnTemplate : undefined;
  }
  return attribute === 'Arn' || attribute === `${spec.name}Arn` ? spec.arnTemplate : undefined;
}

/** `Fn::Sub` text as alternating literal and `${...}` parts. */
function subParts(text: string): Array<{ literal: string } | { variable: string }> {
  const parts: Array<{ literal: string } | { variable: string }> = [];
  const pattern = /\$\{([^}]*)\}/g;
  let last = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    if (match[1].startsWith('!')) {
      parts.push({ literal: text.slice(last, match.index) + '${' + match[1].slice(1) + '}' });
    } else {
      parts.push({ literal: text.slice(last, match.index) }, { variable: match[1] });
    }
    last = match.index + match[0].length;
  }
  parts.push({ literal: text.slice(last) });
  return parts;
}

/**
 * Plain JSON values for a template value: Fn::Join, Fn::Sub, Fn::Select, Fn::Split evaluated,
 * pseudo parameters as PSEUDO, parameters as their default (else `<Name>`), a resource's ARN as a
 * sample ARN of its type, anything else as `<logicalId.Attribute>`.
 */
export function resolveText(value: unknown, template: CfnTemplate): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveText(v, template));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if (!isIntrinsic(object)) return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolveText(v, template)]));
  const [name, args] = Object.entries(object)[0];
  const text = (v: unknown) => String(resolveText(v, template));
  const sampleArn = (arnTemplate: string, logicalId: string) =>
    arnTemplate.replace(/\$\{(\w+)\}/g, (_, variable: string) => ARN_TEMPLATE_PSEUDO[variable] ?? logicalId);
  const ref = (id: string): string => {
    if (id in PSEUDO) return PSEUDO[id];
    const parameter = template.Parameters?.[id];
    if (parameter) return parameter.Default !== undefined ? String(parameter.Default) : `<${id}>`;
    const arnTemplate = arnTemplateOf(template, id, 'Ref');
    return arnTemplate ? sampleArn(arnTemplate, id) : id;
  };
  const getAtt = (id: string, attribute: string): string => {
    const arnTemplate = arnTemplateOf(template, id, attribute);
    return arnTemplate ? sampleArn(arnTemplate, id) : `<${id}.${attribute}>`;
  };
  switch (name) {
    case 'Ref':
      return ref(String(args));
    case 'Fn::GetAtt': {
      const [id, attribute] = getAttArgs(args) ?? ['?', '?'];
      return getAtt(id, attribute);
    }
    case 'Fn::Join': {
      const [separator, list] = args as [string, unknown];
      const items = resolveText(list, template);
      return Array.isArray(items) ? items.map(String).join(separator) : String(items);
    }
    case 'Fn::Sub': {
      const [body, variables] = Array.isArray(args) ? (args as [string, Record<string, unknown>]) : [String(args), {}];
      return subParts(body).map((part) => {
        if ('literal' in part) return part.literal;
        if (part.variable in variables) return text(variables[part.variable]);
        const dot = part.variable.indexOf('.');
        return dot > 0 ? getAtt(part.variable.slice(0, dot), part.variable.slice(dot + 1)) : ref(part.variable);
      }).join('');
    }
    case 'Fn::Split': {
      const [separator, source] = args as [string, unknown];
      return text(source).split(separator);
    }
    case 'Fn::Select': {
      const [index, list] = args as [unknown, unknown];
      const items = resolveText(list, template);
      return Array.isArray(items) ? items[Number(resolveText(index, template))] : `<${name}>`;
    }
    case 'Fn::If': {
      const [, whenTrue] = args as [string, unknown, unknown];
      return resolveText(whenTrue, template);
    }
    default:
      return `<${name}>`;
  }
}

// ---------------------------------------------------------------------------------------------
// Glob patterns: text in which some stretches are unknown (a wildcard).

/** A wildcard stretch of a pattern: any text, possibly empty. */
export const ANY = '\u0000';

/**
 * An IAM resource value as a pattern: `*` and `?` of the policy, and whatever the template cannot
 * know (a bucket name, a parameter), become ANY; pseudo parameters become PSEUDO; the ARN of a
 * resource of the template becomes its type's ARN template with ANY for each variable.
 */
export function resolveGlob(value: unknown, template: CfnTemplate): string {
  if (typeof value === 'string') return value.replace(/[*?]/g, ANY);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (!isIntrinsic(value)) return ANY;
  const [name, args] = Object.entries(value)[0];
  const fromArnTemplate = (arnTemplate: string) =>
    arnTemplate.replace(/\$\{(\w+)\}/g, (_, variable: string) => ARN_TEMPLATE_PSEUDO[variable] ?? ANY);
  const ref = (id: string) => {
    if (id in PSEUDO) return PSEUDO[id];
    const arnTemplate = arnTemplateOf(template, id, 'Ref');
    return arnTemplate ? fromArnTemplate(arnTemplate) : ANY;
  };
  const getAtt = (id: string, attribute: string) => {
    const arnTemplate = arnTemplateOf(template, id, attribute);
    return arnTemplate ? fromArnTemplate(arnTemplate) : ANY;
  };
  switch (name) {
    case 'Ref':
      return ref(String(args));
    case 'Fn::GetAtt': {
      const parsed = getAttArgs(args);
      return parsed ? getAtt(...parsed) : ANY;
    }
    case 'Fn::Join': {
      const [separator, list] = args as [string, unknown];
      return Array.isArray(list) ? list.map((item) => resolveGlob(item, template)).join(separator) : ANY;
    }
    case 'Fn::Sub': {
      const [body, variables] = Array.isArray(args) ? (args as [string, Record<string, unknown>]) : [String(args), {}];
      return subParts(body).map((part) => {
        if ('literal' in part) return resolveGlob(part.literal, template);
        if (part.variable in variables) return resolveGlob(variables[part.variable], template);
        const dot = part.variable.indexOf('.');
        return dot > 0 ? getAtt(part.variable.slice(0, dot), part.variable.slice(dot + 1)) : ref(part.variable);
      }).join('');
    }
    default:
      return ANY;
  }
}

/** A pattern as people read it: `*` for each wildcard stretch. */
export function showGlob(glob: string): string {
  return glob.split(ANY).join('*').replace(/\*+/g, '*');
}

/** An ARN format of the Service Authorization Reference (`arn:${Partition}:s3:::${BucketName}`) as a pattern. */
export function arnFormatGlob(format: string): string {
  return format.replace(/\$\{[^}]*\}/g, ANY);
}

/**
 * Whether an ARN pattern of a policy can name a resource of an ARN format. The partition, service,
 * region and account are matched field by field (a variable or wildcard stays within its field);
 * the resource part, whose names may contain `:` and `/`, is matched as a whole.
 */
export function arnMatchesFormat(arn: string, format: string): boolean {
  const fields = (text: string) => {
    const parts = text.split(':');
    return parts.length <= 6 ? parts : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const a = fields(arn);
  const f = fields(arnFormatGlob(format));
  if (a.length < 6) {
    // A stretch the template cannot know swallowed the rest of the ARN: compare what is known.
    if (!a[a.length - 1].includes(ANY)) return false;
    const known = a.length - 1;
    return a.slice(0, known).every((field, i) => globsIntersect(field, f[i] ?? ''))
      && globsIntersect(a[known], f.slice(known).join(':'));
  }
  return a.every((field, i) => globsIntersect(field, f[i] ?? ''));
}

/** Whether some text matches both patterns. */
export function globsIntersect(a: string, b: string): boolean {
  const seen = new Map<number, boolean>();
  const width = b.length + 1;
  const visit = (i: number, j: number): boolean => {
    const key = i * width + j;
    const known = seen.get(key);
    if (known !== undefined) return known;
    seen.set(key, false);
    let result = false;
    if (i === a.length && j === b.length) {
      result = true;
    } else if (i < a.length && a[i] === ANY && (visit(i + 1, j) || (j < b.length && visit(i, j + 1)))) {
      result = true;
    } else if (j < b.length && b[j] === ANY && (visit(i, j + 1) || (i < a.length && visit(i + 1, j)))) {
      result = true;
    } else if (i < a.length && j < b.length && a[i] !== ANY && b[j] !== ANY && a[i] === b[j]) {
      result = visit(i + 1, j + 1);
    }
    seen.set(key, result);
    return result;
  };
  return visit(0, 0);
}
