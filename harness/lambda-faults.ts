/**
 * Scripted failures of Lambda invocations of the waiter's handler, for both of its callers:
 *
 * - `stepFunctions`: the loop's `arn:aws:states:::lambda:invoke` Task. The Task fails with the error
 *   Step Functions reports (`Lambda.TooManyRequestsException`, `Lambda.ServiceException`,
 *   `Lambda.Unknown`, `Sandbox.Timedout`), and the state's Retry/Catch decide what happens next.
 * - `cloudFormation`: CloudFormation invokes the handler asynchronously (InvocationType Event). Lambda
 *   owns the retrying of such an event (Lambda developer guide, "Asynchronous invocation" / "error
 *   handling"): throttles and service errors put the event back in Lambda's queue and it is tried again
 *   with a delay growing from 1 second to at most 5 minutes (for up to 6 hours); a function error or
 *   timeout is retried twice, after about 1 and 2 minutes. The harness plays those delays on the
 *   virtual clock. The delays' exact values are *unverified* beyond what that guide says.
 *
 * `handlerRuns` says whether the handler ran before the failure was reported: a throttled or refused
 * invocation never ran it; a timed-out one (or an unknown failure) may have done part or all of its
 * work, answers included, before Lambda reported the failure.
 */

export type LambdaCaller = 'stepFunctions' | 'cloudFormation';
export type LambdaFaultKind = 'throttle' | 'serviceError' | 'unknown' | 'timedOut';

export interface LambdaFaultRule {
  /** Which invocations it applies to. @default both */
  readonly caller?: LambdaCaller;
  readonly kind: LambdaFaultKind;
  /** How many matching invocations fail. @default every matching invocation */
  readonly times?: number;
  /** Whether the handler runs (to completion) before the failure. @default false for throttle and serviceError, true otherwise */
  readonly handlerRuns?: boolean;
}

/** The error a Step Functions lambda:invoke Task reports for each kind. */
export const STEP_FUNCTIONS_LAMBDA_ERRORS: Record<LambdaFaultKind, string> = {
  throttle: 'Lambda.TooManyRequestsException',
  serviceError: 'Lambda.ServiceException',
  unknown: 'Lambda.Unknown',
  timedOut: 'Sandbox.Timedout',
};

export interface InjectedLambdaFault {
  readonly caller: LambdaCaller;
  readonly kind: LambdaFaultKind;
  readonly handlerRuns: boolean;
  /** Virtual epoch seconds of the failed invocation. */
  readonly at: number;
}

/** Lambda's own retry schedule for an asynchronous event (seconds before attempt `n + 1`), or undefined when it gives up. */
export function asyncRetryDelaySeconds(kind: LambdaFaultKind, failedAttempts: number, waitedSeconds: number): number | undefined {
  if (kind === 'throttle' || kind === 'serviceError') {
    const delay = Math.min(300, 2 ** (failedAttempts - 1));
    return waitedSeconds + delay > 6 * 3600 ? undefined : delay;
  }
  // Function errors (a timeout included): two retries, about one then two minutes apart.
  return failedAttempts <= 2 ? 60 * failedAttempts : undefined;
}

export class LambdaFaults {
  /** Every fault that was injected, in order. */
  public readonly injected: InjectedLambdaFault[] = [];
  private readonly rules: Array<{ rule: LambdaFaultRule; remaining: number }> = [];

  public add(rule: LambdaFaultRule): void {
    if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) throw new Error(`Lambda fault times must be an integer >= 0, got ${rule.times}`);
    this.rules.push({ rule, remaining: rule.times ?? Infinity });
  }

  public clear(): void {
    this.rules.length = 0;
  }

  /** The fault for this invocation, if a rule matches (and is used up by it). */
  public next(caller: LambdaCaller, at: number): InjectedLambdaFault | undefined {
    for (const armed of this.rules) {
      if (armed.remaining <= 0 || (armed.rule.caller !== undefined && armed.rule.caller !== caller)) continue;
      armed.remaining--;
      const { kind } = armed.rule;
      const fault = { caller, kind, at, handlerRuns: armed.rule.handlerRuns ?? (kind === 'unknown' || kind === 'timedOut') };
      this.injected.push(fault);
      return fault;
    }
    return undefined;
  }
}
