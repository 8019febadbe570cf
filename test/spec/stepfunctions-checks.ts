/**
 * State machine definitions against the Amazon States Language (asl-validator) and, for each Task
 * that calls an AWS API (`arn:aws:states:::aws-sdk:<service>:<action>`, and the optimized
 * integrations in OPTIMIZED_INTEGRATIONS), against that API's model and the Service Authorization
 * Reference: the operation exists, the parameters are its input members, the paths that read its
 * result name output members, the errors it is retried on are errors it raises, and the state
 * machine's role is granted the operation's IAM action (on the resource a parameter names, where
 * the integration has one). A Task whose Resource none of these describe is a finding too: it would
 * otherwise pass unchecked.
 */
import aslValidator from 'asl-validator';
import { Finding } from './finding';
import { actionPattern, asList, policyStatements } from './iam-checks';
import { ApiOperation, ApiService, apiService, ApiShape, iamEvidence, iamService, pascalCase, SDK_CLIENT_PACKAGES, specVersions } from './specs';
import { ANY, CfnTemplate, getAttArgs, globsIntersect, isIntrinsic, resolveGlob, resolveText, showGlob } from './template';

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
 * A task that only some templates can reach: its IAM action is required exactly when `reachers`
 * names resources of the template, and must not be granted otherwise (an unreachable call needs no
 * permission). Tasks without a ConditionalGrant need their action in every template.
 */
export interface ConditionalGrant {
  /** `neptunegraph:cancelExportTask`, as in the task's Resource. */
  readonly sdkAction: string;
  /** What makes the task reachable, as the findings say it: `a GraphExport with CancelOnDelete 'true'`. */
  readonly reachableWith: string;
  /** The logical ids of the resources that make the task reachable. */
  readonly reachers: (template: CfnTemplate) => string[];
  /** Which states of the action the condition covers. @default - every state calling `sdkAction` */
  readonly appliesTo?: (state: Record<string, unknown>) => boolean;
}

/**
 * Errors any AWS API may return besides those its model declares for the operation: the "Common
 * Errors" section of every AWS API reference, named as Step Functions names them (with the
 * `Exception` suffix even where the reference has none, as its AWS SDK integration guide says).
 */
export const COMMON_API_ERRORS = [
  'AccessDeniedException', 'IncompleteSignature', 'InternalFailure', 'InvalidAction', 'InvalidClientTokenId', 'NotAuthorized',
  'OptInRequired', 'RequestExpired', 'ServiceUnavailable', 'ThrottlingException', 'ValidationError',
].map(withExceptionSuffix);

function withExceptionSuffix(name: string): string {
  return name.endsWith('Exception') ? name : `${name}Exception`;
}

/**
 * Step Functions' optimized integrations that this project uses, by `<service>:<action>` of
 * `arn:aws:states:::<service>:<action>` (request-response only: `.sync` and `.waitForTaskToken`
 * need other permissions and are not described here). Each calls one operation of an API model.
 */
export interface OptimizedIntegration {
  /** The Step Functions `aws-sdk:` name of the service whose model describes the call. */
  readonly modelService: string;
  readonly operation: string;
  /** The IAM action the call needs; not always `<prefix>:<Operation>` (Invoke needs lambda:InvokeFunction). */
  readonly iamAction: string;
  /** The parameter naming the resource the action must be granted on. */
  readonly resourceParameter: string;
  /** Members that take any JSON here, although the API model has a string or blob: Step Functions serializes them. */
  readonly jsonMembers: readonly string[];
  /**
   * How Step Functions prefixes the errors of the call, or undefined where error names cannot be
   * checked (a Lambda function's own errors carry any name the function gives them).
   */
  readonly errorPrefix: string | undefined;
  /** Where the integration's parameters, permissions and error names are documented. */
  readonly evidence: string;
}

export const OPTIMIZED_INTEGRATIONS: Record<string, OptimizedIntegration> = {
  'states:startExecution': {
    modelService: 'sfn',
    operation: 'StartExecution',
    iamAction: 'states:StartExecution',
    resourceParameter: 'StateMachineArn',
    jsonMembers: ['Input'],
    errorPrefix: 'StepFunctions',
    evidence: 'Step Functions Developer Guide, "Start a new AWS Step Functions state machine from a running execution"'
      + ' (connect-stepfunctions: the StartExecution API, Input as JSON) and "IAM policies for AWS Step Functions"'
      + ' (stepfunctions-iam: states:StartExecution on the state machine); error names as an AWS execution history'
      + ' reports them: StepFunctions.ExecutionAlreadyExistsException (DevelopersIO, "Step Functions で'
      + ' ExecutionAlreadyExistsException が発生するときの対処方法", 2022-06-15)',
  },
  'lambda:invoke': {
    modelService: 'lambda',
    operation: 'Invoke',
    iamAction: 'lambda:InvokeFunction',
    resourceParameter: 'FunctionName',
    jsonMembers: ['Payload'],
    errorPrefix: undefined,
    evidence: 'Step Functions Developer Guide, "Invoke an AWS Lambda function" (connect-lambda: the Invoke API, Payload as'
      + ' JSON) and "IAM policies for invoking AWS Lambda" (lambda:InvokeFunction on the function)',
  },
};

/** What a Task calls: the operation of an API model, how its errors are named, what IAM must grant. */
interface Integration {
  /** As in the Resource: `neptunegraph:getExportTask`, `states:startExecution`. */
  readonly label: string;
  readonly service: ApiService;
  readonly operation: ApiOperation;
  /** The input and output structures as this integration takes and returns them. */
  readonly input: ApiShape & { kind: 'structure' };
  readonly output: ApiShape & { kind: 'structure' };
  readonly errorPrefix: string | undefined;
  readonly errorEvidence: string;
  readonly iamAction: string;
  readonly iamEvidence: string;
  readonly resourceParameter?: string;
}

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

/**
 * Walks output members by their PascalCase names; returns the shape reached, or the first unknown
 * segment with the members there (PascalCase, and as the model spells them).
 */
function memberAt(shape: ApiShape, segments: string[]): { shape: ApiShape } | { unknown: string; known: string[]; modelNames: string[] } {
  let current = shape;
  for (const segment of segments) {
    if (current.kind === 'document') return { shape: current };
    if (current.kind === 'list' && segment.startsWith('[')) {
      current = current.member();
    } else if (current.kind === 'map') {
      current = current.value();
    } else if (current.kind === 'structure') {
      const member = Object.keys(current.members).find((m) => pascalCase(m) === segment);
      if (!member) return { unknown: segment, known: Object.keys(current.members).map(pascalCase), modelNames: Object.keys(current.members) };
      current = current.members[member]();
    } else {
      return { unknown: segment, known: [], modelNames: [] };
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

export function stepFunctionsFindings(
  template: CfnTemplate,
  requestSources: readonly SdkRequestSource[] = [],
  conditionalGrants: readonly ConditionalGrant[] = [],
): Finding[] {
  const findings: Finding[] = [];
  const inputFromStateData = new Map<string, Integration>();
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const definition = readDefinition(logicalId, resource.Properties ?? {}, template, findings);
    if (!definition) continue;
    findings.push(...aslFindings(logicalId, definition));
    const states = allStates(definition, 'Definition');
    const mounts: Mount[] = [];
    const granted = grantedStatements(template, resource.Properties?.RoleArn);
    for (const entry of states) {
      if (entry.state.Type !== 'Task') continue;
      const integration = integrationOf(logicalId, entry, findings);
      if (!integration) continue;
      const at = (suffix: string) => `${entry.path}${suffix}`;
      const inputEvidence = `${modelEvidence(integration.service)}: ${integration.operation.input.name} members ${describeMembers(integration.input)}`;
      if (entry.state.Parameters !== undefined || entry.state.Arguments !== undefined) {
        const field = entry.state.Parameters !== undefined ? 'Parameters' : 'Arguments';
        findings.push(...requestFindings(logicalId, at(`.${field}`), integration.input, entry.state[field], inputEvidence, true));
      } else {
        inputFromStateData.set(integration.label, integration);
      }
      mounts.push(...resultMounts(logicalId, entry, integration, findings));
      findings.push(...errorFindings(logicalId, entry, integration));
      if (granted) {
        const condition = conditionalGrants.find((c) => c.sdkAction === integration.label && (c.appliesTo?.(entry.state) ?? true));
        findings.push(...iamActionFindings(logicalId, entry, integration, granted, template, condition));
      }
    }
    findings.push(...resultReadFindings(logicalId, states, mounts, definition.StartAt));
  }
  for (const [label, integration] of inputFromStateData) {
    for (const source of requestSources.filter((s) => s.sdkAction === label)) {
      for (const [id, resource] of Object.entries(template.Resources ?? {})) {
        if (resource.Type !== source.resourceType) continue;
        const evidence = `${modelEvidence(integration.service)}: ${integration.operation.input.name} members ${describeMembers(integration.input)}`;
        findings.push(...requestFindings(id, `Properties.${source.property}`, integration.input, resource.Properties?.[source.property], evidence, false));
      }
    }
  }
  return findings;
}

const OPTIMIZED_RESOURCE = /^arn:[^:]+:states:::([a-z0-9-]+):([A-Za-z0-9]+)(.*)$/;

/** The integration a Task calls, or undefined (with a finding) when its Resource is none the checks know. */
function integrationOf(logicalId: string, entry: StateEntry, findings: Finding[]): Integration | undefined {
  const resourceArn = entry.state.Resource;
  const finding = (rule: Finding['rule'], message: string, evidence: string) =>
    findings.push({ resource: logicalId, path: `${entry.path}.Resource`, rule, message, evidence });
  const sdk = typeof resourceArn === 'string' ? SDK_RESOURCE.exec(resourceArn) : null;
  if (sdk) {
    const [, serviceName, action] = sdk;
    const service = apiService(serviceName);
    if (!service) {
      finding('sfn/unknown-sdk-service', `aws-sdk:${serviceName}: no API model of this service is loaded (models: ${SDK_CLIENT_PACKAGES.join(', ')})`,
        'test/spec/specs.ts SDK_CLIENT_PACKAGES');
      return undefined;
    }
    const operation = Object.values(service.operations).find((op) => lowerFirst(op.name) === action);
    if (!operation) {
      const sameLetters = Object.values(service.operations).find((op) => op.name.toLowerCase() === action.toLowerCase());
      finding('sfn/unknown-sdk-action', sameLetters
        ? `aws-sdk:${serviceName}:${action}: Step Functions names the action in camelCase: ${lowerFirst(sameLetters.name)}`
        : `aws-sdk:${serviceName}:${action}: ${service.serviceId} has no operation ${pascalCase(action)}`,
      `${modelEvidence(service)}: operations ${Object.keys(service.operations).sort().join(', ')}`);
      return undefined;
    }
    return {
      label: `${serviceName}:${action}`,
      service,
      operation,
      input: operation.input,
      output: operation.output,
      errorPrefix: service.errorPrefix,
      errorEvidence: 'Step Functions Developer Guide, "AWS SDK service integrations": errors are <ServiceName>.<ErrorName>, with the Exception suffix',
      iamAction: `${service.signingName}:${operation.name}`,
      iamEvidence: `${iamEvidence(service.signingName, 'actions', operation.name.toLowerCase())}; IAM prefix = SigV4 signing name of ${service.packageName}`,
    };
  }
  const optimized = typeof resourceArn === 'string' ? OPTIMIZED_RESOURCE.exec(resourceArn) : null;
  const known = optimized && optimized[1] !== 'aws-sdk' ? OPTIMIZED_INTEGRATIONS[`${optimized[1]}:${optimized[2]}`] : undefined;
  if (!optimized || !known || optimized[3] !== '') {
    finding('sfn/unchecked-task-resource',
      `${JSON.stringify(resourceArn)}: the spec checks describe no such Task resource, so nothing about this call would be checked`
        + ` (they know aws-sdk:<service>:<action> and ${Object.keys(OPTIMIZED_INTEGRATIONS).join(', ')}, request-response)`,
      'test/spec/stepfunctions-checks.ts OPTIMIZED_INTEGRATIONS');
    return undefined;
  }
  const service = apiService(known.modelService);
  const operation = service?.operations[known.operation];
  if (!service || !operation) throw new Error(`OPTIMIZED_INTEGRATIONS: no model of ${known.modelService} ${known.operation} (${SDK_CLIENT_PACKAGES.join(', ')})`);
  return {
    label: `${optimized[1]}:${optimized[2]}`,
    service,
    operation,
    input: withJsonMembers(operation.input, known.jsonMembers),
    output: withJsonMembers(operation.output, known.jsonMembers),
    errorPrefix: known.errorPrefix,
    errorEvidence: known.evidence,
    iamAction: known.iamAction,
    iamEvidence: `${iamEvidence(known.iamAction.split(':')[0], 'actions', known.iamAction.split(':')[1].toLowerCase())}; ${known.evidence}`,
    resourceParameter: known.resourceParameter,
  };
}

function modelEvidence(service: ApiService): string {
  return `${service.packageName}@${service.packageVersion} dist-cjs schemas`;
}

/** A structure whose named members (PascalCase) take any JSON. */
function withJsonMembers(shape: ApiShape & { kind: 'structure' }, names: readonly string[]): ApiShape & { kind: 'structure' } {
  const members = Object.fromEntries(Object.entries(shape.members).map(([member, memberShape]) =>
    [member, names.includes(pascalCase(member)) ? (): ApiShape => ({ kind: 'document' }) : memberShape]));
  return { ...shape, members };
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
function resultMounts(logicalId: string, entry: StateEntry, integration: Integration, findings: Finding[]): Mount[] {
  const { operation, output } = integration;
  const resultPath = entry.state.ResultPath === undefined ? '$' : entry.state.ResultPath;
  const evidence = `${modelEvidence(integration.service)}: ${operation.output.name} members ${describeMembers(output)}`;
  const mounts: Mount[] = [];
  const origin = `${entry.name} (${integration.label})`;
  const selector = entry.state.ResultSelector;
  const visit = (object: Record<string, unknown>, at: string, target: string | null) => {
    for (const [key, value] of Object.entries(object)) {
      if (key.endsWith('.$') && typeof value === 'string') {
        const name = key.slice(0, -2);
        for (const path of pathsIn(value)) {
          const reached = memberAt(output, segmentsOf(path));
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
    mounts.push({ prefix: target, shape: output, origin });
  }
  return mounts;
}

/** Every transition into each state: `{ from, rule }`, where `rule` is the Choice rule taken (undefined for other transitions). */
function transitionsInto(states: StateEntry[]): Map<string, Array<{ from: string; rule?: unknown }>> {
  const into = new Map<string, Array<{ from: string; rule?: unknown }>>();
  const add = (target: unknown, from: string, rule?: unknown) => {
    if (typeof target !== 'string') return;
    into.set(target, [...(into.get(target) ?? []), { from, rule }]);
  };
  for (const { name, state } of states) {
    add(state.Next, name);
    add(state.Default, name);
    asList(state.Catch).forEach((catcher) => add((catcher as Record<string, unknown>).Next, name));
    asList(state.Choices).forEach((rule) => add((rule as Record<string, unknown>).Next, name, rule));
  }
  return into;
}

/** Whether a Choice rule is only true when `path` is present (`IsPresent: true` on it, alone or in an And). */
function requiresPresence(rule: unknown, path: string): boolean {
  if (rule === null || typeof rule !== 'object') return false;
  const r = rule as Record<string, unknown>;
  if (r.Variable === path && r.IsPresent === true) return true;
  return asList(r.And).some((nested) => requiresPresence(nested, path));
}

/**
 * Paths in every state that read into a mounted SDK result must name its output members, in the
 * PascalCase Step Functions returns. One exception: a read of a member as the model spells it
 * (`taskId` for TaskId) that can never fail, because it is an IsPresent test or a state entered only
 * through Choice rules that require that path present. That is a hedge against a response casing
 * nobody has verified, not a misspelt member; unguarded, the same read raises States.Runtime, and any
 * other spelling (`TaskID`) is a finding even behind IsPresent.
 */
function resultReadFindings(logicalId: string, states: StateEntry[], mounts: Mount[], startAt: unknown): Finding[] {
  if (mounts.length === 0) return [];
  const findings: Finding[] = [];
  const into = transitionsInto(states);
  const enteredOnlyWhenPresent = (stateName: string, path: string) => {
    const transitions = into.get(stateName) ?? [];
    return stateName !== startAt && transitions.length > 0 && transitions.every(({ rule }) => requiresPresence(rule, path));
  };
  const check = (expression: string, at: string, guarded: (path: string) => boolean) => {
    for (const path of pathsIn(expression)) {
      for (const mount of mounts) {
        if (!path.startsWith(`${mount.prefix}.`) && !path.startsWith(`${mount.prefix}[`)) continue;
        const reached = memberAt(mount.shape, segmentsOf(path.slice(mount.prefix.length)));
        if (!('unknown' in reached)) continue;
        // The member as the model (and an SDK client) spells it, where Step Functions would return it PascalCase.
        const modelSpelling = reached.modelNames.includes(reached.unknown);
        const otherCase = reached.known.find((member) => member.toLowerCase() === reached.unknown.toLowerCase());
        if (modelSpelling && guarded(path)) continue;
        let hint = ` (${reached.known.join(', ') || 'no members'})`;
        if (otherCase) hint = ` (Step Functions returns it as ${otherCase})`;
        if (modelSpelling) hint = ` (Step Functions returns it as ${otherCase}; a read in the model's casing must be an IsPresent test or behind one)`;
        findings.push({
          resource: logicalId,
          path: at,
          rule: 'sfn/unknown-result-member',
          message: `${path} reads ${reached.unknown} from the result of ${mount.origin} at ${mount.prefix}, which has no such member${hint}`,
          evidence: `API model of ${mount.origin}: output members, PascalCase`,
        });
      }
    }
  };
  for (const { name, path, state } of states) {
    const guarded = (readPath: string) => enteredOnlyWhenPresent(name, readPath);
    const payload = (value: unknown, at: string) => {
      if (value === null || typeof value !== 'object') return;
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (key.endsWith('.$') && typeof item === 'string') check(item, `${at}.${key}`, guarded);
        else payload(item, `${at}.${key}`);
      }
    };
    const condition = (rule: unknown, at: string) => {
      if (rule === null || typeof rule !== 'object') return;
      const r = rule as Record<string, unknown>;
      for (const [key, value] of Object.entries(r)) {
        if ((key === 'Variable' || key.endsWith('Path')) && typeof value === 'string') {
          // An IsPresent test of a path reads nothing that could be missing.
          check(value, `${at}.${key}`, (readPath) => (key === 'Variable' && r.IsPresent !== undefined && readPath === value) || guarded(readPath));
        }
        if (key === 'And' || key === 'Or') asList(value).forEach((nested, i) => condition(nested, `${at}.${key}[${i}]`));
        if (key === 'Not') condition(value, `${at}.Not`);
      }
    };
    for (const key of ['InputPath', 'OutputPath', 'ItemsPath', 'SecondsPath', 'TimestampPath', 'ErrorPath', 'CausePath']) {
      if (typeof state[key] === 'string') check(state[key] as string, `${path}.${key}`, guarded);
    }
    // ResultSelector is left out: it reads the state's own result, not the state data.
    for (const key of ['Parameters', 'ItemSelector']) payload(state[key], `${path}.${key}`);
    asList(state.Choices).forEach((choice, i) => condition(choice, `${path}.Choices[${i}]`));
  }
  return findings;
}

/**
 * Error names in Retry and Catch of a task that calls an API: `States.*`, or `<prefix>.<Name>` where
 * Name (with the Exception suffix Step Functions adds) is an error the operation declares or a
 * common error of every AWS API. Such a task raises nothing else, so any other name never matches.
 */
function errorFindings(logicalId: string, entry: StateEntry, integration: Integration): Finding[] {
  const { service, operation, errorPrefix } = integration;
  if (errorPrefix === undefined) return [];
  const findings: Finding[] = [];
  const prefix = `${errorPrefix}.`;
  const declared = operation.errors.map(withExceptionSuffix);
  const evidence = `${service.packageName}@${service.packageVersion} dist-types/commands/${operation.name}Command.d.ts @throws: ${operation.errors.join(', ')};`
    + ` common AWS API errors: ${COMMON_API_ERRORS.join(', ')}; ${integration.errorEvidence}`;
  for (const field of ['Retry', 'Catch']) {
    asList(entry.state[field]).forEach((rule, i) => {
      asList((rule as Record<string, unknown>).ErrorEquals).forEach((name, j) => {
        if (typeof name !== 'string' || name.startsWith('States.')) return;
        const finding = (message: string) => findings.push({
          resource: logicalId, path: `${entry.path}.${field}[${i}].ErrorEquals[${j}]`, rule: 'sfn/unknown-error', message, evidence,
        });
        if (!name.startsWith(prefix)) {
          finding(`${name}: ${entry.name} (${integration.label}) never raises it: Step Functions names the errors of this call`
            + ` ${prefix}<Name>Exception (and States.*)`);
          return;
        }
        const error = name.slice(prefix.length);
        if (declared.includes(error) || COMMON_API_ERRORS.includes(error)) return;
        if (declared.includes(withExceptionSuffix(error)) || COMMON_API_ERRORS.includes(withExceptionSuffix(error))) {
          finding(`${name}: Step Functions adds the Exception suffix to error names: ${prefix}${withExceptionSuffix(error)}`);
          return;
        }
        const declaredElsewhere = service.errors.map(withExceptionSuffix).includes(withExceptionSuffix(error));
        finding(`${name}: ${operation.name} cannot raise ${error}`
          + (declaredElsewhere ? ' (the service has this error, but not for this operation)' : ' (no such error in the service model)'));
      });
    });
  }
  return findings;
}

/** An Allow statement of a state machine's role: its actions, and its resources as patterns. */
interface GrantedStatement {
  readonly actions: string[];
  readonly resources: string[];
}

/** The Allow statements of a state machine's role, or undefined when the role is not in the template. */
function grantedStatements(template: CfnTemplate, roleArn: unknown): GrantedStatement[] | undefined {
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
    .map(({ statement }) => ({
      actions: asList(statement.Action).filter((a): a is string => typeof a === 'string'),
      resources: asList(statement.Resource).map((value) => resolveGlob(value, template)),
    }));
}

/**
 * The role is granted the task's IAM action (on the resource its resourceParameter names, where the
 * integration has one and the value is literal). A task with a ConditionalGrant needs the action
 * exactly when the template has a resource that makes it reachable, and must not have it otherwise.
 */
function iamActionFindings(
  logicalId: string, entry: StateEntry, integration: Integration, granted: GrantedStatement[], template: CfnTemplate, condition?: ConditionalGrant,
): Finding[] {
  const finding = (message: string, evidence = integration.iamEvidence): Finding[] =>
    [{ resource: logicalId, path: `${entry.path}.Resource`, rule: 'sfn/task-iam-action', message, evidence }];
  const [prefix, actionName] = integration.iamAction.split(':');
  const iamAction = iamService(prefix)?.actions[actionName.toLowerCase()];
  if (!iamAction) {
    return finding(`the Service Authorization Reference has no action ${integration.iamAction} for ${integration.label}`);
  }
  const action = `${prefix}:${iamAction.name}`;
  const withAction = granted.filter((statement) => statement.actions.some((a) => actionPattern(a).test(action)));
  const reachers = condition?.reachers(template);
  if (reachers !== undefined && reachers.length === 0) {
    return withAction.length === 0 ? [] : finding(`${entry.name} (${integration.label}) is unreachable in this template (it has no`
      + ` ${condition!.reachableWith}), yet the state machine's role is granted ${action} on ${withAction.flatMap((s) => s.resources).map(showGlob).join(', ')}`);
  }
  const why = reachers ? ` (reachable: the template has ${condition!.reachableWith}: ${reachers.join(', ')})` : '';
  if (withAction.length === 0) {
    const related = granted.flatMap((s) => s.actions)
      .filter((a) => [prefix, integration.service.signingName, integration.service.integrationName].includes(a.split(':')[0].toLowerCase()));
    return finding(`${entry.name} calls ${integration.operation.name}, which needs ${action}${why}; the state machine's role is not granted it`
      + ` (it is granted ${related.length ? [...new Set(related)].join(', ') : 'nothing'} of ${[...new Set([prefix, integration.service.signingName, integration.service.integrationName])].join('/')})`);
  }
  const target = integration.resourceParameter ? parameterGlob(entry.state, integration.resourceParameter) : undefined;
  if (target === undefined) return [];
  if (withAction.some((statement) => statement.resources.some((resource) => globsIntersect(resource, target)))) return [];
  return finding(`${entry.name} calls ${integration.operation.name} on ${showGlob(target)} (${integration.resourceParameter}), but the state`
    + ` machine's role is granted ${action} only on ${withAction.flatMap((s) => s.resources).map(showGlob).join(', ')}`);
}

/** A literal parameter (resolved from the template) as a pattern: parts the template cannot know, `<...>`, are wildcards. */
function parameterGlob(state: Record<string, unknown>, name: string): string | undefined {
  const parameters = state.Parameters ?? state.Arguments;
  if (parameters === null || typeof parameters !== 'object') return undefined;
  const value = (parameters as Record<string, unknown>)[name];
  if (typeof value !== 'string' || value.startsWith('{%')) return undefined;
  return value.replace(/<[^>]*>/g, ANY);
}
