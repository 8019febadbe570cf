/**
 * A local stand-in for the Neptune Analytics control plane (export tasks only).
 *
 * It speaks restJson1 exactly as `@aws-sdk/client-neptune-graph` 3.1128.0 expects, so a real
 * `NeptuneGraphClient({ endpoint })` works against it unchanged and its errors deserialize into
 * the client's own exception classes. Time is virtual: tasks progress only when a test advances
 * the `VirtualClock`, so a ten-minute export costs no real time and every run is reproducible.
 *
 * Wire facts this relies on (read from the client's schemas in dist-cjs, not guessed):
 * - the error name is taken from the `x-amzn-errortype` header first, then body `code`, then
 *   `__type`; the HTTP status is never used to pick the class, so a 404 without a type becomes
 *   a bare `NeptuneGraphServiceException` named `Unknown`;
 * - `startTime` is a timestamp without a format trait, i.e. epoch seconds as a JSON number; an
 *   ISO string makes the client throw a TypeError while deserializing;
 * - the client validates nothing itself (missing required members and empty path labels are sent
 *   as is), so the service side has to.
 *
 * Unverified guesses (nobody here can check them against AWS; change them freely): the
 * authentication error names (MissingAuthenticationTokenException, IncompleteSignatureException,
 * InvalidSignatureException, all 403, none of them modelled by the client), the default page size
 * of ListExportTasks (100, its documented maximum) and its oldest-first order, the statusReason
 * texts, and that progress stops moving while a task is CANCELLING.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Seconds since an arbitrary epoch, moved only by the test. */
export class VirtualClock {
  private current: number;

  constructor(startEpochSeconds: number = 1_767_225_600) {
    if (!Number.isFinite(startEpochSeconds)) {
      throw new Error(`VirtualClock start must be a finite number, got ${startEpochSeconds}`);
    }
    this.current = startEpochSeconds;
  }

  public now(): number {
    return this.current;
  }

  public advance(seconds: number): void {
    // Going backwards would let a terminal task become running again, which no real service does.
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new Error(`VirtualClock can only move forward by a finite amount, got ${seconds}`);
    }
    this.current += seconds;
  }
}

/** Maps the fraction of EXPORTING time elapsed (0..1) to the fraction of work reported done (0..1). */
export type ProgressModel = (fractionOfTime: number) => number;

export const progressModels: {
  linear: ProgressModel;
  frontLoaded: ProgressModel;
  backLoaded: ProgressModel;
  stalledThenJumping: ProgressModel;
  noProgressUntilDone: ProgressModel;
} = {
  linear: (f) => f,
  frontLoaded: (f) => 1 - (1 - f) ** 3,
  backLoaded: (f) => f ** 3,
  // Reaches 10 %, sits there for most of the run, then leaps: the shape that fools
  // "no progress for N polls means stuck" heuristics.
  stalledThenJumping: (f) => (f < 0.2 ? f / 2 : f < 0.8 ? 0.1 : 0.9 + (f - 0.8) / 2),
  noProgressUntilDone: () => 0,
};

export interface TaskScript {
  taskId?: string;
  graphId?: string;
  initializingSeconds?: number;
  exportingSeconds?: number;
  progress?: ProgressModel;
  progressNoise?: number;
  outcome?: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'DELETED';
  statusReason?: string;
  /**
   * Seconds after the task starts at which it is cancelled, as if CancelExportTask arrived then
   * (it then stays CANCELLING for `cancellingSeconds`). Must fall before the task would end.
   * Unlike calling `cancel()`, this needs no test code to run at the right virtual moment.
   */
  cancelAfterSeconds?: number;
  /** How long a cancel (scripted, or by CancelExportTask) stays CANCELLING. @default 60 */
  cancellingSeconds?: number;
  vertices?: number;
  edges?: number;
  format?: 'PARQUET' | 'CSV';
  parquetType?: 'COLUMNAR';
  destination?: string;
  kmsKeyIdentifier?: string;
  roleArn?: string;
  exportFilter?: unknown;
}

export type EmulatedOperation = 'StartExportTask' | 'GetExportTask' | 'CancelExportTask' | 'ListExportTasks';
export type FaultKind = 'throttle' | 'internal' | 'slow' | 'drop' | 'notFound' | 'validation' | 'accessDenied' | 'conflict';

export interface FaultRule {
  operation?: EmulatedOperation;
  taskId?: string;
  kind: FaultKind;
  times?: number;
  probability?: number;
  between?: [number, number];
  delayMs?: number;
  message?: string;
}

export interface RecordedCall {
  operation: string;
  taskId?: string;
  /** 0 when the connection was dropped without an answer. */
  httpStatus: number;
  errorType?: string;
  /** Virtual seconds at which the request arrived. */
  at: number;
  /** Fault kinds that applied to this call, in rule order (a 'slow' can precede an error). */
  faults?: FaultKind[];
  /** GetExportTask answered with a task: the status it reported. */
  taskStatus?: string;
}

export interface EmulatedTask {
  readonly taskId: string;
  status(): string;
  cancel(cancellingSeconds?: number): void;
  markDeleted(reason?: string): void;
  remove(): void;
  describe(): Record<string, unknown>;
}

export interface NeptuneGraphEmulatorOptions {
  clock?: VirtualClock;
  seed?: number;
  /** Region the SigV4 credential scope must name; default us-east-1. */
  region?: string;
  /** Account used in the default role and KMS ARNs; default 123456789012. */
  account?: string;
}

const TASK_ID = /^t-[a-z0-9]{10}$/;
const GRAPH_ID = /^g-[a-z0-9]{10}$/;
const ROLE_ARN = /^arn:aws[^:]*:iam::\d{12}:(role|role\/service-role)(\/[\w+=,.@-]+)+$/;
const KMS_ARN = /^arn:aws[^:]*:kms:[a-zA-Z0-9-]*:[0-9]{12}:key\/[a-zA-Z0-9-]{36}$/;
const OUTPUT_TYPE = /^(Any|Byte|Short|Int|Long|Float|Double|String|Bool|Boolean|Float\[\]|Double\[\])$/;
const OUTPUT_NAME = /^[a-zA-Z0-9_]{1,128}$/;
const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=[0-9a-f]{64}$/;
const SIGNING_NAME = 'neptune-graph';
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'DELETED']);
const MAX_PAGE = 100;
const MAX_BODY_BYTES = 1024 * 1024;

/** An error answer: status, `x-amzn-errortype` and the extra body members besides `message`. */
class WireError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly members: Record<string, string> = {},
  ) {
    super(message);
  }
}

const validationError = (problems: string[], reason = 'CONSTRAINT_VIOLATION') =>
  new WireError(400, 'ValidationException',
    `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    { reason });

/**
 * Park–Miller MINSTD. Chosen over mulberry32 because it needs no bitwise operators (the project
 * lints them away) and every intermediate product stays exact in a double.
 */
class Prng {
  private static readonly M = 2_147_483_647;
  private state: number;

  constructor(seed: number) {
    this.state = (Math.abs(Math.floor(seed)) % (Prng.M - 1)) + 1;
    // Small neighbouring seeds start out correlated; a few rounds spread them apart.
    for (let i = 0; i < 8; i++) this.next();
  }

  public next(): number {
    this.state = (this.state * 48_271) % Prng.M;
    return (this.state - 1) / (Prng.M - 1);
  }
}

const hashString = (s: string, seed: number): number => {
  let h = Math.abs(Math.floor(seed)) % 2_147_483_647;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) % 2_147_483_647;
  return h;
};

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

// floor(p * 100) alone turns 0.29 into 28 through float error; the epsilon keeps 29.
const percentOf = (p: number) => Math.floor(p * 100 + 1e-9);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

type Phase = 'INITIALIZING' | 'EXPORTING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLING' | 'CANCELLED' | 'DELETED';

interface ResolvedScript {
  graphId: string;
  initializingSeconds: number;
  exportingSeconds: number;
  progress: ProgressModel;
  progressNoise: number;
  outcome: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'DELETED';
  statusReason?: string;
  cancelAfterSeconds?: number;
  cancellingSeconds: number;
  vertices: number;
  edges: number;
  format: 'PARQUET' | 'CSV';
  parquetType?: 'COLUMNAR';
  destination: string;
  kmsKeyIdentifier: string;
  roleArn: string;
  exportFilter?: unknown;
}

class ScriptedTask implements EmulatedTask {
  private readonly initEnd: number;
  private readonly end: number;
  /** Prefix maxima of the noisy progress curve; absent when there is no noise. */
  private readonly noisyKnots?: number[];
  private cancelAt?: number;
  private cancellingSeconds = 0;
  private deletedAt?: number;
  private deleteReason?: string;

  constructor(
    readonly taskId: string,
    readonly seq: number,
    private readonly script: ResolvedScript,
    private readonly clock: VirtualClock,
    readonly startedAt: number,
    noiseSeed: number,
    private readonly onRemove: (task: ScriptedTask) => void,
  ) {
    this.initEnd = startedAt + script.initializingSeconds;
    this.end = this.initEnd + script.exportingSeconds;
    if (script.cancelAfterSeconds !== undefined) {
      this.cancelAt = startedAt + script.cancelAfterSeconds;
      this.cancellingSeconds = script.cancellingSeconds;
    }
    if (script.progressNoise > 0) {
      // describe() must be a pure function of time (tests jump the clock arbitrarily), so the
      // noise is drawn once per knot and made monotone by a running maximum.
      const rng = new Prng(noiseSeed);
      const knots = Math.min(1000, Math.max(1, Math.ceil(script.exportingSeconds)));
      const curve: number[] = [];
      let best = 0;
      for (let k = 0; k <= knots; k++) {
        const noisy = clamp01(clamp01(script.progress(k / knots)) + (rng.next() * 2 - 1) * script.progressNoise);
        best = Math.max(best, noisy);
        curve.push(best);
      }
      this.noisyKnots = curve;
    }
  }

  public get graphId(): string {
    return this.script.graphId;
  }

  /** How long a CancelExportTask leaves the task CANCELLING. */
  public get cancellingSecondsOnRequest(): number {
    return this.script.cancellingSeconds;
  }

  public status(): Phase {
    return this.phaseAt(this.clock.now());
  }

  public cancel(cancellingSeconds: number = 60): void {
    if (!Number.isFinite(cancellingSeconds) || cancellingSeconds < 0) {
      throw new Error(`cancellingSeconds must be >= 0, got ${cancellingSeconds}`);
    }
    const status = this.status();
    if (TERMINAL.has(status)) {
      throw new Error(`Export task ${this.taskId} is ${status} and cannot be cancelled`);
    }
    // A second cancel while CANCELLING must not restart the countdown.
    if (status === 'CANCELLING') return;
    this.cancelAt = this.clock.now();
    this.cancellingSeconds = cancellingSeconds;
  }

  public markDeleted(reason?: string): void {
    if (this.deletedAt !== undefined) return;
    this.deletedAt = this.clock.now();
    this.deleteReason = reason;
  }

  public remove(): void {
    this.onRemove(this);
  }

  public describe(): Record<string, unknown> {
    const now = this.clock.now();
    const body = this.summaryAt(now);
    const details = this.detailsAt(now);
    if (details) body.exportTaskDetails = details;
    if (this.script.exportFilter !== undefined) body.exportFilter = structuredClone(this.script.exportFilter);
    return body;
  }

  /** The members shared by every output shape (ExportTaskSummary, Start/Cancel outputs). */
  public summaryAt(t: number): Record<string, unknown> {
    const s = this.script;
    const status = this.phaseAt(t);
    const body: Record<string, unknown> = {
      graphId: s.graphId,
      roleArn: s.roleArn,
      taskId: this.taskId,
      status,
      format: s.format,
      destination: s.destination,
      kmsKeyIdentifier: s.kmsKeyIdentifier,
    };
    if (s.parquetType !== undefined) body.parquetType = s.parquetType;
    const reason = this.reasonFor(status);
    if (reason !== undefined) body.statusReason = reason;
    return body;
  }

  public startOutput(): Record<string, unknown> {
    const body = this.summaryAt(this.clock.now());
    if (this.script.exportFilter !== undefined) body.exportFilter = structuredClone(this.script.exportFilter);
    return body;
  }

  private phaseAt(t: number): Phase {
    if (this.deletedAt !== undefined && t >= this.deletedAt) return 'DELETED';
    if (this.cancelAt !== undefined && t >= this.cancelAt) {
      return t < this.cancelAt + this.cancellingSeconds ? 'CANCELLING' : 'CANCELLED';
    }
    if (t < this.initEnd) return 'INITIALIZING';
    if (t < this.end) return 'EXPORTING';
    return this.script.outcome;
  }

  private reasonFor(status: Phase): string | undefined {
    switch (status) {
      case 'DELETED':
        return this.deleteReason ?? this.script.statusReason ?? 'Export task was deleted';
      case 'CANCELLED':
        return this.cancelAt !== undefined
          ? 'Export task was cancelled by request'
          : this.script.statusReason ?? 'Export task was cancelled';
      case 'FAILED':
        return this.script.statusReason ?? 'Export task failed';
      default:
        return undefined;
    }
  }

  private detailsAt(t: number): Record<string, unknown> | undefined {
    // Work stops the moment a cancel or delete arrives; the clock on the task keeps running
    // through CANCELLING because the service is still busy winding down.
    const workStop = Math.min(t, this.end, this.cancelAt ?? Infinity, this.deletedAt ?? Infinity);
    if (workStop < this.initEnd) return undefined;
    const finishedAt = this.cancelAt !== undefined && this.cancelAt < this.end
      ? this.cancelAt + this.cancellingSeconds
      : this.end;
    const clockStop = Math.min(t, finishedAt, this.deletedAt ?? Infinity);
    const details: Record<string, unknown> = {
      // Millisecond precision: the client turns this into a Date via Math.round(seconds * 1000).
      startTime: Math.round(this.startedAt * 1000) / 1000,
      timeElapsedSeconds: Math.max(0, Math.floor(clockStop - this.startedAt)),
    };
    const s = this.script;
    if (workStop >= this.end && s.outcome === 'SUCCEEDED') {
      details.progressPercentage = 100;
      details.numVerticesWritten = s.vertices;
      details.numEdgesWritten = s.edges;
      return details;
    }
    const fraction = s.exportingSeconds > 0 ? (workStop - this.initEnd) / s.exportingSeconds : 1;
    const done = this.progressAt(fraction);
    details.progressPercentage = Math.min(99, percentOf(done));
    details.numVerticesWritten = Math.floor(s.vertices * done);
    details.numEdgesWritten = Math.floor(s.edges * done);
    return details;
  }

  private progressAt(fraction: number): number {
    const f = clamp01(fraction);
    if (!this.noisyKnots) return clamp01(this.script.progress(f));
    const last = this.noisyKnots.length - 1;
    return this.noisyKnots[Math.min(last, Math.floor(f * last))];
  }
}

interface ArmedRule {
  rule: FaultRule;
  remaining: number;
}

interface Route {
  operation: EmulatedOperation | 'Unknown';
  /** Raw (decoded) path label, when the operation has one. */
  label?: string;
}

export class NeptuneGraphEmulator {
  public static async start(options: NeptuneGraphEmulatorOptions = {}): Promise<NeptuneGraphEmulator> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const emulator = new NeptuneGraphEmulator(server, `http://127.0.0.1:${port}`, options);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => emulator.handle(req, res));
    return emulator;
  }

  public readonly endpoint: string;
  public readonly clock: VirtualClock;
  public readonly calls: RecordedCall[] = [];
  public readonly region: string;
  public readonly account: string;
  /**
   * Script values for tasks created through StartExportTask (timings, outcome, counts...).
   * The request's own fields (graph, role, format, destination...) always win.
   */
  public startDefaults: TaskScript = {};

  private readonly seed: number;
  private readonly idRng: Prng;
  private readonly faultRng: Prng;
  private readonly tasks = new Map<string, ScriptedTask>();
  private readonly requestBodies = new WeakMap<RecordedCall, unknown>();
  private readonly rules: ArmedRule[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private taskSeq = 0;
  private requestSeq = 0;
  private stopped = false;

  private constructor(private readonly server: http.Server, endpoint: string, options: NeptuneGraphEmulatorOptions) {
    this.endpoint = endpoint;
    this.clock = options.clock ?? new VirtualClock();
    this.seed = options.seed ?? 1;
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '123456789012';
    // Separate streams, so adding a task never changes which calls a probabilistic fault hits.
    this.idRng = new Prng(this.seed);
    this.faultRng = new Prng(this.seed + 7919);
  }

  public addTask(script: TaskScript = {}): EmulatedTask {
    const resolved = this.resolveScript(script);
    const taskId = script.taskId ?? this.newTaskId();
    if (!TASK_ID.test(taskId)) throw new Error(`taskId ${taskId} does not match ${TASK_ID}`);
    if (this.tasks.has(taskId)) throw new Error(`taskId ${taskId} already exists`);
    const task = new ScriptedTask(
      taskId, this.taskSeq++, resolved, this.clock, this.clock.now(), hashString(taskId, this.seed),
      (t) => this.tasks.delete(t.taskId),
    );
    this.tasks.set(taskId, task);
    return task;
  }

  public task(taskId: string): EmulatedTask | undefined {
    return this.tasks.get(taskId);
  }

  /**
   * The body of a recorded StartExportTask call as the service received it (parsed JSON, camelCase;
   * the raw text if it did not parse), or undefined for other calls.
   */
  public requestOf(call: RecordedCall): unknown {
    return this.requestBodies.get(call);
  }

  public fault(rule: FaultRule): void {
    const { times, probability, between, delayMs } = rule;
    if (times !== undefined && (!Number.isInteger(times) || times < 0)) throw new Error(`fault times must be an integer >= 0, got ${times}`);
    if (probability !== undefined && !(probability >= 0 && probability <= 1)) throw new Error(`fault probability must be within 0..1, got ${probability}`);
    if (between !== undefined && !(between[0] <= between[1])) throw new Error(`fault between must be [from, to] with from <= to, got ${between}`);
    if (delayMs !== undefined && !(delayMs >= 0)) throw new Error(`fault delayMs must be >= 0, got ${delayMs}`);
    this.rules.push({ rule: { ...rule }, remaining: times ?? Infinity });
  }

  public clearFaults(): void {
    this.rules.length = 0;
  }

  public async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // Keep-alive sockets from SDK clients would otherwise hold close() open until they idle out.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private resolveScript(script: TaskScript): ResolvedScript {
    const nonNegative = (name: string, v: number | undefined, dflt: number) => {
      const value = v ?? dflt;
      if (!Number.isFinite(value) || value < 0) throw new Error(`TaskScript.${name} must be a finite number >= 0, got ${v}`);
      return value;
    };
    const graphId = script.graphId ?? 'g-0123456789';
    if (!GRAPH_ID.test(graphId)) throw new Error(`graphId ${graphId} does not match ${GRAPH_ID}`);
    const progressNoise = nonNegative('progressNoise', script.progressNoise, 0);
    if (progressNoise > 1) throw new Error(`TaskScript.progressNoise must be within 0..1, got ${progressNoise}`);
    const initializingSeconds = nonNegative('initializingSeconds', script.initializingSeconds, 30);
    const exportingSeconds = nonNegative('exportingSeconds', script.exportingSeconds, 600);
    if (script.cancelAfterSeconds !== undefined) {
      const cancelAfter = nonNegative('cancelAfterSeconds', script.cancelAfterSeconds, 0);
      if (cancelAfter >= initializingSeconds + exportingSeconds) {
        throw new Error(`TaskScript.cancelAfterSeconds (${cancelAfter}) must fall before the task ends (${initializingSeconds + exportingSeconds} s)`);
      }
    }
    return {
      graphId,
      initializingSeconds,
      exportingSeconds,
      cancelAfterSeconds: script.cancelAfterSeconds,
      cancellingSeconds: nonNegative('cancellingSeconds', script.cancellingSeconds, 60),
      progress: script.progress ?? progressModels.linear,
      progressNoise,
      outcome: script.outcome ?? 'SUCCEEDED',
      statusReason: script.statusReason,
      vertices: Math.floor(nonNegative('vertices', script.vertices, 1000)),
      edges: Math.floor(nonNegative('edges', script.edges, 5000)),
      format: script.format ?? 'PARQUET',
      parquetType: script.parquetType,
      destination: script.destination ?? 's3://emulated-export-bucket/neptune-exports/',
      kmsKeyIdentifier: script.kmsKeyIdentifier ?? `arn:aws:kms:${this.region}:${this.account}:key/00000000-0000-4000-8000-000000000000`,
      roleArn: script.roleArn ?? `arn:aws:iam::${this.account}:role/NeptuneExportRole`,
      exportFilter: script.exportFilter,
    };
  }

  private newTaskId(): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    for (;;) {
      let id = 't-';
      for (let i = 0; i < 10; i++) id += alphabet[Math.floor(this.idRng.next() * alphabet.length)];
      if (!this.tasks.has(id)) return id;
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const arrivedAt = this.clock.now();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const route = routeOf(req.method ?? 'GET', url.pathname);
    const call: RecordedCall = { operation: route.operation, at: arrivedAt, httpStatus: 0 };
    if (route.label !== undefined && route.label !== '') call.taskId = route.label;

    const answer = (status: number, body: Record<string, unknown>, errorType?: string) => {
      call.httpStatus = status;
      if (errorType !== undefined) call.errorType = errorType;
      this.calls.push(call);
      if (res.destroyed || req.socket.destroyed) return;
      const payload = JSON.stringify(body);
      const headers: http.OutgoingHttpHeaders = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        'x-amzn-requestid': this.nextRequestId(),
      };
      if (errorType !== undefined) headers['x-amzn-errortype'] = errorType;
      res.writeHead(status, headers);
      res.end(payload);
    };
    const fail = (err: WireError) => answer(err.status, { message: err.message, ...err.members }, err.type);

    void readBody(req).then((rawBody) => {
      if (route.operation === 'StartExportTask') {
        try {
          this.requestBodies.set(call, JSON.parse(rawBody));
        } catch {
          this.requestBodies.set(call, rawBody);
        }
      }
      // Real endpoints authenticate before routing, so an unsigned request to a bogus path is a
      // 403, not a 404.
      const authProblem = this.checkSignature(req);
      if (authProblem) return fail(authProblem);
      if (route.operation === 'Unknown') {
        return fail(new WireError(404, 'UnknownOperationException', `No operation matches ${req.method} ${url.pathname}`));
      }
      const operation = route.operation;

      const { delayMs, faults, decisive } = this.pickFaults(operation, route.label, arrivedAt);
      if (faults.length > 0) call.faults = faults.map((r) => r.kind);
      const respond = () => {
        if (decisive?.kind === 'drop') {
          this.calls.push(call);
          // No status line at all: the client sees the socket close (ECONNRESET / socket hang up).
          req.socket.destroy();
          return;
        }
        if (decisive) return fail(faultError(decisive, call.taskId));
        try {
          const { status, body, taskId } = this.dispatch(operation, route.label, url.searchParams, rawBody);
          if (taskId !== undefined) call.taskId = taskId;
          if (operation === 'GetExportTask' && typeof body.status === 'string') call.taskStatus = body.status;
          answer(status, body);
        } catch (e) {
          if (e instanceof WireError) return fail(e);
          // An emulator bug should look like a service fault, not hang the caller.
          fail(new WireError(500, 'InternalServerException', `emulator error: ${(e as Error).message}`));
        }
      };
      if (delayMs > 0) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          respond();
        }, delayMs);
        this.timers.add(timer);
      } else {
        respond();
      }
      return undefined;
    }).catch((e: unknown) => {
      if (e instanceof WireError) return fail(e);
      call.errorType = 'ConnectionError';
      this.calls.push(call);
      return undefined;
    });
  }

  private checkSignature(req: http.IncomingMessage): WireError | undefined {
    const authorization = req.headers.authorization;
    if (authorization === undefined) {
      return new WireError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const m = AUTHORIZATION.exec(authorization);
    const amzDate = req.headers['x-amz-date'];
    if (!m || typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
      return new WireError(403, 'IncompleteSignatureException',
        'Authorization header requires Credential, SignedHeaders and Signature parameters and an X-Amz-Date header.');
    }
    const [, , scopeDate, region, service, signedHeaders] = m;
    const signed = signedHeaders.split(';');
    if (!signed.includes('host') || !signed.includes('x-amz-date')) {
      return new WireError(403, 'IncompleteSignatureException', "SignedHeaders must include 'host' and 'x-amz-date'.");
    }
    if (scopeDate !== amzDate.slice(0, 8)) {
      return new WireError(403, 'InvalidSignatureException', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}'.`);
    }
    // The scope checks catch the classic mistakes: signing as 'neptunegraph' or for another region.
    if (service !== SIGNING_NAME) {
      return new WireError(403, 'InvalidSignatureException', `Credential should be scoped to correct service: '${SIGNING_NAME}'.`);
    }
    if (region !== this.region) {
      return new WireError(403, 'InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'.`);
    }
    // The signature itself is not recomputed: the emulator does not know the caller's secret.
    return undefined;
  }

  private pickFaults(operation: EmulatedOperation, taskId: string | undefined, now: number) {
    let delayMs = 0;
    const faults: FaultRule[] = [];
    for (const armed of this.rules) {
      const { rule } = armed;
      if (armed.remaining <= 0) continue;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      if (rule.taskId !== undefined && rule.taskId !== taskId) continue;
      if (rule.between !== undefined && !(now >= rule.between[0] && now < rule.between[1])) continue;
      // Draw only for rules that otherwise match, so unrelated traffic does not shift the sequence.
      if (rule.probability !== undefined && rule.probability < 1 && !(this.faultRng.next() < rule.probability)) continue;
      armed.remaining--;
      faults.push(rule);
      if (rule.kind === 'slow') {
        // Latency composes with whatever answer follows, so keep looking for a deciding rule.
        delayMs += rule.delayMs ?? 1000;
        continue;
      }
      return { delayMs, faults, decisive: rule };
    }
    return { delayMs, faults, decisive: undefined };
  }

  private dispatch(operation: EmulatedOperation, label: string | undefined, query: URLSearchParams, rawBody: string):
  { status: number; body: Record<string, unknown>; taskId?: string } {
    switch (operation) {
      case 'StartExportTask': {
        const task = this.startExportTask(rawBody);
        return { status: 201, body: task.startOutput(), taskId: task.taskId };
      }
      case 'GetExportTask':
        return { status: 200, body: this.lookup(label).describe() };
      case 'CancelExportTask': {
        const task = this.lookup(label);
        const status = task.status();
        if (TERMINAL.has(status)) {
          throw new WireError(409, 'ConflictException', `Export task ${task.taskId} is in terminal state ${status} and cannot be cancelled.`);
        }
        task.cancel(task.cancellingSecondsOnRequest);
        return { status: 200, body: task.summaryAt(this.clock.now()) };
      }
      case 'ListExportTasks':
        return { status: 200, body: this.listExportTasks(query) };
    }
  }

  private lookup(label: string | undefined): ScriptedTask {
    if (label === undefined || !TASK_ID.test(label)) {
      throw validationError([`Value '${label ?? ''}' at 'taskIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern: t-[a-z0-9]{10}`]);
    }
    const task = this.tasks.get(label);
    if (!task) throw new WireError(404, 'ResourceNotFoundException', `Export task ${label} not found`);
    return task;
  }

  private startExportTask(rawBody: string): ScriptedTask {
    let input: unknown;
    try {
      input = rawBody === '' ? {} : JSON.parse(rawBody);
    } catch {
      throw new WireError(400, 'SerializationException', 'Request body is not valid JSON');
    }
    if (!isPlainObject(input)) throw new WireError(400, 'SerializationException', 'Request body must be a JSON object');
    const problems = validateStartInput(input);
    if (problems.length > 0) throw validationError(problems);
    const script: TaskScript = {
      ...this.startDefaults,
      taskId: undefined,
      graphId: input.graphIdentifier as string,
      roleArn: input.roleArn as string,
      format: input.format as 'PARQUET' | 'CSV',
      destination: input.destination as string,
      kmsKeyIdentifier: input.kmsKeyIdentifier as string,
      parquetType: input.parquetType as 'COLUMNAR' | undefined,
      exportFilter: input.exportFilter,
    };
    return this.addTask(script) as ScriptedTask;
  }

  private listExportTasks(query: URLSearchParams): Record<string, unknown> {
    const problems: string[] = [];
    const graphId = query.get('graphIdentifier') ?? undefined;
    if (graphId !== undefined && !GRAPH_ID.test(graphId)) {
      problems.push(`Value '${graphId}' at 'graphIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern: g-[a-z0-9]{10}`);
    }
    const rawMax = query.get('maxResults');
    let max = MAX_PAGE;
    if (rawMax !== null) {
      max = /^\d+$/.test(rawMax) ? Number(rawMax) : NaN;
      if (!(max >= 1 && max <= MAX_PAGE)) {
        problems.push(`Value '${rawMax}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and ${MAX_PAGE}`);
      }
    }
    let after = -1;
    const token = query.get('nextToken');
    if (token !== null) {
      const decoded = decodeToken(token);
      // A token is only valid for the listing that produced it, as with most AWS paginators.
      if (!decoded || decoded.g !== (graphId ?? null)) {
        throw validationError(['Invalid pagination token'], 'BAD_REQUEST');
      }
      after = decoded.a;
    }
    if (problems.length > 0) throw validationError(problems);
    const matching = [...this.tasks.values()]
      .filter((t) => t.seq > after && (graphId === undefined || t.graphId === graphId))
      .sort((a, b) => a.seq - b.seq);
    const page = matching.slice(0, max);
    const body: Record<string, unknown> = { tasks: page.map((t) => t.summaryAt(this.clock.now())) };
    if (matching.length > page.length) body.nextToken = encodeToken({ a: page[page.length - 1].seq, g: graphId ?? null });
    return body;
  }

  private nextRequestId(): string {
    const n = (this.requestSeq++).toString(16).padStart(12, '0');
    return `00000000-0000-4000-8000-${n}`;
  }
}

function routeOf(method: string, pathname: string): Route {
  if (pathname === '/exporttasks' || pathname === '/exporttasks/') {
    if (method === 'POST') return { operation: 'StartExportTask' };
    if (method === 'GET' && pathname === '/exporttasks') return { operation: 'ListExportTasks' };
  }
  const m = /^\/exporttasks\/([^/]*)$/.exec(pathname);
  if (m && (method === 'GET' || method === 'DELETE')) {
    let label: string;
    try {
      label = decodeURIComponent(m[1]);
    } catch {
      label = m[1];
    }
    // An empty label is what the client sends for taskIdentifier: '' (it does not check), and
    // the service answers that with a validation error, not a listing.
    return { operation: method === 'GET' ? 'GetExportTask' : 'CancelExportTask', label };
  }
  return { operation: 'Unknown' };
}

function faultError(rule: FaultRule, taskId: string | undefined): WireError {
  const subject = taskId ? ` (${taskId})` : '';
  switch (rule.kind) {
    case 'throttle':
      return new WireError(429, 'ThrottlingException', rule.message ?? `Rate exceeded${subject}`);
    case 'internal':
      return new WireError(500, 'InternalServerException', rule.message ?? `Internal server error${subject}`);
    case 'notFound':
      return new WireError(404, 'ResourceNotFoundException', rule.message ?? `Resource not found${subject}`);
    case 'validation':
      return new WireError(400, 'ValidationException', rule.message ?? `Injected validation failure${subject}`, { reason: 'BAD_REQUEST' });
    case 'accessDenied':
      return new WireError(403, 'AccessDeniedException', rule.message ?? `User is not authorized to perform this action${subject}`);
    case 'conflict':
      return new WireError(409, 'ConflictException', rule.message ?? `Conflicting operation in progress${subject}`, { reason: 'CONCURRENT_MODIFICATION' });
    case 'slow':
    case 'drop':
      throw new Error(`fault kind ${rule.kind} has no error answer`);
  }
}

function validateStartInput(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const str = (name: string, pattern?: RegExp, patternText?: string, maxLength = 1024) => {
    const v = input[name];
    if (v === undefined || v === null) {
      problems.push(`Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    } else if (typeof v !== 'string') {
      problems.push(`Value at '${name}' failed to satisfy constraint: Member must be a string`);
    } else if (v.length < 1 || v.length > maxLength) {
      problems.push(`Value '${v}' at '${name}' failed to satisfy constraint: Member must have length between 1 and ${maxLength}`);
    } else if (pattern && !pattern.test(v)) {
      problems.push(`Value '${v}' at '${name}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${patternText}`);
    }
  };
  const oneOf = (name: string, allowed: string[], required: boolean) => {
    const v = input[name];
    if (v === undefined || v === null) {
      if (required) problems.push(`Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    } else if (typeof v !== 'string' || !allowed.includes(v)) {
      problems.push(`Value '${String(v)}' at '${name}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`);
    }
  };
  str('graphIdentifier', GRAPH_ID, 'g-[a-z0-9]{10}');
  str('roleArn', ROLE_ARN, 'arn:aws[^:]*:iam::\\d{12}:(role|role/service-role)(/[\\w+=,.@-]+)+');
  oneOf('format', ['PARQUET', 'CSV'], true);
  str('destination');
  str('kmsKeyIdentifier', KMS_ARN, 'arn:aws[^:]*:kms:[a-zA-Z0-9-]*:[0-9]{12}:key/[a-zA-Z0-9-]{36}');
  oneOf('parquetType', ['COLUMNAR'], false);

  const tags = input.tags;
  if (tags !== undefined && tags !== null) {
    if (!isPlainObject(tags)) {
      problems.push("Value at 'tags' failed to satisfy constraint: Member must be a map");
    } else {
      const entries = Object.entries(tags);
      if (entries.length > 50) problems.push(`Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50 (got ${entries.length})`);
      for (const [k, v] of entries) {
        if (k.length < 1 || k.length > 128) problems.push(`Value '${k}' at 'tags' failed to satisfy constraint: Map keys must have length between 1 and 128`);
        if (typeof v !== 'string' || v.length > 256) problems.push(`Value at 'tags.${k}' failed to satisfy constraint: Member must be a string of length at most 256`);
      }
    }
  }

  const filter = input.exportFilter;
  if (filter !== undefined && filter !== null) validateExportFilter(filter, problems);
  return problems;
}

function validateExportFilter(filter: unknown, problems: string[]): void {
  if (!isPlainObject(filter)) {
    problems.push("Value at 'exportFilter' failed to satisfy constraint: Member must be a structure");
    return;
  }
  for (const which of ['vertexFilter', 'edgeFilter']) {
    const perLabel = filter[which];
    if (perLabel === undefined || perLabel === null) continue;
    const at = `exportFilter.${which}`;
    if (!isPlainObject(perLabel)) {
      problems.push(`Value at '${at}' failed to satisfy constraint: Member must be a map`);
      continue;
    }
    for (const [label, element] of Object.entries(perLabel)) {
      if (label.length < 1 || label.length > 128) problems.push(`Value '${label}' at '${at}' failed to satisfy constraint: Map keys must have length between 1 and 128`);
      if (!isPlainObject(element)) {
        problems.push(`Value at '${at}.${label}' failed to satisfy constraint: Member must be a structure`);
        continue;
      }
      const props = element.properties;
      if (props === undefined || props === null) continue;
      if (!isPlainObject(props)) {
        problems.push(`Value at '${at}.${label}.properties' failed to satisfy constraint: Member must be a map`);
        continue;
      }
      for (const [name, attrs] of Object.entries(props)) {
        const pAt = `${at}.${label}.properties.${name}`;
        if (!OUTPUT_NAME.test(name)) problems.push(`Value '${name}' at '${at}.${label}.properties' failed to satisfy constraint: Map keys must satisfy regular expression pattern: [a-zA-Z0-9_]{1,128}`);
        if (!isPlainObject(attrs)) {
          problems.push(`Value at '${pAt}' failed to satisfy constraint: Member must be a structure`);
          continue;
        }
        const { outputType, sourcePropertyName, multiValueHandling } = attrs;
        if (outputType !== undefined && (typeof outputType !== 'string' || !OUTPUT_TYPE.test(outputType))) {
          problems.push(`Value '${String(outputType)}' at '${pAt}.outputType' failed to satisfy constraint: Member must satisfy regular expression pattern: ${OUTPUT_TYPE.source.slice(1, -1)}`);
        }
        if (sourcePropertyName !== undefined && typeof sourcePropertyName !== 'string') {
          problems.push(`Value at '${pAt}.sourcePropertyName' failed to satisfy constraint: Member must be a string`);
        }
        if (multiValueHandling !== undefined && multiValueHandling !== 'TO_LIST' && multiValueHandling !== 'PICK_FIRST') {
          problems.push(`Value '${String(multiValueHandling)}' at '${pAt}.multiValueHandling' failed to satisfy constraint: Member must satisfy enum value set: [TO_LIST, PICK_FIRST]`);
        }
      }
    }
  }
}

function encodeToken(token: { a: number; g: string | null }): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(raw: string): { a: number; g: string | null } | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (isPlainObject(parsed) && Number.isInteger(parsed.a) && (parsed.g === null || typeof parsed.g === 'string')) {
      return { a: parsed.a as number, g: parsed.g };
    }
  } catch {
    // fall through: any undecodable token is simply invalid
  }
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new WireError(413, 'RequestEntityTooLargeException', 'Request body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
