/**
 * The rules of "Specification: Embedded metric format" (Amazon CloudWatch User Guide,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
 * that a log line must follow for CloudWatch to extract its metrics, as a checker: it returns every
 * rule a line breaks (an empty list for a valid record). Metric names, units and the 30-dimension and
 * 100-metric limits are those of the CloudWatch API's MetricDatum, which the specification refers to.
 */

/** The units MetricDatum accepts. */
export const METRIC_DATUM_UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits',
  'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second',
  'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second',
  'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What is wrong with a log line as an EMF record. */
export function emfViolations(line: string): string[] {
  let root: unknown;
  try {
    // The whole log message must be the JSON object: nothing before or after it.
    root = JSON.parse(line);
  } catch {
    return [`the line is not a JSON text: ${line.slice(0, 80)}`];
  }
  if (!isObject(root)) return ['the root is not a JSON object'];
  const meta = root._aws;
  if (!isObject(meta)) return ['_aws is missing or not an object'];
  const problems: string[] = [];
  if (typeof meta.Timestamp !== 'number' || !Number.isInteger(meta.Timestamp) || meta.Timestamp < 1e12) {
    problems.push(`_aws.Timestamp must be milliseconds since the epoch, got ${JSON.stringify(meta.Timestamp)}`);
  }
  if (!Array.isArray(meta.CloudWatchMetrics)) return [...problems, '_aws.CloudWatchMetrics must be an array'];
  meta.CloudWatchMetrics.forEach((directive: unknown, i: number) => {
    problems.push(...directiveViolations(root as Record<string, unknown>, directive).map((p) => `CloudWatchMetrics[${i}]: ${p}`));
  });
  return problems;
}

function directiveViolations(root: Record<string, unknown>, directive: unknown): string[] {
  if (!isObject(directive)) return ['a MetricDirective must be an object'];
  const problems: string[] = [];
  if (typeof directive.Namespace !== 'string' || directive.Namespace.length === 0 || directive.Namespace.length > 255) {
    problems.push('Namespace must be a string of 1 to 255 characters');
  }
  if (!Array.isArray(directive.Dimensions)) {
    problems.push('Dimensions must be an array of DimensionSets');
  } else {
    for (const set of directive.Dimensions as unknown[]) {
      if (!Array.isArray(set) || set.some((name) => typeof name !== 'string')) {
        problems.push('a DimensionSet must be an array of strings');
        continue;
      }
      if (set.length > 30) problems.push(`a DimensionSet holds ${set.length} dimensions, more than 30`);
      for (const name of set as string[]) {
        const value = root[name];
        if (typeof value !== 'string' || value.length === 0 || value.length > 1024) problems.push(`dimension ${name} must be a top-level string member of 1 to 1024 characters`);
      }
    }
  }
  if (!Array.isArray(directive.Metrics) || directive.Metrics.length > 100) return [...problems, 'Metrics must be an array of at most 100 MetricDefinitions'];
  for (const definition of directive.Metrics as unknown[]) {
    if (!isObject(definition) || typeof definition.Name !== 'string' || definition.Name.length === 0 || definition.Name.length > 255) {
      problems.push('a MetricDefinition needs a Name of 1 to 255 characters');
      continue;
    }
    if (definition.Unit !== undefined && !METRIC_DATUM_UNITS.has(definition.Unit as string)) problems.push(`metric ${definition.Name} has unit ${JSON.stringify(definition.Unit)}, not a MetricDatum unit`);
    const value = root[definition.Name];
    const numbers = Array.isArray(value) ? value : [value];
    if (numbers.length === 0 || numbers.length > 100 || numbers.some((n) => typeof n !== 'number' || !Number.isFinite(n))) {
      problems.push(`metric ${definition.Name} must be a top-level number (or an array of 1 to 100 numbers), got ${JSON.stringify(value)}`);
    }
  }
  return problems;
}
