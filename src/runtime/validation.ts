import {
  GRAPH_ID_PATTERN, KMS_KEY_ARN_PATTERN, Limits, MAX_EXPORT_FILTER_BYTES, MAX_LONG_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS,
  OUTPUT_NAME_PATTERN, ROLE_ARN_PATTERN, TASK_ID_PATTERN,
} from './constants';

/**
 * Checks shared by the construct (at synth time, for literal values) and the handler (at deploy
 * time, for values that were tokens). Each returns an error message that names the property and
 * shows the bad value, or undefined.
 */

/** A value as it appears in an error message: JSON, and short enough to read. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function checkTaskIdentifier(name: string, value: unknown): string | undefined {
  if (typeof value === 'string' && TASK_ID_PATTERN.test(value)) return undefined;
  return `${name} must be a Neptune Analytics export task id: "t-" then 10 lowercase letters or digits (for example t-0123456789), got ${show(value)}`;
}

/** Parses a whole number of seconds from a number or a decimal string (CloudFormation sends strings). */
export function parseSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^\d{1,9}$/.test(value)) return Number(value);
  return undefined;
}

function checkSecondsInRange(name: string, value: unknown, min: number, max: number): string | undefined {
  const seconds = parseSeconds(value);
  if (seconds !== undefined && seconds >= min && seconds <= max) return undefined;
  return `${name} must be a whole number of seconds from ${min} to ${max}, got ${show(value)}`;
}

/**
 * A custom resource can wait up to 55 minutes; with a WaitCondition (long-wait mode) up to
 * 11 hours 55 minutes. Both keep 5 minutes to answer.
 */
export function checkTimeout(name: string, value: unknown, longWait: boolean): string | undefined {
  const max = longWait ? MAX_LONG_TIMEOUT_SECONDS : MAX_TIMEOUT_SECONDS;
  const problem = checkSecondsInRange(name, value, Limits.MIN_TIMEOUT, max);
  if (problem === undefined) return undefined;
  return longWait
    ? `${problem} (a WaitCondition waits at most 12 hours and the waiter keeps ${Limits.ANSWER_MARGIN} s to signal)`
    : `${problem} (CloudFormation waits at most ${Limits.CLOUDFORMATION_MAX_WAIT} s for a custom resource and the waiter keeps ${Limits.ANSWER_MARGIN} s to answer)`;
}

export function checkPollInterval(name: string, value: unknown): string | undefined {
  return checkSecondsInRange(name, value, Limits.LOWEST_MIN_POLL, Limits.HIGHEST_MAX_POLL);
}

export function checkPollRange(minName: string, min: number, maxName: string, max: number): string | undefined {
  if (min <= max) return undefined;
  return `${minName} (${min} s) must not exceed ${maxName} (${max} s)`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function checkPattern(name: string, value: unknown, pattern: RegExp, what: string): string | undefined {
  if (typeof value === 'string' && pattern.test(value)) return undefined;
  return `${name} must be ${what}, got ${show(value)}`;
}

export function checkGraphIdentifier(name: string, value: unknown): string | undefined {
  return checkPattern(name, value, GRAPH_ID_PATTERN, 'a Neptune Analytics graph id: "g-" then 10 lowercase letters or digits');
}

export function checkRoleArn(name: string, value: unknown): string | undefined {
  return checkPattern(name, value, ROLE_ARN_PATTERN, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
}

export function checkKmsKeyArn(name: string, value: unknown): string | undefined {
  return checkPattern(name, value, KMS_KEY_ARN_PATTERN, 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)');
}

export function checkDestination(name: string, value: unknown): string | undefined {
  if (typeof value === 'string' && /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(value) && value.length <= 1024) return undefined;
  return `${name} must be an S3 URI such as s3://bucket/prefix/ of at most 1024 characters, got ${show(value)}`;
}

/**
 * Enumerated values (format, Parquet type, multi-value handling) are checked for their shape only: a
 * value the library does not know (ExportFormat.of('...')) may be one the service learned since, and
 * the service's own ValidationException names it if it is not.
 */
const ENUM_VALUE = /^[A-Z][A-Z0-9_]{0,63}$/;
const ENUM_SHAPE = 'upper-case letters, digits and underscores';
/** Output types are type names (Int, Float[]): the same reasoning, another shape. */
const OUTPUT_TYPE_VALUE = /^[A-Za-z][A-Za-z0-9]{0,63}(\[\])?$/;

export function checkFormat(formatName: string, format: unknown, parquetName: string, parquetType: unknown): string | undefined {
  if (typeof format !== 'string' || !ENUM_VALUE.test(format)) return `${formatName} must be an export format such as PARQUET or CSV (${ENUM_SHAPE}), got ${show(format)}`;
  if (parquetType === undefined) return undefined;
  if (format === 'CSV') return `${parquetName} applies to PARQUET exports only, got ${show(parquetType)} with ${formatName} ${show(format)}`;
  if (typeof parquetType !== 'string' || !ENUM_VALUE.test(parquetType)) return `${parquetName} must be a Parquet type such as COLUMNAR (${ENUM_SHAPE}), got ${show(parquetType)}`;
  return undefined;
}

/** Checks an export filter in the service's shape (vertexFilter/edgeFilter -> label -> properties). */
/** The field names of an export filter (the service's camelCase or the integration's PascalCase). */
export interface FilterKeys {
  readonly vertex: string;
  readonly edge: string;
  readonly properties: string;
  readonly outputType: string;
  readonly multiValue: string;
  readonly source: string;
}

/** The PascalCase field names the Step Functions integration (and CloudFormation) use. */
export const PASCAL_FILTER_KEYS: FilterKeys = {
  vertex: 'VertexFilter', edge: 'EdgeFilter', properties: 'Properties', outputType: 'OutputType', multiValue: 'MultiValueHandling', source: 'SourcePropertyName',
};

export function checkExportFilter(name: string, filter: unknown, keys: FilterKeys = PASCAL_FILTER_KEYS): string | undefined {
  if (!isRecord(filter)) return `${name} must be an object, got ${show(filter)}`;
  const size = Buffer.byteLength(JSON.stringify(filter), 'utf8');
  if (size > MAX_EXPORT_FILTER_BYTES) {
    return `${name} is ${size} bytes of JSON, more than the ${MAX_EXPORT_FILTER_BYTES} the waiter accepts (CloudFormation hands`
      + ' the old and the new filter to the handler in one event, and Step Functions caps state data at 256 KiB)';
  }
  for (const [kind, labels] of Object.entries(filter)) {
    if (kind !== keys.vertex && kind !== keys.edge) return `${name} has an unknown field ${show(kind)}: expected ${keys.vertex} or ${keys.edge}`;
    if (!isRecord(labels)) return `${name}.${kind} must map labels to filters, got ${show(labels)}`;
    for (const [label, element] of Object.entries(labels)) {
      const where = `${name}.${kind}[${show(label)}]`;
      if (label.length < 1 || label.length > 128) return `${name}.${kind} labels must be 1-128 characters, got ${show(label)}`;
      if (!isRecord(element)) return `${where} must be an object, got ${show(element)}`;
      const properties = element[keys.properties];
      if (properties === undefined) continue;
      if (!isRecord(properties)) return `${where}.${keys.properties} must be an object, got ${show(properties)}`;
      for (const [outputName, attributes] of Object.entries(properties)) {
        if (!OUTPUT_NAME_PATTERN.test(outputName)) return `${where}.${keys.properties} output names must be 1-128 letters, digits or underscores, got ${show(outputName)}`;
        if (!isRecord(attributes)) return `${where}.${keys.properties}[${show(outputName)}] must be an object, got ${show(attributes)}`;
        const outputType = attributes[keys.outputType];
        if (outputType !== undefined && (typeof outputType !== 'string' || !OUTPUT_TYPE_VALUE.test(outputType))) {
          return `${where}.${keys.properties}[${show(outputName)}].${keys.outputType} must be a type name such as String, Int or Double[]`
            + ` (letters and digits, optionally followed by []), got ${show(outputType)}`;
        }
        const multiValue = attributes[keys.multiValue];
        if (multiValue !== undefined && (typeof multiValue !== 'string' || !ENUM_VALUE.test(multiValue))) {
          return `${where}.${keys.properties}[${show(outputName)}].${keys.multiValue} must be a handling such as TO_LIST or PICK_FIRST (${ENUM_SHAPE}), got ${show(multiValue)}`;
        }
        const source = attributes[keys.source];
        if (source !== undefined && (typeof source !== 'string' || source.length === 0)) {
          return `${where}.${keys.properties}[${show(outputName)}].${keys.source} must be a non-empty string, got ${show(source)}`;
        }
      }
    }
  }
  return undefined;
}

export function checkTags(name: string, tags: unknown): string | undefined {
  if (!isRecord(tags)) return `${name} must map tag keys to values, got ${show(tags)}`;
  const entries = Object.entries(tags);
  if (entries.length > 50) return `${name} may hold at most 50 tags, got ${entries.length}`;
  for (const [key, value] of entries) {
    if (key.length < 1 || key.length > 128) return `${name} keys must be 1-128 characters, got ${show(key)}`;
    if (typeof value !== 'string' || value.length > 256) return `${name}[${show(key)}] must be a string of at most 256 characters, got ${show(value)}`;
  }
  return undefined;
}
