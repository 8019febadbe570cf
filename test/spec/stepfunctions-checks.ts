/**
 * State machine definitions against the Amazon States Language (asl-validator) and, for each
 * `arn:aws:states:::aws-sdk:<service>:<action>` task, against the service's API model and the
 * Service Authorization Reference: the operation exists, the parameters are its input members, the
 * paths that read its result name output members, the errors it is retried on are errors it raises,
 * and the state machine's role is granted the operation's IAM action.
 */
import aslValidator from 'asl-validator';
import { Finding } from './finding';
import { actionPattern, asList, policyStatements } from './iam-checks';
import { ApiOperation, ApiService, apiService, ApiShape, iamEvidence, iamService, pascalCase, SDK_CLIENT_PACKAGES, specVersions } from './specs';
import { CfnTemplate, getAttArgs, isIntrinsic, resolveText } from './template';

/**
 * Where a task that takes its request from state data (InputPath, no Parameters) gets that request:
 * a property of a resource in the template, passed through unchanged by whatever starts the execution.
 */
export interface SdkRequestSource {
  /** `neptunegraph:startExportTask`, as in the task's Resource. */
  readonly sdkAction: string;
  readonly resourceType: string;
  readonly property: string;
}

/**
 * Errors any AWS API may return besides those its model declares for the operation: the "Common
 * Errors" section of every AWS API reference, named as Step Functions names them (with the
 * `Exception` suffix even where the reference has none, as its AWS SDK integration guide says).
 */
export const COMMON_API_ERRORS = [
  'AccessDeniedException', 'IncompleteSignature', 'InternalFailure', 'InvalidAction', 'InvalidClientTokenId', 'NotAuthorized',
  'OptInRequired', 'RequestExpired', 'ServiceUnavailable', 'ThrottlingException', 'ValidationError',
].map((name) => (name.endsWith('Exception') ? name : `${name}Exception`));

const SDK_RESOURCE = /^arn:[^:]+:states:::aws-sdk:([^:]+):([^.:]+)(?:\.(\w+))?$/;

interface StateEntry {
  readonly name: string;
  readonly path: string;
  readonly state: Record<string, unknown>;
}

/** Every state, also those inside Parallel branches and Map item processors. */
function allStates(machine: Record<string, unknown>, path: string): StateEntry[] {
  const states = machine.States;
  if (states === null || typeof states !== 'object') return [];
  return Object.entries(states as Record<string, Record<string, unknown>>).flatMap(([name, state]) => {
    const here = `${path}.States.${name}`;
    const nested = [
      ...asList(state.Branches).flatMap((branch, i) => allStates(branch as Record<string, unknown>, `${here}.Branches[${i}]`)),
      ...(['ItemProcessor', 'Iterator'] as const).flatMap((key) =>
        (state[key] ? allStates(state[key] as Record<string, unknown>, `${here}.${key}`) : [])),
    ];
    return [{ name, path: here, state }, ...nested];
  });
}

/** The JSONPath references (`$.a.b[0]`, but not `$$.…` context paths) in a path or intrinsic expression. */
export function pathsIn(expression: string): string[] {
  return [...expression.matchAll(/(?<!\$)\$(?!\$)(?:\.[A-Za-z0-9_]+|\[[^\]]*\])*/g)].map((m) => m[0]);
}

function segmentsOf(path: string): string[] {
  return [...path.matchAll(/\.([A-Za-z0-9_]+)|\[([^\]]*)\]/g)].map((m) => m[1] ?? `[${m[2]}]`);
}

/** Walks output members by their PascalCase names; returns the shape reached, or the first unknown segment. */
function memberAt(shape: ApiShape, segments: string[]): { shape: ApiShape } | { unknown: string; known: string[] } {
  let current = shape;
  for (const segment of segments) {
    if (current.kind === 'document') return { shape: current };
    if (current.kind === 'list' && segment.startsWith('[')) {
      current = current.member();
    } else if (current.kind === 'map') {
      current = current.value();
    } else if (current.kind === 'structure') {
      const member = Object.keys(current.members).find((m) => pascalCase(m) === segment);
      if (!member) return { unknown: segment, known: Object.keys(current.members).map(pascalCase) };
      current = current.members[member]();
    } else {
      return { unknown: segment, known: [] };
    }
  }
  return { shape: current };
}

interface Mount {
  /** Where in the state data the result (or a part of it) lands, e.g. `$.last.task`. */
  readonly prefix: string;
  readonly shape: ApiShape;
  readonly origin: string;
}

function joinPath(base: string, key: string): string {
  return base === '$' ? `$.${key}` : `${base}.${key}`;
}

export function stepFunctionsFindings(template: CfnTemplate, requestSources: readonly SdkRequestSource[] = []): Finding[] {
  const findings: Finding[] = [];
  const inputFromStateData = new Map<string, { service: ApiService; operation: ApiOperation }>();
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const definition = readDefinition(logicalId, resource.Properties ?? {}, template, findings);
    if (!definition) continue;
    findings.push(...aslFindings(logicalId, definition));
    const states = allStates(definition, 'Definition');
    const mounts: Mount[] = [];
    const granted = grantedActions(template, resource.Properties?.RoleArn);
    for (const entry of states) {
      const resourceArn = entry.state.Resource;
      const match = entry.state.Type === 'Task' && typeof resourceArn === 'string' ? SDK_RESOURCE.exec(resourceArn) : null;
      if (!match) continue;
      const [, serviceName, action] = match;
      const service = apiService(serviceName);
      const at = (suffix: string) => `${entry.path}${suffix}`;
      if (!service) {
        findings.push({
          resource: logicalId,
          path: at('.Resource'),
          rule: 'sfn/unknown-sdk-service',
          message: `aws-sdk:${serviceName}: no API model of this service is loaded (models: ${SDK_CLIENT_PACKAGES.join(', ')})`,
          evidence: 'test/spec/specs.ts SDK_CLIENT_PACKAGES',
        });
        continue;
      }
      const modelEvidence = `${service.packageName}@${service.packageVersion} dist-cjs schemas`;
      const operation = Object.values(service.operations).find((op) => lowerFirst(op.name) === action);
      if (!operation) {
        const sameLetters = Object.values(service.operations).find((op) => op.name.toLowerCase() === action.toLowerCase());
        findings.push({
          resource: logicalId,
          path: at('.Resource'),
          rule: 'sfn/unknown-sdk-action',
          message: sameLetters
            ? `aws-sdk:${serviceName}:${action}: Step Functions names the action in camelCase: ${lowerFirst(sameLetters.name)}`
            : `aws-sdk:${serviceName}:${action}: ${service.serviceId} has no operation ${pascalCase(action)}`,
          evidence: `${modelEvidence}: operations ${Object.keys(service.operations).sort().join(', ')}`,
        });
        continue;
      }
      const inputEvidence = `${modelEvidence}: ${operation.input.name} members ${describeMembers(operation.input)}`;
      if (entry.state.Parameters !== undefined || entry.state.Arguments !== undefined) {
        const field = entry.state.Parameters !== undefined ? 'Parameters' : 'Arguments';
        findings.push(...requestFindings(logicalId, at(`.${field}`), operation.input, entry.state[field], inputEvidence, true));
      } else {
        inputFromStateData.set(`${serviceName}:${action}`, { service, operation });
      }
      mounts.push(...resultMounts(logicalId, entry, service, operation, findings));
      findings.push(...errorFindings(logicalId, entry, service, operation));
      if (granted) findings.push(...iamActionFindings(logicalId, entry, service, operation, granted));
    }
    findings.push(...resultReadFindings(logicalId, states, mounts));
  }
  for (const [sdkAction, { service, operation }] of inputFromStateData) {
    for (const source of requestSources.filter((s) => s.sdkAction === sdkAction)) {
      for (const [id, resource] of Object.entries(template.Resources ?? {})) {
        if (resource.Type !== source.resourceType) continue;
        const evidence = `${service.packageName}@${service.packageVersion} dist-cjs schemas: ${operation.input.name} members ${describeMembers(operation.input)}`;
        findings.push(...requestFindings(id, `Properties.${source.property}`, operation.input, resource.Properties?.[source.property], evidence, false));
      }
    }
  }
  return findings;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function describeMembers(shape: ApiShape & { kind: 'structure' }): string {
  return Object.keys(shape.members).map((m) => `${pascalCase(m)}${shape.required.includes(m) ? ' (required)' : ''}`).join(', ') || '(none)';
}

function readDefinition(
  logicalId: string, properties: Record<string, unknown>, template: CfnTemplate, findings: Finding[],
): Record<string, unknown> | undefined {
  if (properties.Definition !== undefined) return resolveText(properties.Definition, template) as Record<string, unknown>;
  if (properties.DefinitionString === undefined) return undefined;
  let text = String(resolveText(properties.DefinitionString, template));
  const substitutions = properties.DefinitionSubstitutions as Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(substitutions ?? {})) {
    text = text.split(`\${${key}}`).join(String(resolveText(value, template)));
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    findings.push({
      resource: logicalId,
      path: 'Properties.DefinitionString',
      rule: 'sfn/definition-unreadable',
      message: `the definition is not JSON once its intrinsics are resolved: ${(error as Error).message}`,
      evidence: 'CloudFormation resource AWS::StepFunctions::StateMachine: DefinitionString is the state machine definition in JSON',
    });
    return undefined;
  }
}

/** asl-validator compiles its schemas on every call (about 0.3 s); equal definitions get one validation. */
const aslResults = new Map<string, Array<{ path: string; message: string }>>();

function aslFindings(logicalId: string, definition: Record<string, unknown>): Finding[] {
  const text = JSON.stringify(definition);
  let errors = aslResults.get(text);
  if (!errors) {
    errors = aslValidator(JSON.parse(text)).errors.map((error) => ({
      path: `Definition${error.path ? ` ${error.path}` : ''}`,
      message: `${error['Error code']}: ${error.Message}`,
    }));
    aslResults.set(text, errors);
  }
  return errors.map(({ path, message }) => ({
    resource: logicalId,
    path,
    rule: 'sfn/asl-invalid' as const,
    message,
    evidence: `asl-validator@${specVersions()['asl-validator']} (Amazon States Language schema and checks)`,
  }));
}

/**
 * A request (Parameters, or the request object a task reads from state data) against an input
 * structure: every key is a member (PascalCase; `Key.$` for a path), every required member is there,
 * and literal values have the member's shape.
 */
function requestFindings(
  logicalId: string, path: string, shape: ApiShape, value: unknown, evidence: string, payloadTemplate: boolean,
): Finding[] {
  if (value === undefined || isIntrinsic(value)) return [];
  // A JSONata expression (Arguments of a JSONata state) is only evaluated at run time.
  if (payloadTemplate && typeof value === 'string' && value.trim().startsWith('{%')) return [];
  const finding = (rule: Finding['rule'], at: string, message: string): Finding => ({ resource: logicalId, path: at, rule, message, evidence });
  switch (shape.kind) {
    case 'document':
      return [];
    case 'scalar':
      return value !== null && typeof value === 'object' ? [finding('sfn/parameter-shape', path, `expected a ${shape.name}, got ${JSON.stringify(value).slice(0, 80)}`)] : [];
    case 'list':
      if (!Array.isArray(value)) return [finding('sfn/parameter-shape', path, `expected a list, got ${JSON.stringify(value).slice(0, 80)}`)];
      return value.flatMap((item, i) => requestFindings(logicalId, `${path}[${i}]`, shape.member(), item, evidence, payloadTemplate));
    case 'map':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        return [finding('sfn/parameter-shape', path, `expected a map, got ${JSON.stringify(value).slice(0, 80)}`)];
      }
      return Object.entries(value).flatMap(([key, item]) =>
        (payloadTemplate && key.endsWith('.$') ? [] : requestFindings(logicalId, `${path}.${key}`, shape.value(), item, evidence, payloadTemplate)));
    case 'structure': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        return [finding('sfn/parameter-shape', path, `expected a ${shape.name} structure, got ${JSON.stringify(value).slice(0, 80)}`)];
      }
      const findings: Finding[] = [];
      const given = new Set<string>();
      for (const [key, item] of Object.entries(value)) {
        const dynamic = payloadTemplate && key.endsWith('.$');
        const name = dynamic ? key.slice(0, -2) : key;
        const member = Object.keys(shape.members).find((m) => pascalCase(m) === name);
        if (!member) {
          const otherCase = Object.keys(shape.members).find((m) => m.toLowerCase() === name.toLowerCase());
          findings.push(finding('sfn/unknown-parameter', `${path}.${key}`, otherCase
            ? `${name}: Step Functions passes members in PascalCase: ${pascalCase(otherCase)}`
            : `${name} is not a member of ${shape.name} (members: ${Object.keys(shape.members).map(pascalCase).join(', ') || 'none'})`));
          continue;
        }
        given.add(member);
        if (!dynamic) findings.push(...requestFindings(logicalId, `${path}.${key}`, shape.members[member](), item, evidence, payloadTemplate));
      }
      for (const required of shape.required) {
        if (!given.has(required)) {
          findings.push(finding('sfn/missing-parameter', `${path}.${pascalCase(required)}`, `${shape.name} requires ${pascalCase(required)}`));
        }
      }
      return findings;
    }
  }
}

/** Where the task's result lands in the state data, after its ResultSelector and ResultPath. */
function resultMounts(logicalId: string, entry: StateEntry, service: ApiService, operation: ApiOperation, findings: Finding[]): Mount[] {
  const resultPath = entry.state.ResultPath === undefined ? '$' : entry.state.ResultPath;
  const evidence = `${service.packageName}@${service.packageVersion} dist-cjs schemas: ${operation.output.name} members ${describeMembers(operation.output)}`;
  const mounts: Mount[] = [];
  const origin = `${entry.name} (${service.integrationName}:${lowerFirst(operation.name)})`;
  const selector = entry.state.ResultSelector;
  const visit = (object: Record<string, unknown>, at: string, target: string | null) => {
    for (const [key, value] of Object.entries(object)) {
      if (key.endsWith('.$') && typeof value === 'string') {
        const name = key.slice(0, -2);
        for (const path of pathsIn(value)) {
          const reached = memberAt(operation.output, segmentsOf(path));
          if ('unknown' in reached) {
            findings.push({
              resource: logicalId,
              path: `${at}.${key}`,
              rule: 'sfn/unknown-result-member',
              message: `${path} reads ${reached.unknown}, which ${operation.name}'s result does not have (${reached.known.join(', ') || 'no members'})`,
              evidence,
            });
          } else if (target !== null && (path === value.trim() || path === '$')) {
            // The whole result (or one member of it) is copied to `target.name`.
            mounts.push({ prefix: joinPath(target, name), shape: reached.shape, origin });
          }
        }
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        visit(value as Record<string, unknown>, `${at}.${key}`, target === null ? null : joinPath(target, key));
      }
    }
  };
  const target = typeof resultPath === 'string' ? resultPath : null;
  if (selector !== null && typeof selector === 'object') {
    visit(selector as Record<string, unknown>, `${entry.path}.ResultSelector`, target);
  } else if (target !== null && target !== '$') {
    mounts.push({ prefix: target, shape: operation.output, origin });
  }
  return mounts;
}

/** Paths in every state that read into a mounted SDK result must name its output members. */
function resultReadFindings(logicalId: string, states: StateEntry[], mounts: Mount[]): Finding[] {
  if (mounts.length === 0) return [];
  const findings: Finding[] = [];
  const check = (expression: string, at: string) => {
    for (const path of pathsIn(expression)) {
      for (const mount of mounts) {
        if (!path.startsWith(`${mount.prefix}.`) && !path.startsWith(`${mount.prefix}[`)) continue;
        const reached = memberAt(mount.shape, segmentsOf(path.slice(mount.prefix.length)));
        if ('unknown' in reached) {
          findings.push({
            resource: logicalId,
            path: at,
            rule: 'sfn/unknown-result-member',
            message: `${path} reads ${reached.unknown} from the result of ${mount.origin} at ${mount.prefix}, which has no such member (${reached.known.join(', ') || 'no members'})`,
            evidence: `API model of ${mount.origin}: output members, PascalCase`,
          });
        }
      }
    }
  };
  const payload = (value: unknown, at: string) => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (key.endsWith('.$') && typeof item === 'string') check(item, `${at}.${key}`);
      else payload(item, `${at}.${key}`);
    }
  };
  const condition = (rule: unknown, at: string) => {
    if (rule === null || typeof rule !== 'object') return;
    for (const [key, value] of Object.entries(rule as Record<string, unknown>)) {
      if ((key === 'Variable' || key.endsWith('Path')) && typeof value === 'string') check(value, `${at}.${key}`);
      if (key === 'And' || key === 'Or') asList(value).forEach((nested, i) => condition(nested, `${at}.${key}[${i}]`));
      if (key === 'Not') condition(value, `${at}.Not`);
    }
  };
  for (const { path, state } of states) {
    for (const key of ['InputPath', 'OutputPath', 'ItemsPath', 'SecondsPath', 'TimestampPath', 'ErrorPath', 'CausePath']) {
      if (typeof state[key] === 'string') check(state[key] as string, `${path}.${key}`);
    }
    for (const key of ['Parameters', 'ItemSelector']) payload(state[key], `${path}.${key}`);
    // An SDK task's own ResultSelector reads the result itself (checked where the mounts are made).
    if (!(typeof state.Resource === 'string' && SDK_RESOURCE.test(state.Resource))) payload(state.ResultSelector, `${path}.ResultSelector`);
    asList(state.Choices).forEach((choice, i) => condition(choice, `${path}.Choices[${i}]`));
  }
  return findings;
}

function errorFindings(logicalId: string, entry: StateEntry, service: ApiService, operation: ApiOperation): Finding[] {
  const findings: Finding[] = [];
  const prefix = `${service.errorPrefix}.`;
  for (const field of ['Retry', 'Catch']) {
    asList(entry.state[field]).forEach((rule, i) => {
      asList((rule as Record<string, unknown>).ErrorEquals).forEach((name, j) => {
        if (typeof name !== 'string' || !name.startsWith(prefix)) return;
        const error = name.slice(prefix.length);
        if (operation.errors.includes(error) || COMMON_API_ERRORS.includes(error)) return;
        const declaredElsewhere = service.errors.includes(error);
        findings.push({
          resource: logicalId,
          path: `${entry.path}.${field}[${i}].ErrorEquals[${j}]`,
          rule: 'sfn/unknown-error',
          message: `${name}: ${operation.name} cannot raise ${error}`
            + (declaredElsewhere ? ' (the service has this error, but not for this operation)' : ' (no such error in the service model)'),
          evidence: `${service.packageName}@${service.packageVersion} dist-types/commands/${operation.name}Command.d.ts @throws: ${operation.errors.join(', ')};`
            + ` common AWS API errors: ${COMMON_API_ERRORS.join(', ')}`,
        });
      });
    });
  }
  return findings;
}

/** The actions Allow statements grant to a state machine's role, or undefined when the role is not in the template. */
function grantedActions(template: CfnTemplate, roleArn: unknown): string[] | undefined {
  if (!isIntrinsic(roleArn) || !('Fn::GetAtt' in roleArn)) return undefined;
  const [roleId] = getAttArgs(roleArn['Fn::GetAtt']) ?? [];
  if (!roleId || template.Resources?.[roleId]?.Type !== 'AWS::IAM::Role') return undefined;
  const attached = (id: string) => {
    const resource = template.Resources?.[id];
    if (!resource) return false;
    if (id === roleId) return true;
    return ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(resource.Type)
      && asList(resource.Properties?.Roles).some((role) => isIntrinsic(role) && role.Ref === roleId);
  };
  return policyStatements(template)
    .filter(({ logicalId, path }) => attached(logicalId) && !path.includes('AssumeRolePolicyDocument'))
    .filter(({ statement }) => statement.Effect === 'Allow')
    .flatMap(({ statement }) => asList(statement.Action).filter((a): a is string => typeof a === 'string'));
}

function iamActionFindings(logicalId: string, entry: StateEntry, service: ApiService, operation: ApiOperation, granted: string[]): Finding[] {
  const expected = `${service.signingName}:${operation.name}`;
  const iam = iamService(service.signingName);
  const iamAction = iam?.actions[operation.name.toLowerCase()];
  if (!iam || !iamAction) {
    return [{
      resource: logicalId,
      path: `${entry.path}.Resource`,
      rule: 'sfn/sdk-iam-action',
      message: `the Service Authorization Reference has no action ${expected} for the operation ${operation.name}`,
      evidence: iamEvidence(service.signingName, 'actions', operation.name.toLowerCase()),
    }];
  }
  if (granted.some((action) => actionPattern(action).test(expected))) return [];
  const related = granted.filter((action) => [service.signingName, service.integrationName].includes(action.split(':')[0].toLowerCase()));
  return [{
    resource: logicalId,
    path: `${entry.path}.Resource`,
    rule: 'sfn/sdk-iam-action',
    message: `${entry.name} calls ${operation.name}, which needs ${iam.prefix}:${iamAction.name}; the state machine's role is not granted it`
      + ` (it is granted ${related.length ? related.join(', ') : 'nothing'} of ${service.signingName}/${service.integrationName})`,
    evidence: `${iamEvidence(service.signingName, 'actions', operation.name.toLowerCase())}; IAM prefix = SigV4 signing name of ${service.packageName}`,
  }];
}
