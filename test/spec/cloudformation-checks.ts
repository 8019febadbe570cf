/**
 * Template against CloudFormation's resource database: resource types, property names and shapes,
 * required properties, and the attributes `Fn::GetAtt` reads.
 */
import { Finding } from './finding';
import { CfnProperty, CfnResourceSpec, CfnType, cloudFormationSpec } from './specs';
import { CfnTemplate, getAttArgs, isIntrinsic, PSEUDO } from './template';

const DB = '@aws-cdk/aws-service-spec db.json.gz';
const CUSTOM_RESOURCE = 'AWS::CloudFormation::CustomResource';

/** Custom::<Name> resources are AWS::CloudFormation::CustomResource with a name of the author's choosing. */
function isCustomResource(type: string): boolean {
  return type === CUSTOM_RESOURCE || type.startsWith('Custom::');
}

export function cloudFormationFindings(template: CfnTemplate): Finding[] {
  const spec = cloudFormationSpec();
  const findings: Finding[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const type = resource.Type;
    const resourceSpec = spec.resource(isCustomResource(type) ? CUSTOM_RESOURCE : type);
    if (!resourceSpec) {
      const namespace = type.split('::').slice(0, 2).join('::');
      const siblings = allTypesIn(namespace);
      findings.push({
        resource: logicalId,
        path: 'Type',
        rule: 'cfn/unknown-resource-type',
        message: `${type} is not a CloudFormation resource type`,
        evidence: `${DB}: no resource "${type}"; ${namespace} has ${siblings.length ? siblings.join(', ') : 'no resource types'}`,
      });
      continue;
    }
    findings.push(...propertyFindings(logicalId, type, resourceSpec, resource.Properties ?? {}));
  }
  findings.push(...referenceFindings(template));
  return findings;
}

function allTypesIn(namespace: string): string[] {
  return cloudFormationSpec().types().filter((candidate) => candidate.startsWith(`${namespace}::`)).sort();
}

function propertyFindings(logicalId: string, type: string, resourceSpec: CfnResourceSpec, properties: Record<string, unknown>): Finding[] {
  const custom = isCustomResource(type);
  const evidence = `${DB}: resource "${resourceSpec.cloudFormationType}"`;
  return checkStruct(resourceSpec.properties, properties, 'Properties', {
    logicalId,
    evidence,
    // A custom resource takes any properties besides the ones CloudFormation reads itself.
    openStruct: custom,
  });
}

interface Context {
  readonly logicalId: string;
  readonly evidence: string;
  readonly openStruct?: boolean;
}

function checkStruct(specProperties: Record<string, CfnProperty>, value: Record<string, unknown>, path: string, context: Context): Finding[] {
  const findings: Finding[] = [];
  for (const [name, property] of Object.entries(specProperties)) {
    if (property.required && value[name] === undefined) {
      findings.push({
        resource: context.logicalId,
        path: `${path}.${name}`,
        rule: 'cfn/missing-required-property',
        message: `required property ${name} is missing`,
        evidence: `${context.evidence}, ${path === 'Properties' ? '' : `type at ${path}, `}property "${name}" required: true`,
      });
    }
  }
  for (const [name, item] of Object.entries(value)) {
    const property = specProperties[name];
    if (!property) {
      if (context.openStruct) continue;
      findings.push({
        resource: context.logicalId,
        path: `${path}.${name}`,
        rule: 'cfn/unknown-property',
        message: `${name} is not a property here (known: ${Object.keys(specProperties).sort().join(', ') || 'none'})`,
        evidence: `${context.evidence}${path === 'Properties' ? '' : `, type at ${path}`}: no property "${name}"`,
      });
      continue;
    }
    findings.push(...checkValue(item, property.type, `${path}.${name}`, { ...context, openStruct: false }));
  }
  return findings;
}

function describe(type: CfnType): string {
  switch (type.type) {
    case 'array':
      return `list of ${describe(type.element)}`;
    case 'map':
      return `map of ${describe(type.element)}`;
    case 'union':
      return type.types.map(describe).join(' | ');
    case 'ref':
      return cloudFormationSpec().typeDefinition(type.reference.$ref).name;
    default:
      return type.type;
  }
}

function checkValue(value: unknown, type: CfnType, path: string, context: Context): Finding[] {
  // A value computed at deploy time has whatever shape its function returns: not checked here.
  if (isIntrinsic(value)) return [];
  const shape = (expected: string): Finding[] => [{
    resource: context.logicalId,
    path,
    rule: 'cfn/property-shape',
    message: `expected ${expected}, got ${JSON.stringify(value)?.slice(0, 80)}`,
    evidence: `${context.evidence}, property type at ${path}: ${describe(type)}`,
  }];
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  switch (type.type) {
    case 'string':
    case 'date-time':
      return ['string', 'number', 'boolean'].includes(typeof value) ? [] : shape(type.type);
    case 'number':
    case 'integer':
      return typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && !isNaN(Number(value))) ? [] : shape(type.type);
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false' ? [] : shape('boolean');
    case 'json':
      return value === undefined ? shape('JSON') : [];
    case 'null':
      return value === null ? [] : shape('null');
    case 'tag':
      return isObject && 'Key' in value && 'Value' in value ? [] : shape('a tag {Key, Value}');
    case 'array':
      if (!Array.isArray(value)) return shape(describe(type));
      return value.flatMap((element, i) => checkValue(element, type.element, `${path}[${i}]`, context));
    case 'map':
      if (!isObject) return shape(describe(type));
      return Object.entries(value).flatMap(([key, element]) => checkValue(element, type.element, `${path}.${key}`, context));
    case 'union': {
      const attempts = type.types.map((option) => checkValue(value, option, path, context));
      return attempts.some((found) => found.length === 0) ? [] : shape(describe(type));
    }
    case 'ref': {
      if (!isObject) return shape(describe(type));
      const definition = cloudFormationSpec().typeDefinition(type.reference.$ref);
      return checkStruct(definition.properties, value as Record<string, unknown>, path, { ...context, evidence: `${context.evidence} (type ${definition.name})` });
    }
  }
  return [];
}

/** Every Ref and Fn::GetAtt (also inside Fn::Sub) names a parameter or resource, and an attribute it has. */
function referenceFindings(template: CfnTemplate): Finding[] {
  const findings: Finding[] = [];
  const resources = template.Resources ?? {};
  const spec = cloudFormationSpec();
  const checkRef = (owner: string, path: string, id: string) => {
    if (id in PSEUDO || id === 'AWS::NoValue' || template.Parameters?.[id] || resources[id]) return;
    findings.push({
      resource: owner,
      path,
      rule: 'cfn/unknown-reference',
      message: `Ref ${id}: no such parameter or resource`,
      evidence: 'CloudFormation template anatomy: Ref names a parameter, a resource or a pseudo parameter',
    });
  };
  const checkGetAtt = (owner: string, path: string, id: string, attribute: string) => {
    const target = resources[id];
    if (!target) {
      findings.push({
        resource: owner,
        path,
        rule: 'cfn/unknown-reference',
        message: `Fn::GetAtt ${id}.${attribute}: no such resource`,
        evidence: 'CloudFormation template anatomy: Fn::GetAtt names a resource of the template',
      });
      return;
    }
    // Custom resources return whatever attributes their provider answers with.
    if (isCustomResource(target.Type)) return;
    const targetSpec = spec.resource(target.Type);
    if (!targetSpec) return; // reported as an unknown type
    if (attribute in targetSpec.attributes) return;
    findings.push({
      resource: owner,
      path,
      rule: 'cfn/unknown-attribute',
      message: `Fn::GetAtt ${id}.${attribute}: ${target.Type} has no attribute ${attribute} (it has ${Object.keys(targetSpec.attributes).sort().join(', ') || 'none'})`,
      evidence: `${DB}: resource "${target.Type}" attributes`,
    });
  };
  const walk = (owner: string, value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(owner, v, `${path}[${i}]`));
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    if (isIntrinsic(object)) {
      const [name, args] = Object.entries(object)[0];
      if (name === 'Ref' && typeof args === 'string') checkRef(owner, path, args);
      if (name === 'Fn::GetAtt') {
        const parsed = getAttArgs(args);
        if (parsed) checkGetAtt(owner, path, ...parsed);
      }
      if (name === 'Fn::Sub') {
        const [body, variables] = Array.isArray(args) ? (args as [string, Record<string, unknown>]) : [String(args), {}];
        for (const match of String(body).matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const variable = match[1];
          if (variables && variable in variables) continue;
          const dot = variable.indexOf('.');
          if (dot > 0 && !(variable in PSEUDO)) checkGetAtt(owner, path, variable.slice(0, dot), variable.slice(dot + 1));
          else checkRef(owner, path, variable);
        }
      }
    }
    for (const [key, v] of Object.entries(object)) walk(owner, v, `${path}.${key}`);
  };
  for (const [logicalId, resource] of Object.entries(resources)) walk(logicalId, resource.Properties, 'Properties');
  for (const [name, output] of Object.entries(template.Outputs ?? {})) walk(`Outputs.${name}`, output, '');
  return findings;
}
