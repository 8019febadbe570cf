/**
 * Reads and checks what a Create or Update asks for. Every check names the property and shows the
 * value (src/runtime/validation.ts, shared with the constructs, which run the same checks at synth
 * time for values that are not tokens).
 */
import { errorText, isObject, Json, stringField } from './common';
import { exportFingerprint, parsePhysicalId } from './physical-id';
import { planWait, WaitPlan } from './wait-plan';
import { ExportFields, GRAPH_EXPORT_RESOURCE_TYPE, Limits, ResourceProperties } from '../src/runtime/constants';
import {
  checkDestination, checkExportFilter, checkFormat, checkGraphIdentifier, checkKmsKeyArn, checkPollInterval,
  checkPollRange, checkRoleArn, checkTags, checkTaskIdentifier, checkTimeout, parseSeconds, show,
} from '../src/runtime/validation';

export interface Settings {
  plan: WaitPlan;
  timeoutSeconds: number;
  minPollSeconds: number;
  maxPollSeconds: number;
  /** Long-wait mode: the WaitCondition handle the loop signals. */
  signalUrl: string | null;
  /** GraphExport: cancel the export when the resource is deleted (and when its wait times out). */
  cancelOnDelete: boolean;
  /** False for the read of a long-wait export's finished task: its wait was the first resource's. */
  countsInMetrics: boolean;
}

/** StackId, RequestId and LogicalResourceId must be the non-empty strings CloudFormation sends. */
export function envelopeProblem(event: Json): string | undefined {
  for (const key of ['StackId', 'RequestId', 'LogicalResourceId']) {
    let value: unknown;
    try {
      value = event[key];
    } catch (error) {
      return `${key} cannot be read: ${errorText(error)}`;
    }
    if (typeof value !== 'string' || value.trim() === '') return `${key} must be the non-empty string CloudFormation sends, got ${show(value)}`;
  }
  return undefined;
}

/** Reads and checks the resource properties; returns the first problem as a message. */
export function readSettings(event: Json): Settings | string {
  const properties = event.ResourceProperties;
  if (!isObject(properties)) return `ResourceProperties must be an object, got ${show(properties)}`;
  const timing = readTiming(properties);
  if (typeof timing === 'string') return timing;

  const current = event.RequestType === 'Update' ? parsePhysicalId(stringField(event, 'PhysicalResourceId')) : undefined;
  let plan: WaitPlan;
  if (event.ResourceType !== GRAPH_EXPORT_RESOURCE_TYPE) {
    const taskProblem = checkTaskIdentifier(ResourceProperties.TASK_IDENTIFIER, properties[ResourceProperties.TASK_IDENTIFIER]);
    if (taskProblem) return taskProblem;
    plan = planWait(current, properties[ResourceProperties.TASK_IDENTIFIER] as string, null, null);
  } else {
    const request = readExportRequest(properties[ResourceProperties.EXPORT]);
    if (typeof request === 'string') return request;
    plan = planWait(current, null, request, exportFingerprint(request));
  }

  // A WaitCondition waits once. The constructs give a different export a new handle, but a task id
  // or graph id that is a token can change its value behind the same handle: refuse rather than
  // hand downstream resources the previous export's results. Returning to a task the resource
  // already had (a rollback) waits for nothing new.
  const oldProperties = isObject(event.OldResourceProperties) ? event.OldResourceProperties : {};
  const sameHandle = timing.signalUrl !== null && oldProperties[ResourceProperties.SIGNAL_URL] === timing.signalUrl;
  if (event.RequestType === 'Update' && sameHandle && plan.rereadPhysicalId === null) {
    return 'This resource waits with a WaitCondition (timeout over 55 minutes), which cannot wait a second time: '
      + `its export changed (${show(current?.taskId ?? stringField(event, 'PhysicalResourceId'))} would be replaced) while the`
      + ' WaitCondition stayed the same. Give the construct a new id to wait for the new export.';
  }
  return {
    ...timing,
    plan,
    cancelOnDelete: String(properties[ResourceProperties.CANCEL_ON_DELETE]) === 'true',
    countsInMetrics: String(properties[ResourceProperties.READS_ENDED_WAIT]) !== 'true',
  };
}

function readTiming(properties: Json): Omit<Settings, 'plan' | 'cancelOnDelete' | 'countsInMetrics'> | string {
  const signal = properties[ResourceProperties.SIGNAL_URL];
  if (signal !== undefined && (typeof signal !== 'string' || !/^https:\/\/|^http:\/\//.test(signal))) {
    return `${ResourceProperties.SIGNAL_URL} must be a WaitConditionHandle URL, got a ${typeof signal}`;
  }
  const signalUrl = typeof signal === 'string' ? signal : null;
  const optional = (name: string, fallback: number, check: (n: string, v: unknown) => string | undefined) => {
    const value = properties[name];
    if (value === undefined || value === '') return fallback;
    return check(name, value) ?? (parseSeconds(value) as number);
  };
  const timeoutSeconds = optional(ResourceProperties.TIMEOUT_SECONDS, Limits.DEFAULT_TIMEOUT, (n, v) => checkTimeout(n, v, signalUrl !== null));
  if (typeof timeoutSeconds === 'string') return timeoutSeconds;
  const minPollSeconds = optional(ResourceProperties.MIN_POLL_SECONDS, Limits.DEFAULT_MIN_POLL, checkPollInterval);
  if (typeof minPollSeconds === 'string') return minPollSeconds;
  const maxPollSeconds = optional(ResourceProperties.MAX_POLL_SECONDS, Limits.DEFAULT_MAX_POLL, checkPollInterval);
  if (typeof maxPollSeconds === 'string') return maxPollSeconds;
  const rangeProblem = checkPollRange(ResourceProperties.MIN_POLL_SECONDS, minPollSeconds, ResourceProperties.MAX_POLL_SECONDS, maxPollSeconds);
  if (rangeProblem) return rangeProblem;
  return { timeoutSeconds, minPollSeconds, maxPollSeconds, signalUrl };
}

/** Checks a GraphExport's StartExportTask request and drops empty optional fields. */
function readExportRequest(value: unknown): Json | string {
  const name = ResourceProperties.EXPORT;
  if (!isObject(value)) return `${name} must be an object, got ${show(value)}`;
  const F = ExportFields;
  const field = (key: string) => `${name}.${key}`;
  const problem =
    checkGraphIdentifier(field(F.GRAPH_IDENTIFIER), value[F.GRAPH_IDENTIFIER]) ??
    checkRoleArn(field(F.ROLE_ARN), value[F.ROLE_ARN]) ??
    checkKmsKeyArn(field(F.KMS_KEY_IDENTIFIER), value[F.KMS_KEY_IDENTIFIER]) ??
    checkDestination(field(F.DESTINATION), value[F.DESTINATION]) ??
    checkFormat(field(F.FORMAT), value[F.FORMAT], field(F.PARQUET_TYPE), emptyToUndefined(value[F.PARQUET_TYPE])) ??
    (isEmpty(value[F.EXPORT_FILTER]) ? undefined : checkExportFilter(field(F.EXPORT_FILTER), value[F.EXPORT_FILTER])) ??
    (isEmpty(value[F.TAGS]) ? undefined : checkTags(field(F.TAGS), value[F.TAGS]));
  if (problem) return problem;
  const known = new Set<string>(Object.values(F));
  const unknown = Object.keys(value).find((key) => !known.has(key));
  if (unknown) return `${name} has an unknown field ${show(unknown)}`;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => !isEmpty(v)));
}

const emptyToUndefined = (value: unknown) => (value === '' || value === null ? undefined : value);
const isEmpty = (value: unknown) => value === undefined || value === null || value === '';
