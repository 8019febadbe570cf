/**
 * The vocabulary of the reliability suite: what a scenario expects of each CloudFormation request,
 * and what it found. A scenario drives one LocalDeployment (the synthesized state machine, the
 * shipped handler bundle, real SDK clients, the emulator) and hands its requests to a `ScenarioRun`,
 * which judges every one of them against what the CloudFormation stand-in received.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Timeline } from './deployment';
import { CustomResourceEvent } from '../../harness/cloudformation';
import { LocalDeployment, LocalDeploymentOptions } from '../../harness/local-deployment';
import { ExportTaskWaiter } from '../../src';
import { attributesOfEmulatedTask, CREATE_FAILED_ID, OTHER_TASK_ID, TASK_ID } from '../e2e/helpers';

/** Real time a scenario may take to settle before it counts as hung. */
const SETTLE_LIMIT_MS = 120_000;

/**
 * CloudFormation refuses a response body larger than this. Deliberately not lambda/cloudformation-response.ts's
 * MAX_ANSWER_BYTES: the suite judges the handler against CloudFormation's limit, not against the handler's own idea of it.
 */
export const MAX_ANSWER_BYTES = 4096;

/** What the answer to one request must be. */
export interface Expectation {
  /**
   * SUCCESS or FAILED: answered exactly once, with that status. NO_ANSWER: no answer can get through
   * (the ResponseURL refuses every answer, or the event has no usable one); the scenario checks that
   * this is handled (logged, no crash).
   */
  readonly status: 'SUCCESS' | 'FAILED' | 'NO_ANSWER';
  readonly physicalResourceId?: string;
  /** Texts the Reason must contain (each compared as is). */
  readonly reasonIncludes?: readonly string[];
  /** Attributes the answer must carry, exactly. */
  readonly data?: Readonly<Record<string, string>>;
  /** Virtual epoch seconds from which the right answer could be known (the task's end, a deadline...). */
  readonly readyAt?: number;
  /** Contract violations the event itself makes unavoidable (it lacks a field the answer must echo). */
  readonly allowedViolations?: readonly RegExp[];
}

export interface RequestResult {
  readonly label: string;
  readonly requestId: string;
  readonly expected: Expectation['status'];
  /** Accepted (2xx) answers CloudFormation received for the request. */
  readonly accepted: number;
  /** Why the answer is not the expected one; empty when it is. */
  readonly wrong: string[];
  /** Virtual seconds from `readyAt` to the first accepted answer. */
  readonly latencySeconds?: number;
}

export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly requests: RequestResult[];
  /** Contract violations the CloudFormation stand-in recorded, less the allowed ones. */
  readonly violations: string[];
  /** Scenario-level checks that failed (the handler threw, an execution did not end as expected...). */
  readonly failedChecks: string[];
  /** Every line the handler logged. */
  readonly logs: string[];
  /** Every ResponseURL (and signature) the scenario issued: none may appear in any output. */
  readonly secrets: string[];
  /** Reason, PhysicalResourceId and Data values of every answer sent, accepted or not. */
  readonly answerValues: string[];
  readonly realMs: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(): Promise<ScenarioResult>;
}

export { CREATE_FAILED_ID, OTHER_TASK_ID, TASK_ID };
/** The service's terminal statuses, spelled out here as the emulator models the service: independently of the library's own list. */
export const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED'];

/** A stack with one waiter (the task id is a literal, so events may override it). */
export function waiterStack(timeout = Duration.minutes(55)): Stack {
  const app = new App();
  const stack = new Stack(app, 'Reliability', { env: { account: '123456789012', region: 'us-east-1' } });
  new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: TASK_ID, timeout });
  return stack;
}

interface Tracked {
  /** Read when the request was registered: a hostile event may lose or change its own. */
  readonly requestId: string;
  readonly label: string;
  /** Evaluated once everything settled (a task's final attributes are known only then). */
  readonly expectation: Expectation | (() => Expectation);
}

/** One scenario in progress: the deployment, the requests and what each must get. */
export class ScenarioRun {
  public static async start(options: LocalDeploymentOptions & { stack?: Stack } = {}): Promise<ScenarioRun> {
    const { stack, ...deploymentOptions } = options;
    const deployment = await LocalDeployment.start(stack ?? waiterStack(), { seed: 1, ...deploymentOptions });
    try {
      return new ScenarioRun(deployment);
    } catch (error) {
      // The deployment fakes Date and captures the console until stopped.
      await deployment.stop();
      throw error;
    }
  }

  public readonly timeline: Timeline;
  public readonly failedChecks: string[] = [];
  /** Extra secrets (ResponseURLs of hand-made events) to look for in every output. */
  public readonly extraSecrets: string[] = [];
  /** Virtual epoch seconds when the run started. */
  public readonly start: number;
  private readonly tracked: Tracked[] = [];
  private readonly began = performance.now();

  private constructor(public readonly d: LocalDeployment) {
    this.timeline = new Timeline(d);
    this.start = d.clock.now();
  }

  /** Registers a request and what its answer must be (or a function that tells, called at the end). */
  public expect(event: CustomResourceEvent, label: string, expectation: Expectation | (() => Expectation)): CustomResourceEvent {
    this.tracked.push({ requestId: event.RequestId, label, expectation });
    return event;
  }

  /** Invokes the handler with an event, recording a failed check if the invocation throws. */
  public async invoke(event: unknown, label: string): Promise<void> {
    // Virtual time stands still while the handler runs (it starts the execution in real time).
    const release = this.timeline.hold();
    try {
      await this.d.invoke(event);
    } catch (error) {
      this.failedChecks.push(`${label}: the handler threw ${String(error)}`);
    } finally {
      release();
    }
  }

  public check(condition: boolean, message: string): void {
    if (!condition) this.failedChecks.push(message);
  }

  /** GetExportTask calls the emulator answered, optionally for one task. */
  public reads(taskId?: string): Array<{ httpStatus: number; taskStatus?: string; at: number; faults?: string[] }> {
    return this.d.emulator.calls.filter((c) => c.operation === 'GetExportTask' && (taskId === undefined || c.taskId === taskId));
  }

  /** Waits for everything to settle, judges every request, and stops the deployment. */
  public async finish(name: string, description: string): Promise<ScenarioResult> {
    const d = this.d;
    try {
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([
        d.idle().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SETTLE_LIMIT_MS))),
      ]);
      clearTimeout(timer);
      if (!settled) {
        this.failedChecks.push(`executions still running after ${SETTLE_LIMIT_MS / 1000} s of real time: ${d.executions.filter((e) => e.status === 'RUNNING').length}`);
      }
      // From here on pauses move the clock at once again, so whatever still runs comes to an end.
      this.timeline.stop();
      await d.idle();
      for (const label of this.timeline.unfired()) this.failedChecks.push(`the scheduled action "${label}" never ran`);
      this.failedChecks.push(...this.timeline.problems);
      const expectations = this.tracked.map((t) => ({ ...t, expectation: typeof t.expectation === 'function' ? t.expectation() : t.expectation }));
      const requests = expectations.map((t) => this.judge(t));
      const allowed = new Map(expectations.map((t) => [t.requestId, t.expectation.allowedViolations ?? []]));
      const violations = d.cloudFormation.violations.filter((v) => {
        const [requestId, ...rest] = v.split(': ');
        return !(allowed.get(requestId) ?? []).some((pattern) => pattern.test(rest.join(': ')));
      });
      const answerValues = d.cloudFormation.attempts().flatMap((attempt) => valuesOf(attempt.body));
      return {
        name,
        description,
        requests,
        violations,
        failedChecks: [...this.failedChecks],
        logs: [...d.logs],
        secrets: [...d.cloudFormation.secrets, ...this.extraSecrets],
        answerValues,
        realMs: performance.now() - this.began,
      };
    } finally {
      this.timeline.stop();
      await d.stop();
    }
  }

  private judge({ requestId, label, expectation }: { requestId: string; label: string; expectation: Expectation }): RequestResult {
    const answers = this.d.cloudFormation.answers(requestId);
    const wrong: string[] = [];
    const first = answers[0]?.body as Record<string, unknown> | undefined;
    if (expectation.status === 'NO_ANSWER') {
      if (answers.length > 0) wrong.push(`expected no answer to get through, got ${answers.length}`);
    } else if (first && first.Status !== expectation.status) {
      // The rest of the answer cannot be right either: say only what it was.
      wrong.push(`Status ${String(first.Status)}, expected ${expectation.status} (Reason: ${String(first.Reason)}; PhysicalResourceId: ${String(first.PhysicalResourceId)})`);
    } else if (first) {
      if (expectation.physicalResourceId !== undefined && first.PhysicalResourceId !== expectation.physicalResourceId) {
        wrong.push(`PhysicalResourceId ${String(first.PhysicalResourceId)}, expected ${expectation.physicalResourceId}`);
      }
      const reason = typeof first.Reason === 'string' ? first.Reason : '';
      for (const text of expectation.reasonIncludes ?? []) {
        if (!reason.includes(text)) wrong.push(`Reason does not mention ${JSON.stringify(text)}: ${JSON.stringify(reason.slice(0, 300))}`);
      }
      if (expectation.data) {
        const data = (first.Data ?? {}) as Record<string, unknown>;
        for (const [key, value] of Object.entries(expectation.data)) {
          if (data[key] !== value) wrong.push(`Data.${key} is ${JSON.stringify(data[key])}, expected ${JSON.stringify(value)}`);
        }
      }
      if (answers[0].rawBytes > MAX_ANSWER_BYTES) wrong.push(`answer of ${answers[0].rawBytes} bytes`);
    }
    const latencySeconds = expectation.readyAt !== undefined && answers.length > 0 ? answers[0].receivedAt / 1000 - expectation.readyAt : undefined;
    // An answer before the outcome could be known is a guess, however right it looks.
    if (latencySeconds !== undefined && latencySeconds < 0) wrong.push(`answered ${(-latencySeconds).toFixed(1)} virtual seconds before the outcome was known`);
    return { label, requestId, expected: expectation.status, accepted: answers.length, wrong, latencySeconds };
  }
}

/** Reason, PhysicalResourceId and Data values of an answer body, as text. */
function valuesOf(body: unknown): string[] {
  if (typeof body === 'string') return [body];
  if (typeof body !== 'object' || body === null) return [];
  const b = body as Record<string, unknown>;
  const values = [b.Reason, b.PhysicalResourceId, ...Object.values((b.Data ?? {}) as Record<string, unknown>)];
  return values.filter((v) => v !== undefined).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
}

/** Attributes a SUCCESS answer must carry for a task, from the emulator's view of it. */
export const attributesOf = attributesOfEmulatedTask;
