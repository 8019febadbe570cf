/**
 * What aws-local-stepfunctions 3.0.0 does not enforce and Step Functions does, added from the
 * outside: the execution-history quota (25,000 events), the payload quota (256 KiB of state input,
 * state output and task parameters/results), and a record of where issued secrets (ResponseURLs,
 * WaitCondition handle URLs, their signatures) would have been written to the execution history.
 *
 * How it hooks in: the interpreter reports each step to an event logger (StateEntered, StateExited,
 * StateFailed, StateRetried, StateCaught, ExecutionStarted/Succeeded/Failed). The observer wraps
 * that logger's dispatch methods for one run. They are called synchronously from the interpreter's
 * own loop, outside the code that applies a state's Retry and Catch, so an error thrown from them
 * fails the execution as Step Functions does for these quotas: no Retry or Catch applies.
 *
 * ## History-event model (Standard workflows)
 *
 * Event types are those of the Step Functions API reference, `HistoryEvent` (type enum):
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html
 * The quota semantics follow the developer guide, "Avoid reaching the history quota"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html): "When an execution
 * reaches 24,999 events, it waits for the next event to happen. If the event number 25,000 is
 * ExecutionSucceeded, the execution finishes successfully. If [it] isn't ExecutionSucceeded, the
 * ExecutionFailed event is logged and the state machine execution fails".
 *
 * Which events each state writes is *unverified* here (no AWS account): it is the sequence the
 * console shows for Standard executions, written down as follows.
 * - ExecutionStarted; at the end one of ExecutionSucceeded, ExecutionFailed, ExecutionAborted.
 * - Pass, Choice, Wait, Succeed: <Type>StateEntered, <Type>StateExited (2 events).
 * - Fail: FailStateEntered, then ExecutionFailed.
 * - Task (AWS SDK integrations, lambda:invoke, states:startExecution alike): TaskStateEntered; per
 *   attempt TaskScheduled, TaskStarted and one of TaskSucceeded, TaskFailed, TaskTimedOut; then
 *   TaskStateExited when the state is left normally or through a Catch. A successful first attempt
 *   is 5 events, each retry adds 3.
 * - Parallel and Map are not modelled: a definition with them is refused (the loop has none).
 * - The error name of a history-quota failure is *unverified*; its cause text is the one users
 *   report ("The execution reached the maximum number of history events (25000).").
 *
 * ## Payload quota
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html : 256 KiB (262,144 bytes
 * of UTF-8) for a task's, state's or execution's input or result. Exceeding it raises
 * States.DataLimitExceeded, which States.ALL does not catch (Step Functions developer guide,
 * "Error names"). Checked on the execution input, every state's input and output, and every task's
 * effective parameters and raw result.
 */

export const MAX_HISTORY_EVENTS = 25_000;
export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const HISTORY_LIMIT_CAUSE = `The execution reached the maximum number of history events (${MAX_HISTORY_EVENTS}).`;
export const DATA_LIMIT_ERROR = 'States.DataLimitExceeded';

/** What the observer writes into an execution's record while it runs. */
export interface ExecutionObservations {
  /** History events Step Functions would have written so far (see the model above). */
  historyEvents: number;
  /** The same, by event type. */
  readonly eventsByType: Record<string, number>;
  /** The execution failed because its history reached the quota. */
  historyLimitReached: boolean;
  /** Error and cause of the ExecutionFailed event, as Step Functions reports them. */
  failure?: { error: string; cause: string };
  /** Largest payload (input, output, task parameters or result) per state, in bytes. */
  readonly largestPayloadBytes: Record<string, number>;
  /**
   * Where an issued secret (a ResponseURL, a handle URL or one of their signatures) appeared in what
   * the execution history would hold, e.g. `input`, `GetExportTask output`, `AnswerCloudFormation
   * parameters`. The secret itself is never recorded.
   */
  readonly secretSightings: string[];
}

export function emptyObservations(): ExecutionObservations {
  return { historyEvents: 0, eventsByType: {}, historyLimitReached: false, largestPayloadBytes: {}, secretSightings: [] };
}

/** An error that ends the execution whatever the state's Retry and Catch say. */
export class ExecutionTerminatingError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

type Json = Record<string, unknown>;
const SIGNATURE = /^[0-9a-f]{64}$/;
const HEX_RUN = /[0-9a-f]{64}/g;
type EventLogger = Record<string, (...args: unknown[]) => void>;

/** Observes one execution. `secrets` is read at each check (new secrets are issued as tests run). */
export class ExecutionObserver {
  /** Checks the execution input (StartExecution refuses oversized input before anything runs). */
  public static inputProblem(input: string): string | undefined {
    const bytes = Buffer.byteLength(input, 'utf8');
    return bytes > MAX_PAYLOAD_BYTES ? `The execution input is ${bytes} bytes, over the ${MAX_PAYLOAD_BYTES}-byte quota` : undefined;
  }

  /** The current task attempt failed (leaving the state through a Catch then writes no TaskSucceeded). */
  private failedAttempt = false;
  /** Set by a task wrapper when a quota was broken inside a task; raised by the next hook. */
  private pendingTermination?: ExecutionTerminatingError;
  private ended = false;
  private secretsSeen = -1;
  private signatures = new Set<string>();
  private otherSecrets: string[] = [];

  constructor(
    private readonly record: ExecutionObservations,
    states: Record<string, Json>,
    private readonly secrets: () => readonly string[],
  ) {
    const unmodelled = Object.entries(states).filter(([, s]) => s.Type === 'Parallel' || s.Type === 'Map').map(([n]) => n);
    if (unmodelled.length > 0) throw new Error(`The history-event model does not cover Parallel or Map states: ${unmodelled.join(', ')}`);
  }

  /** Wraps a task's local handler: its parameters and raw result count against the payload quota and are scanned. */
  public task<T>(stateName: string, handler: (input: T) => Promise<unknown>): (input: T) => Promise<unknown> {
    return async (input: T) => {
      this.inspect(stateName, 'parameters', input);
      const result = await handler(input);
      this.inspect(stateName, 'result', result);
      return result;
    };
  }

  /** Replaces the dispatch methods of the interpreter's event logger for this run. */
  public attach(logger: EventLogger): void {
    const wrap = (method: string, before: (...args: unknown[]) => void) => {
      const original = logger[method].bind(logger);
      logger[method] = (...args: unknown[]) => {
        before(...args);
        original(...args);
      };
    };
    wrap('dispatchExecutionStartedEvent', (input) => {
      this.inspect(undefined, 'input', input);
      this.write('ExecutionStarted');
    });
    wrap('dispatchStateEnteredEvent', (name, type, input) => {
      this.raisePending();
      this.write(`${String(type)}StateEntered`);
      this.inspect(String(name), 'input', input);
      if (type === 'Task') this.writeAttempt();
    });
    wrap('dispatchStateFailedEvent', (_name, type, _input, error) => {
      this.raisePending();
      if (type !== 'Task') return;
      this.failedAttempt = true;
      this.write((error as Error | undefined)?.name === 'States.Timeout' ? 'TaskTimedOut' : 'TaskFailed');
    });
    wrap('dispatchStateRetriedEvent', (_name, type) => {
      this.raisePending();
      if (type === 'Task') this.writeAttempt();
    });
    wrap('dispatchStateCaughtEvent', () => this.raisePending());
    wrap('dispatchStateExitedEvent', (name, type, _input, output) => {
      this.raisePending();
      if (type === 'Task' && !this.failedAttempt) this.write('TaskSucceeded');
      this.inspect(String(name), 'output', output);
      this.write(`${String(type)}StateExited`);
    });
    wrap('dispatchExecutionSucceededEvent', () => this.end('ExecutionSucceeded'));
    wrap('dispatchExecutionFailedEvent', (error) => {
      const e = (error ?? {}) as { name?: string; message?: string; cause?: unknown };
      if (this.ended) return;
      this.record.failure = { error: String(e.name), cause: typeof e.cause === 'string' ? e.cause : String(e.message) };
      this.end('ExecutionFailed');
    });
    wrap('dispatchExecutionAbortedEvent', () => this.end('ExecutionAborted'));
  }

  private writeAttempt(): void {
    this.failedAttempt = false;
    this.write('TaskScheduled');
    this.write('TaskStarted');
  }

  private end(type: string): void {
    if (this.ended) return;
    this.ended = true;
    this.count(type);
  }

  /** Counts an event that is not the last: the 25,000th event may only be ExecutionSucceeded or ExecutionFailed. */
  private write(type: string): void {
    if (this.ended) return;
    if (this.record.historyEvents >= MAX_HISTORY_EVENTS - 1) {
      this.record.historyLimitReached = true;
      throw new ExecutionTerminatingError('States.Runtime', HISTORY_LIMIT_CAUSE);
    }
    this.count(type);
  }

  private count(type: string): void {
    this.record.historyEvents++;
    this.record.eventsByType[type] = (this.record.eventsByType[type] ?? 0) + 1;
  }

  private raisePending(): void {
    const pending = this.pendingTermination;
    if (pending) {
      this.pendingTermination = undefined;
      throw pending;
    }
  }

  /**
   * Whether the text holds an issued secret. Every presigned URL carries its 64-hex X-Amz-Signature,
   * which is listed as a secret too: looking up the text's 64-hex runs in a set finds any of them at
   * once (a hundred waiters issue hundreds of secrets; testing each against every state's data took
   * most of a load test's time). Secrets of another shape are still searched one by one.
   */
  private holdsSecret(text: string): boolean {
    const secrets = this.secrets();
    if (secrets.length !== this.secretsSeen) {
      this.secretsSeen = secrets.length;
      this.signatures = new Set(secrets.filter((secret) => SIGNATURE.test(secret)));
      this.otherSecrets = secrets.filter((secret) => secret !== '' && !SIGNATURE.test(secret)
        && ![...secret.matchAll(HEX_RUN)].some(([run]) => this.signatures.has(run)));
    }
    return (text.match(HEX_RUN) ?? []).some((run) => this.signatures.has(run)) || this.otherSecrets.some((secret) => text.includes(secret));
  }

  /** Payload quota and secret scan of one piece of data the history would hold. */
  private inspect(stateName: string | undefined, what: string, data: unknown): void {
    const text = data === undefined ? '' : typeof data === 'string' && stateName === undefined ? data : JSON.stringify(data) ?? '';
    const bytes = Buffer.byteLength(text, 'utf8');
    const where = stateName === undefined ? what : `${stateName} ${what}`;
    if (stateName !== undefined) {
      this.record.largestPayloadBytes[stateName] = Math.max(this.record.largestPayloadBytes[stateName] ?? 0, bytes);
    }
    // Data enters an execution only through its input and its tasks (parameters read from the context
    // object, results): scanning those finds any secret the history could hold, and a state's input and
    // output, which are copies of them, need no scan of their own.
    const source = stateName === undefined || what === 'parameters' || what === 'result';
    if (source && this.holdsSecret(text) && !this.record.secretSightings.includes(where)) {
      this.record.secretSightings.push(where);
    }
    if (bytes > MAX_PAYLOAD_BYTES) {
      const error = new ExecutionTerminatingError(DATA_LIMIT_ERROR, `The ${where} is ${bytes} bytes, over the ${MAX_PAYLOAD_BYTES}-byte quota`);
      // Inside a task the interpreter would apply Retry/Catch to a thrown error: the next hook raises it instead.
      if (what === 'parameters' || what === 'result') this.pendingTermination = error;
      throw error;
    }
  }
}
