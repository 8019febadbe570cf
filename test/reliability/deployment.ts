/**
 * What the reliability suite adds around the local harness (harness/*, which it does not change):
 *
 * - `Timeline`: virtual time for many executions at once, and actions at exact virtual moments
 *   (delete a task, send an Update...) while the wait loop runs.
 *   The harness moves its one virtual clock by the whole length of every pause (a Wait state or a
 *   Retry interval) the moment an execution takes it. That is exact for one execution; with 100 of
 *   them waiting 30 s each the clock moves 3000 s, and each sees its task end, and its deadline
 *   pass, long before it really would. The Timeline instead turns a pause into a wake-up time for
 *   that execution, holds the execution's next Neptune Analytics call until the clock reaches it,
 *   and moves the clock only when every running execution is held (and no handler invocation the
 *   scenario made is still running): to the earliest wake-up, or to the next scheduled action.
 *   This is a conservative discrete-event simulation; with one execution it gives exactly the
 *   harness's timings.
 * - `StepFunctionsReplyLoss`: a proxy between the handler and the harness's Step Functions endpoint
 *   that forwards StartExecution requests and loses the first replies, as a network can after the
 *   execution was created.
 *
 * The Timeline reaches into the harness at four points: the clock's `advance` (called for every
 * pause), each execution record's `transitions` counter (counted just before a pause, so it names the
 * execution pausing), the private Neptune Analytics client's `send` (checked at start) and `invoke`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExecutionRecord, LocalDeployment } from '../../harness/local-deployment';
import { ANSWER_MARKER } from '../../src/runtime/constants';

interface Scheduled {
  readonly at: number;
  readonly label: string;
  readonly action: () => void;
  fired: boolean;
}

interface Lane {
  /** The taskIdentifier the execution waits for (from its input). */
  readonly taskId?: string;
  /** When the pause the execution took last ends, until a call consumes it. */
  wake?: number;
}

interface HeldCall {
  readonly wake: number;
  readonly resume: () => void;
}

type Send = (command: unknown, ...rest: unknown[]) => Promise<unknown>;

export class Timeline {
  /** Problems met while running scheduled actions (an action that threw). */
  public readonly problems: string[] = [];
  private readonly scheduled: Scheduled[] = [];
  private readonly lanes = new WeakMap<ExecutionRecord, Lane>();
  private readonly held: HeldCall[] = [];
  /** The execution whose state transition was recorded last: the one the next pause belongs to. */
  private actor?: ExecutionRecord;
  private readonly moveClock: (seconds: number) => void;
  private holds = 0;
  private readonly ticker: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly deployment: LocalDeployment) {
    const clock = deployment.clock;
    const neptune = (deployment as unknown as { neptune?: { send?: Send } }).neptune;
    if (typeof neptune?.send !== 'function') {
      throw new Error('test/reliability/deployment.ts: LocalDeployment has no private `neptune` client any more; update the Timeline');
    }
    this.moveClock = clock.advance.bind(clock);
    clock.advance = (seconds: number) => this.pause(seconds);
    const send = neptune.send.bind(neptune);
    neptune.send = async (command: unknown, ...rest: unknown[]) => {
      await this.turn((command as { input?: { taskIdentifier?: unknown } }).input?.taskIdentifier);
      return send(command, ...rest);
    };
    // The loop's other kind of call after a pause: invoking the handler to answer (again, after a Retry).
    const invoke = deployment.invoke.bind(deployment);
    deployment.invoke = async (event: unknown) => {
      const answer = typeof event === 'object' && event !== null ? (event as Record<string, unknown>)[ANSWER_MARKER] : undefined;
      if (typeof answer === 'object' && answer !== null) await this.turn((answer as { taskId?: unknown }).taskId ?? undefined);
      return invoke(event);
    };
    for (const record of deployment.executions) this.follow(record);
    const executions = deployment.executions;
    const push = executions.push.bind(executions);
    executions.push = (...records: ExecutionRecord[]) => {
      records.forEach((record) => this.follow(record));
      return push(...records);
    };
    // Executions end, and calls come back, without telling: look again every few milliseconds.
    this.ticker = setInterval(() => this.step(), 2);
  }

  /** Runs `action` when the virtual clock reaches `at` (epoch seconds). */
  public at(at: number, label: string, action: () => void): void {
    this.scheduled.push({ at, label, action, fired: false });
    this.scheduled.sort((a, b) => a.at - b.at);
  }

  /** Keeps the clock where it is until the returned function is called (a handler invocation runs). */
  public hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.kick();
    };
  }

  /** Actions whose moment never came (the executions ended before). */
  public unfired(): string[] {
    return this.scheduled.filter((s) => !s.fired).map((s) => s.label);
  }

  /** Ends the simulation: held calls go on at once, and pauses move the clock as the harness does. */
  public stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    for (const call of this.held.splice(0)) call.resume();
  }

  private follow(record: ExecutionRecord): void {
    let taskId: string | undefined;
    try {
      const input = JSON.parse(record.input) as { taskIdentifier?: unknown };
      taskId = typeof input.taskIdentifier === 'string' ? input.taskIdentifier : undefined;
    } catch {
      taskId = undefined;
    }
    this.lanes.set(record, { taskId });
    let transitions = record.transitions;
    Object.defineProperty(record, 'transitions', {
      configurable: true,
      enumerable: true,
      get: () => transitions,
      set: (value: number) => {
        transitions = value;
        this.actor = record;
      },
    });
  }

  /** The harness moves the clock for a pause: note when the pausing execution may go on instead. */
  private pause(seconds: number): void {
    const actor = this.actor;
    this.actor = undefined;
    const lane = actor && this.lanes.get(actor);
    if (this.stopped) {
      this.moveClock(seconds);
    } else if (!lane) {
      this.problems.push(`a pause of ${seconds} s that no execution took`);
      this.moveClock(seconds);
    } else {
      lane.wake = this.deployment.clock.now() + seconds;
    }
  }

  /**
   * Holds a call (to Neptune Analytics, or to the handler to answer) until the pause before it is
   * over. The call names its task, not its execution: it takes the earliest pending wake-up among the
   * executions of that task (which are alike, so which of them it is does not matter). Each pause is
   * followed by one call, so when as many calls are held as executions run, every execution is held.
   */
  private async turn(taskId: unknown): Promise<void> {
    if (this.stopped) return;
    const lane = this.deployment.executions
      .filter((r) => r.status === 'RUNNING')
      .map((r) => this.lanes.get(r))
      .filter((l): l is Lane => l !== undefined && l.taskId === taskId && l.wake !== undefined)
      .sort((a, b) => a.wake! - b.wake!)[0];
    if (!lane) return;
    const wake = lane.wake!;
    lane.wake = undefined;
    if (wake <= this.deployment.clock.now()) return;
    await new Promise<void>((resume) => {
      this.held.push({ wake, resume });
      this.kick();
    });
  }

  private kick(): void {
    setImmediate(() => this.step());
  }

  /** When every running execution is held, moves the clock to the next event and lets it happen. */
  private step(): void {
    if (this.stopped || this.holds > 0 || this.held.length === 0) return;
    const running = this.deployment.executions.filter((r) => r.status === 'RUNNING').length;
    if (this.held.length < running) return;
    const next = Math.min(...this.held.map((h) => h.wake));
    const action = this.scheduled.find((s) => !s.fired);
    if (action && action.at <= next) {
      this.moveTo(action.at);
      action.fired = true;
      try {
        action.action();
      } catch (error) {
        this.problems.push(`scheduled action "${action.label}" threw: ${String(error)}`);
      }
      this.kick();
      return;
    }
    this.moveTo(next);
    const due = this.held.filter((h) => h.wake <= next);
    this.held.splice(0, this.held.length, ...this.held.filter((h) => h.wake > next));
    for (const call of due) call.resume();
  }

  private moveTo(at: number): void {
    const now = this.deployment.clock.now();
    if (at > now) this.moveClock(at - now);
  }
}

/**
 * Sits between the handler and the harness's Step Functions endpoint; loses the replies of the first
 * `lose` requests after they reached Step Functions (the execution exists, the caller never learns it).
 * Install it after LocalDeployment.start and before the first Create or Update (the handler builds its
 * client, and reads the endpoint, on first use).
 */
export class StepFunctionsReplyLoss {
  public static async install(lose: number): Promise<StepFunctionsReplyLoss> {
    const upstream = process.env.AWS_ENDPOINT_URL_SFN;
    if (!upstream) throw new Error('AWS_ENDPOINT_URL_SFN is not set: start the LocalDeployment first');
    const proxy = new StepFunctionsReplyLoss(new URL(upstream), lose);
    await new Promise<void>((done) => proxy.server.listen(0, '127.0.0.1', () => done()));
    process.env.AWS_ENDPOINT_URL_SFN = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  public forwarded = 0;
  public lost = 0;
  private readonly server = http.createServer((req, res) => this.forward(req, res));

  private constructor(private readonly upstream: URL, private readonly lose: number) {}

  public async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.forwarded++;
      const outgoing = http.request({
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.upstream.host },
      }, (reply) => {
        const body: Buffer[] = [];
        reply.on('data', (chunk: Buffer) => body.push(chunk));
        reply.on('end', () => {
          if (this.lost < this.lose) {
            this.lost++;
            req.socket.destroy();
            return;
          }
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          res.end(Buffer.concat(body));
        });
      });
      outgoing.on('error', () => req.socket.destroy());
      outgoing.end(Buffer.concat(chunks));
    });
  }
}
