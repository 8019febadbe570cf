import { Limits, MAX_TIMEOUT_SECONDS, TASK_ID_PATTERN } from './constants';

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

export function checkTimeout(name: string, value: unknown): string | undefined {
  const problem = checkSecondsInRange(name, value, Limits.MIN_TIMEOUT, MAX_TIMEOUT_SECONDS);
  if (problem === undefined) return undefined;
  return `${problem} (CloudFormation waits at most ${Limits.CLOUDFORMATION_MAX_WAIT} s for a custom resource and the waiter keeps ${Limits.ANSWER_MARGIN} s to answer)`;
}

export function checkPollInterval(name: string, value: unknown): string | undefined {
  return checkSecondsInRange(name, value, Limits.LOWEST_MIN_POLL, Limits.HIGHEST_MAX_POLL);
}

export function checkPollRange(minName: string, min: number, maxName: string, max: number): string | undefined {
  if (min <= max) return undefined;
  return `${minName} (${min} s) must not exceed ${maxName} (${max} s)`;
}
