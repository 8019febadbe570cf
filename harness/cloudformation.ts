/**
 * The CloudFormation side of the local test harness.
 *
 * CloudFormation drives a custom resource by invoking its Lambda with an event and then
 * waiting for one HTTP PUT to the presigned S3 `ResponseURL` in that event. This module
 * plays both halves: `event()` builds events shaped exactly like CloudFormation's, and a
 * local HTTP server stands in for the presigned S3 URL. The server records every request
 * it receives and checks it against the response contract (see
 * /work/shared/reference/platform-facts.md, "CloudFormation custom resources").
 *
 * Violations are *recorded*, never thrown: fault-injection tests and the reliability report
 * need to know precisely what a handler got wrong, and a throw inside the server would
 * only surface as a hung request.
 *
 * It also stands in for the presigned URL of an AWS::CloudFormation::WaitConditionHandle:
 * `waitConditionHandle()` issues one, the server records the signals PUT to it and checks them
 * against the signal contract, and `waitConditionData()` renders what `Fn::GetAtt <Condition>.Data`
 * would return.
 *
 * Only node:http and node:crypto are used so the harness has no dependency of its own.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';

export type RequestType = 'Create' | 'Update' | 'Delete';

/** Exactly the fields CloudFormation sends to a custom-resource provider. */
export interface CustomResourceEvent {
  RequestType: RequestType;
  ServiceToken: string;
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  ResourceType: string;
  PhysicalResourceId?: string;
  ResourceProperties: Record<string, unknown>;
  OldResourceProperties?: Record<string, unknown>;
}

export interface EventOptions {
  /** Default 'Custom::Test'. */
  resourceType?: string;
  /** Default 'Waiter'. */
  logicalResourceId?: string;
  /** Required by Update and Delete; CloudFormation never sends one with Create. */
  physicalResourceId?: string;
  /** Update only: the properties before the update (ServiceToken is added as CloudFormation does). */
  oldProperties?: Record<string, unknown>;
  /** Default 'arn:aws:lambda:us-east-1:123456789012:function:waiter'. */
  serviceToken?: string;
  /** Default: a random UUID. Must be unique per receiver. */
  requestId?: string;
}

/** One accepted (2xx) answer. */
export interface RecordedAnswer {
  /** From the URL the answer was PUT to. */
  requestId: string;
  /** Date.now() when the request was fully received. */
  receivedAt: number;
  /** Parsed JSON, or the raw string if it did not parse. */
  body: unknown;
  rawBytes: number;
  /** Contract violations found in this answer (empty if fine). Not prefixed. */
  violations: string[];
}

/**
 * Every request the receiver saw, accepted or not (an addition to the brief's API: a
 * reliability report needs the refused and faulted attempts too, not only the accepted ones).
 */
export interface RecordedAttempt extends RecordedAnswer {
  method: string;
  /** Path of the request, without the query (the query carries the signature: never recorded). */
  path: string;
  /** HTTP status answered, or 'reset' when the socket was destroyed by a fault. */
  status: number | 'reset';
  /** True when the answer counts as delivered to CloudFormation (2xx). */
  accepted: boolean;
  /** The fault that was applied to this attempt, if any. */
  fault?: ReceiverFault['kind'];
}

export interface ReceiverFault {
  /** 'status5xx' answers 503 (S3 SlowDown / ServiceUnavailable); 'reset' destroys the socket. */
  kind: 'status5xx' | 'reset';
  /** How many requests this fault applies to. Default: unlimited until clearFaults(). */
  times?: number;
  /** Only answers for this request id (never signals). Default: any request. */
  requestId?: string;
  /** Only signals to this WaitConditionHandle (never answers). Default: any request. */
  handleLogicalId?: string;
}

/** One accepted (2xx) WaitCondition signal. */
export interface RecordedSignal {
  /** The logical id of the WaitConditionHandle the signal was PUT to. */
  handleLogicalId: string;
  /** Date.now() when the signal was fully received. */
  receivedAt: number;
  /** Parsed JSON, or the raw string if it did not parse. */
  body: unknown;
  rawBytes: number;
  /** Contract violations found in this signal (empty if fine). Not prefixed. */
  violations: string[];
}

/** Every request sent to a WaitConditionHandle URL, accepted or not. */
export interface RecordedSignalAttempt extends RecordedSignal {
  method: string;
  /** Path of the request, without the query (it carries the signature). */
  path: string;
  status: number | 'reset';
  accepted: boolean;
  fault?: ReceiverFault['kind'];
}

/** The body of a WaitCondition signal, as `cfn-signal` and the documentation define it. */
export interface SignalBody {
  Status: 'SUCCESS' | 'FAILURE';
  UniqueId: string;
  Data: string;
  Reason: string;
}

/** CloudFormation's limit on the whole response body. */
const MAX_BODY_BYTES = 4096;
/** CloudFormation's limit on PhysicalResourceId ("1 KB"). */
const MAX_PHYSICAL_ID_BYTES = 1024;
/** We keep at most this much of a body in memory (hostile tests may send far more); the byte count stays exact. */
const MAX_STORED_BYTES = 1024 * 1024;
const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;
/** Paths (never secret: the signature is in the query) are shown in full up to this length, so the wrong byte is visible. */
const PATH_SHOWN = 512;

/** Path-style bucket of the real us-east-1 response bucket, so the URL looks like the real thing. */
const BUCKET_PATH = '/cloudformation-custom-resource-response-useast1/';
const DEFAULT_SERVICE_TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:waiter';
/** Marker for violations on requests whose URL names no request id we could extract. */
const UNKNOWN_REQUEST = 'unknown-request';
/** Path-style bucket of the real us-east-1 WaitConditionHandle bucket. */
const WAIT_CONDITION_BUCKET_PATH = '/cloudformation-waitcondition-us-east-1/';
/** Marker for signals to a handle URL that was never issued. */
const UNKNOWN_HANDLE = 'unknown-handle';
/**
 * The signal body is stored like an answer; CloudFormation documents no size limit for it. The
 * handler keeps signals within the custom-resource limit, and so does this check (unverified).
 */
const MAX_SIGNAL_BYTES = 4096;

/** What the receiver remembers about one issued event. */
interface IssuedRequest {
  readonly requestId: string;
  readonly stackId: string;
  readonly logicalResourceId: string;
  /** Raw path as issued (percent-encoded), e.g. /bucket/arn%3A...%7CWaiter%7C<id>. */
  readonly path: string;
  /** Raw query as issued, without the leading '?'. */
  readonly query: string;
  readonly signature: string;
}

/** The request a URL points at; `urlProblem` set means S3 would refuse the URL (403). */
interface Target {
  requestId: string;
  /** The issued request the URL designates, even when it is not byte-for-byte right. */
  issued?: IssuedRequest;
  urlProblem?: string;
}

interface Waiter<T = RecordedAnswer> {
  timer: NodeJS.Timeout;
  resolve(answer: T): void;
  reject(err: Error): void;
}

/** What the receiver remembers about one issued WaitConditionHandle. */
interface IssuedHandle {
  readonly logicalId: string;
  readonly url: string;
  readonly path: string;
  readonly query: string;
  readonly signature: string;
}

/** The handle a signal URL points at; `urlProblem` set means S3 would refuse the URL (403). */
interface HandleTarget {
  logicalId: string;
  urlProblem?: string;
}

/**
 * A local stand-in for CloudFormation: issues custom-resource events and receives their answers.
 */
export class CloudFormationReceiver {
  /**
   * Starts the receiver on 127.0.0.1 with an ephemeral port. `stackName` names the stack in its
   * StackId (default `harness-stack`): a test that compares what the handler derives from the
   * StackId with what a CDK stack renders gives the CDK stack's name.
   */
  public static async start(options: { stackName?: string } = {}): Promise<CloudFormationReceiver> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new CloudFormationReceiver(server, options.stackName ?? 'harness-stack');
  }

  /** Every violation seen, each prefixed with its request id ("<id>: <message>"). */
  public readonly violations: string[] = [];
  /** Every ResponseURL issued and its X-Amz-Signature value, for leak checks (logs, outputs, state). */
  public readonly secrets: string[] = [];
  /** One stack for the whole receiver, as all events of a test belong to the same stack. */
  public readonly stackId: string;

  private readonly server: http.Server;
  private readonly port: number;
  private readonly issuedByPath = new Map<string, IssuedRequest>();
  private readonly issuedById = new Map<string, IssuedRequest>();
  private readonly recordedAttempts: RecordedAttempt[] = [];
  private readonly accepted: RecordedAnswer[] = [];
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly handlesByPath = new Map<string, IssuedHandle>();
  private readonly handlesById = new Map<string, IssuedHandle>();
  private readonly recordedSignalAttempts: RecordedSignalAttempt[] = [];
  private readonly acceptedSignals: RecordedSignal[] = [];
  private readonly signalWaiters = new Map<string, Array<Waiter<RecordedSignal>>>();
  private faults: ReceiverFault[] = [];
  private stopped = false;

  private constructor(server: http.Server, stackName: string) {
    this.stackId = `arn:aws:cloudformation:us-east-1:123456789012:stack/${stackName}/${randomUUID()}`;
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res));
    // Requests Node cannot even parse (e.g. two different Content-Lengths) never reach
    // 'request'. Record them, but not disconnects (ECONNRESET, or HPE_INVALID_EOF_STATE for a
    // body cut short, which onRequest already records against its request id).
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code?.startsWith('HPE_') && err.code !== 'HPE_INVALID_EOF_STATE') {
        this.violations.push(`${UNKNOWN_REQUEST}: malformed HTTP request (${err.code})`);
      }
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /**
   * Builds a custom-resource event with a fresh presigned-looking ResponseURL and remembers
   * the request so its answer can be checked. Property values are passed through as given
   * (no coercion to strings) so hostile-input tests can send odd shapes on purpose.
   */
  public event(type: RequestType, properties: Record<string, unknown>, options: EventOptions = {}): CustomResourceEvent {
    if (this.stopped) throw new Error('CloudFormationReceiver is stopped');
    if ((type === 'Update' || type === 'Delete') && options.physicalResourceId === undefined) {
      throw new Error(`${type} events need options.physicalResourceId (CloudFormation always sends one)`);
    }
    if (type === 'Create' && options.physicalResourceId !== undefined) {
      throw new Error('Create events have no PhysicalResourceId (CloudFormation never sends one)');
    }
    if (type !== 'Update' && options.oldProperties !== undefined) {
      throw new Error(`options.oldProperties only applies to Update events, not ${type}`);
    }
    const requestId = options.requestId ?? randomUUID();
    if (this.issuedById.has(requestId)) {
      throw new Error(`request id ${requestId} was already issued (CloudFormation request ids are unique)`);
    }
    const logicalResourceId = options.logicalResourceId ?? 'Waiter';
    const serviceToken = options.serviceToken ?? DEFAULT_SERVICE_TOKEN;

    const { path, query, signature } = this.presign(logicalResourceId, requestId);
    const responseUrl = `http://127.0.0.1:${this.port}${path}?${query}`;
    const issued: IssuedRequest = { requestId, stackId: this.stackId, logicalResourceId, path, query, signature };
    this.issuedByPath.set(path, issued);
    this.issuedById.set(requestId, issued);
    this.secrets.push(responseUrl, signature);

    const event: CustomResourceEvent = {
      RequestType: type,
      ServiceToken: serviceToken,
      ResponseURL: responseUrl,
      StackId: this.stackId,
      RequestId: requestId,
      LogicalResourceId: logicalResourceId,
      ResourceType: options.resourceType ?? 'Custom::Test',
      // CloudFormation includes the ServiceToken among the resource properties.
      ResourceProperties: { ServiceToken: serviceToken, ...properties },
    };
    if (type !== 'Create') event.PhysicalResourceId = options.physicalResourceId;
    if (type === 'Update') event.OldResourceProperties = { ServiceToken: serviceToken, ...(options.oldProperties ?? {}) };
    return event;
  }

  /** Accepted (2xx) answers, in arrival order; optionally only those for one request. */
  public answers(requestId?: string): RecordedAnswer[] {
    return this.accepted.filter((a) => requestId === undefined || a.requestId === requestId);
  }

  /** Every request received (accepted, refused or faulted), in arrival order. */
  public attempts(requestId?: string): RecordedAttempt[] {
    return this.recordedAttempts.filter((a) => requestId === undefined || a.requestId === requestId);
  }

  /** Request ids issued but not (yet) answered with an accepted answer: each would hang a deployment for up to an hour. */
  public unanswered(): string[] {
    return [...this.issuedById.keys()].filter((id) => !this.accepted.some((a) => a.requestId === id));
  }

  /** Resolves with the first accepted answer for the request; rejects after timeoutMs or on stop(). */
  public answerFor(requestId: string, timeoutMs = DEFAULT_ANSWER_TIMEOUT_MS): Promise<RecordedAnswer> {
    const existing = this.accepted.find((a) => a.requestId === requestId);
    if (existing) return Promise.resolve(existing);
    if (!this.issuedById.has(requestId)) {
      return Promise.reject(new Error(`request id ${requestId} was never issued by this receiver`));
    }
    if (this.stopped) return Promise.reject(new Error('CloudFormationReceiver is stopped'));
    return new Promise<RecordedAnswer>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.removeWaiter(requestId, waiter);
          reject(new Error(`no accepted answer for request ${requestId} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      const list = this.waiters.get(requestId) ?? [];
      list.push(waiter);
      this.waiters.set(requestId, list);
    });
  }

  // -------------------------------------------------------------------------------------------
  // WaitCondition handles and signals

  /**
   * The presigned-looking URL of a WaitConditionHandle, what `Ref` of the handle returns. The same
   * handle always gets the same URL (CloudFormation creates it once). The URL and its signature
   * are added to `secrets`: like a ResponseURL, whoever holds it can signal.
   */
  public waitConditionHandle(logicalId: string): string {
    const existing = this.handlesById.get(logicalId);
    if (existing) return existing.url;
    if (this.stopped) throw new Error('CloudFormationReceiver is stopped');
    // The real URL names the stack ARN (':' encoded, '/' kept) and the handle's logical id.
    const stackPart = encodeURIComponent(this.stackId).replace(/%2F/g, '/');
    const path = `${WAIT_CONDITION_BUCKET_PATH}${stackPart}/${encodeURIComponent(logicalId)}`;
    const { query, signature } = this.presignQuery('86399');
    const url = `http://127.0.0.1:${this.port}${path}?${query}`;
    const handle: IssuedHandle = { logicalId, url, path, query, signature };
    this.handlesByPath.set(path, handle);
    this.handlesById.set(logicalId, handle);
    this.secrets.push(url, signature);
    return url;
  }

  /** Accepted (2xx) signals, in arrival order; optionally only those to one handle. */
  public signals(handleLogicalId?: string): RecordedSignal[] {
    return this.acceptedSignals.filter((s) => handleLogicalId === undefined || s.handleLogicalId === handleLogicalId);
  }

  /** Every request sent to a handle URL (accepted, refused or faulted), in arrival order. */
  public signalAttempts(handleLogicalId?: string): RecordedSignalAttempt[] {
    return this.recordedSignalAttempts.filter((s) => handleLogicalId === undefined || s.handleLogicalId === handleLogicalId);
  }

  /** Resolves with the first accepted signal to the handle; rejects after timeoutMs or on stop(). */
  public signalFor(handleLogicalId: string, timeoutMs = DEFAULT_ANSWER_TIMEOUT_MS): Promise<RecordedSignal> {
    const existing = this.acceptedSignals.find((s) => s.handleLogicalId === handleLogicalId);
    if (existing) return Promise.resolve(existing);
    if (!this.handlesById.has(handleLogicalId)) {
      return Promise.reject(new Error(`WaitConditionHandle ${handleLogicalId} was never issued by this receiver`));
    }
    if (this.stopped) return Promise.reject(new Error('CloudFormationReceiver is stopped'));
    return new Promise<RecordedSignal>((resolve, reject) => {
      const waiter: Waiter<RecordedSignal> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const list = (this.signalWaiters.get(handleLogicalId) ?? []).filter((w) => w !== waiter);
          if (list.length > 0) this.signalWaiters.set(handleLogicalId, list);
          else this.signalWaiters.delete(handleLogicalId);
          reject(new Error(`no accepted signal to WaitConditionHandle ${handleLogicalId} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      const list = this.signalWaiters.get(handleLogicalId) ?? [];
      list.push(waiter);
      this.signalWaiters.set(handleLogicalId, list);
    });
  }

  /**
   * What `Fn::GetAtt <WaitCondition>.Data` returns once the condition received its signals: the
   * JSON text of an object mapping each signal's UniqueId to its Data (a later signal with the same
   * UniqueId replaces the earlier one). Signals whose body is not an object with a string UniqueId
   * are left out. Throws when the handle got no signal: the attribute does not exist yet.
   */
  public waitConditionData(handleLogicalId: string): string {
    const signals = this.signals(handleLogicalId);
    if (signals.length === 0) throw new Error(`WaitConditionHandle ${handleLogicalId} has received no signal`);
    const data: Record<string, string> = {};
    for (const { body } of signals) {
      if (!isRecord(body) || typeof body.UniqueId !== 'string') continue;
      data[body.UniqueId] = typeof body.Data === 'string' ? body.Data : '';
    }
    return JSON.stringify(data);
  }

  /** Injects a fault. Faults are consulted in the order added; the first matching one applies. */
  public fault(f: ReceiverFault): void {
    if (f.times !== undefined && (!Number.isInteger(f.times) || f.times < 1)) {
      throw new Error(`fault times must be a positive integer, got ${f.times}`);
    }
    if (f.requestId !== undefined && f.handleLogicalId !== undefined) {
      throw new Error('a fault applies to answers (requestId) or to signals (handleLogicalId), not both');
    }
    this.faults.push({ ...f });
  }

  public clearFaults(): void {
    this.faults = [];
  }

  /** Closes the server, drops open connections and rejects pending answerFor() calls. */
  public async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const [requestId, list] of this.waiters) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(new Error(`receiver stopped before request ${requestId} was answered`));
      }
    }
    this.waiters.clear();
    for (const [logicalId, list] of this.signalWaiters) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(new Error(`receiver stopped before WaitConditionHandle ${logicalId} was signalled`));
      }
    }
    this.signalWaiters.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // close() alone waits for keep-alive sockets to time out; tests must not wait for that.
    this.server.closeAllConnections();
    await closed;
  }

  /**
   * Builds the path and query of a presigned-looking S3 URL. The signature is random: it only
   * has to be unguessable and unique so that a handler sending anything but the exact URL is caught.
   */
  private presign(logicalResourceId: string, requestId: string): { path: string; query: string; signature: string } {
    // encodeURIComponent turns ':' '/' '|' into %3A %2F %7C, which the client must send back unchanged.
    const key = `${this.stackId}|${logicalResourceId}|${requestId}`;
    const path = BUCKET_PATH + encodeURIComponent(key);
    const { query, signature } = this.presignQuery('7199');
    return { path, query, signature };
  }

  /** The query of a presigned-looking S3 URL, with a fresh random signature. */
  private presignQuery(expires: string): { query: string; signature: string } {
    const now = new Date();
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, ''); // 20240101T120000Z
    const accessKeyId = 'AKIA' + randomBytes(10).toString('hex').toUpperCase().slice(0, 16);
    const credential = encodeURIComponent(`${accessKeyId}/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`);
    let signature: string;
    do {
      signature = randomBytes(32).toString('hex');
    } while (
      [...this.issuedById.values()].some((i) => i.signature === signature)
      || [...this.handlesById.values()].some((h) => h.signature === signature)
    );
    const query = [
      'X-Amz-Algorithm=AWS4-HMAC-SHA256',
      `X-Amz-Date=${amzDate}`,
      'X-Amz-SignedHeaders=host',
      `X-Amz-Expires=${expires}`,
      `X-Amz-Credential=${credential}`,
      `X-Amz-Signature=${signature}`,
    ].join('&');
    return { query, signature };
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let stored = 0;
    let rawBytes = 0;
    req.on('data', (chunk: Buffer) => {
      rawBytes += chunk.length;
      if (stored < MAX_STORED_BYTES) {
        chunks.push(chunk);
        stored += chunk.length;
      }
    });
    req.on('end', () => this.onComplete(req, res, Buffer.concat(chunks), rawBytes, stored === rawBytes));
    // A client that dies mid-body never reaches 'end'; nothing was delivered, so nothing is
    // recorded as an answer, but the broken attempt is a fact worth keeping.
    req.on('close', () => {
      if (!req.complete) {
        const handle = this.resolveHandle(req.url ?? '');
        const { requestId } = handle ? { requestId: `signal ${handle.logicalId}` } : this.resolveTarget(req.url ?? '');
        this.violations.push(`${requestId}: connection closed before the body was complete (${rawBytes} bytes received)`);
      }
    });
  }

  private onComplete(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, rawBytes: number, wholeBody: boolean): void {
    const receivedAt = Date.now();
    const method = req.method ?? '';
    const rawUrl = req.url ?? '';
    const handle = this.resolveHandle(rawUrl);
    if (handle) return this.onSignal(req, res, handle, { receivedAt, body, rawBytes, wholeBody });
    const target = this.resolveTarget(rawUrl);
    const check = checkPresignedPut(req, target.urlProblem, 'answers');
    const { violations, refuse } = check;

    if (rawBytes > MAX_BODY_BYTES) {
      violations.push(`body is ${rawBytes} bytes (limit ${MAX_BODY_BYTES})`);
      refuse(400);
    }

    // Unparsable bodies are kept as the raw string (truncated past MAX_STORED_BYTES, which
    // is already far over the limit and reported as such).
    const text = body.toString('utf8');
    let parsed: unknown = text;
    if (wholeBody) {
      let isJson = false;
      try {
        parsed = JSON.parse(text);
        isJson = true;
      } catch {
        violations.push('body is not valid JSON');
      }
      if (isJson) violations.push(...checkAnswerBody(parsed, target.issued));
    }

    // Faults stand for S3 or the network failing, so they override whatever S3 would have said,
    // but the body's own violations are still the handler's and stay recorded.
    const fault = this.takeFault((f) => f.handleLogicalId === undefined && (f.requestId === undefined || f.requestId === target.requestId));
    let finalStatus: number | 'reset' = check.status;
    if (fault?.kind === 'status5xx') finalStatus = 503;
    if (fault?.kind === 'reset') finalStatus = 'reset';
    // Only the exact issued URL can be delivered; any urlProblem already turned status into 403.
    const accepted = typeof finalStatus === 'number' && finalStatus >= 200 && finalStatus < 300 && !target.urlProblem;

    if (accepted) {
      const previous = this.accepted.filter((a) => a.requestId === target.requestId).length;
      if (previous > 0) violations.push(`answered more than once (accepted answer #${previous + 1})`);
    }

    const attempt: RecordedAttempt = {
      requestId: target.requestId,
      receivedAt,
      body: parsed,
      rawBytes,
      violations,
      method,
      path: rawUrl.split('?')[0],
      status: finalStatus,
      accepted,
      ...(fault ? { fault: fault.kind } : {}),
    };
    this.recordedAttempts.push(attempt);
    this.violations.push(...violations.map((v) => `${target.requestId}: ${v}`));
    if (accepted) {
      const answer: RecordedAnswer = { requestId: target.requestId, receivedAt, body: parsed, rawBytes, violations };
      this.accepted.push(answer);
      this.settleWaiters(target.requestId, answer);
    }

    if (finalStatus === 'reset') {
      req.socket.destroy();
      return;
    }
    respond(res, finalStatus);
  }

  /**
   * Maps a raw request URL to the issued request it targets. The comparison is on the raw
   * bytes: S3 verifies the signature over the exact path and query, so a client that
   * re-encodes or decodes any of it (%3A -> ':' for instance) is refused, and so are we.
   */
  private resolveTarget(rawUrl: string): Target {
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? undefined : rawUrl.slice(q + 1);

    const issued = this.issuedByPath.get(path);
    if (!issued) {
      const decoded = safeDecode(path);
      const reencoded = [...this.issuedByPath.values()].find((i) => safeDecode(i.path) === decoded);
      if (reencoded) {
        // Recognisably the right request, but S3 would reject it: report against that request.
        return {
          requestId: reencoded.requestId,
          issued: reencoded,
          urlProblem: `path ${show(path, PATH_SHOWN)} is not byte-for-byte the issued ResponseURL path (it was re-encoded)`,
        };
      }
      return { requestId: requestIdFromPath(path), urlProblem: `unknown ResponseURL path ${show(path, PATH_SHOWN)}` };
    }
    if (query === issued.query) return { requestId: issued.requestId, issued };

    // Never put the query itself in a message: it holds the signature, and violations end up in reports.
    const signatures = (query ?? '').split('&').filter((p) => p.startsWith('X-Amz-Signature=')).map((p) => p.slice('X-Amz-Signature='.length));
    let urlProblem: string;
    if (signatures.length === 0) urlProblem = 'X-Amz-Signature missing from the query string';
    else if (signatures.length > 1 || signatures[0] !== issued.signature) urlProblem = 'X-Amz-Signature does not match the issued ResponseURL';
    else urlProblem = 'query string differs from the issued ResponseURL (it must be sent byte-for-byte)';
    // The request is known, so the violation (and the body's own) is attributed to it; the
    // urlProblem makes the caller refuse it with 403 as S3 would.
    return { requestId: issued.requestId, issued, urlProblem };
  }

  /**
   * Records a signal PUT to a WaitConditionHandle URL and checks it: the same transport rules as an
   * answer (PUT, the exact URL, Content-Length, no Content-Type), and the signal body's contract:
   * a JSON object with Status SUCCESS or FAILURE, a non-empty UniqueId, and Data and Reason as
   * strings; accepted signals with the same UniqueId all say the same.
   */
  private onSignal(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: HandleTarget,
    received: { receivedAt: number; body: Buffer; rawBytes: number; wholeBody: boolean },
  ): void {
    const { receivedAt, body, rawBytes, wholeBody } = received;
    const method = req.method ?? '';
    const check = checkPresignedPut(req, target.urlProblem, 'signals');
    const { violations } = check;
    if (rawBytes > MAX_SIGNAL_BYTES) violations.push(`body is ${rawBytes} bytes (limit ${MAX_SIGNAL_BYTES})`);

    const text = body.toString('utf8');
    let parsed: unknown = text;
    if (wholeBody) {
      try {
        parsed = JSON.parse(text);
        violations.push(...checkSignalBody(parsed));
      } catch {
        violations.push('body is not valid JSON');
      }
    }

    const fault = this.takeFault((f) => f.requestId === undefined && (f.handleLogicalId === undefined || f.handleLogicalId === target.logicalId));
    let finalStatus: number | 'reset' = check.status;
    if (fault?.kind === 'status5xx') finalStatus = 503;
    if (fault?.kind === 'reset') finalStatus = 'reset';
    const accepted = typeof finalStatus === 'number' && finalStatus >= 200 && finalStatus < 300 && !target.urlProblem;

    if (accepted && isRecord(parsed) && typeof parsed.UniqueId === 'string') {
      const uniqueId = parsed.UniqueId;
      const earlier = this.acceptedSignals
        .filter((s) => s.handleLogicalId === target.logicalId && isRecord(s.body) && s.body.UniqueId === uniqueId);
      // A repeat that says the same (a rollback re-reading the export it returns to) changes nothing;
      // one that says something else would rewrite what the condition reported. (CloudFormation keeps
      // one signal per UniqueId; how it treats a repeat after the condition completed is unverified.)
      const differs = earlier.some((s) => isRecord(s.body) && (s.body.Status !== parsed.Status || s.body.Data !== parsed.Data));
      if (differs) violations.push(`signalled again with UniqueId ${show(uniqueId)} but another Status or Data (accepted signal #${earlier.length + 1})`);
    }

    this.recordedSignalAttempts.push({
      handleLogicalId: target.logicalId,
      receivedAt,
      body: parsed,
      rawBytes,
      violations,
      method,
      path: (req.url ?? '').split('?')[0],
      status: finalStatus,
      accepted,
      ...(fault ? { fault: fault.kind } : {}),
    });
    this.violations.push(...violations.map((v) => `signal ${target.logicalId}: ${v}`));
    if (accepted) {
      const signal: RecordedSignal = { handleLogicalId: target.logicalId, receivedAt, body: parsed, rawBytes, violations };
      this.acceptedSignals.push(signal);
      for (const w of this.signalWaiters.get(target.logicalId) ?? []) {
        clearTimeout(w.timer);
        w.resolve(signal);
      }
      this.signalWaiters.delete(target.logicalId);
    }

    if (finalStatus === 'reset') {
      req.socket.destroy();
      return;
    }
    respond(res, finalStatus);
  }

  /**
   * The WaitConditionHandle a raw URL targets, or undefined when the URL is not a handle URL at all
   * (then it is treated as a custom-resource answer). Byte-exact, as for answers.
   */
  private resolveHandle(rawUrl: string): HandleTarget | undefined {
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? undefined : rawUrl.slice(q + 1);
    let handle = this.handlesByPath.get(path);
    if (!handle) {
      const decoded = safeDecode(path);
      if (!decoded.startsWith(WAIT_CONDITION_BUCKET_PATH)) return undefined;
      handle = [...this.handlesById.values()].find((h) => safeDecode(h.path) === decoded);
      if (!handle) return { logicalId: UNKNOWN_HANDLE, urlProblem: `unknown WaitConditionHandle path ${show(path, PATH_SHOWN)}` };
      return {
        logicalId: handle.logicalId,
        urlProblem: `path ${show(path, PATH_SHOWN)} is not byte-for-byte the issued WaitConditionHandle URL path (it was re-encoded)`,
      };
    }
    if (query === handle.query) return { logicalId: handle.logicalId };
    const signatures = (query ?? '').split('&').filter((p) => p.startsWith('X-Amz-Signature=')).map((p) => p.slice('X-Amz-Signature='.length));
    let urlProblem: string;
    if (signatures.length === 0) urlProblem = 'X-Amz-Signature missing from the query string';
    else if (signatures.length > 1 || signatures[0] !== handle.signature) urlProblem = 'X-Amz-Signature does not match the issued WaitConditionHandle URL';
    else urlProblem = 'query string differs from the issued WaitConditionHandle URL (it must be sent byte-for-byte)';
    return { logicalId: handle.logicalId, urlProblem };
  }

  private takeFault(applies: (f: ReceiverFault) => boolean): ReceiverFault | undefined {
    const index = this.faults.findIndex(applies);
    if (index === -1) return undefined;
    const f = this.faults[index];
    if (f.times !== undefined) {
      f.times -= 1;
      if (f.times <= 0) this.faults.splice(index, 1);
    }
    return f;
  }

  private settleWaiters(requestId: string, answer: RecordedAnswer): void {
    for (const w of this.waiters.get(requestId) ?? []) {
      clearTimeout(w.timer);
      w.resolve(answer);
    }
    this.waiters.delete(requestId);
  }

  private removeWaiter(requestId: string, waiter: Waiter): void {
    const list = (this.waiters.get(requestId) ?? []).filter((w) => w !== waiter);
    if (list.length > 0) this.waiters.set(requestId, list);
    else this.waiters.delete(requestId);
  }
}

/**
 * Checks a parsed answer body against CloudFormation's response contract. `issued` is
 * undefined when the URL matched no issued request (the fields echoed from the event can
 * then not be compared).
 */
function checkAnswerBody(body: unknown, issued: IssuedRequest | undefined): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [`body is not a JSON object (got ${describeType(body)})`];
  }
  const b = body as Record<string, unknown>;
  const v: string[] = [];

  if (b.Status !== 'SUCCESS' && b.Status !== 'FAILED') {
    v.push(`Status is ${show(b.Status)} (must be "SUCCESS" or "FAILED")`);
  }
  if (b.Reason !== undefined && typeof b.Reason !== 'string') {
    v.push(`Reason is not a string (got ${describeType(b.Reason)})`);
  } else if (b.Status === 'FAILED' && (b.Reason === undefined || b.Reason === '')) {
    v.push('Reason missing or empty on a FAILED answer');
  }

  if (b.PhysicalResourceId === undefined) {
    v.push('PhysicalResourceId missing');
  } else if (typeof b.PhysicalResourceId !== 'string') {
    v.push(`PhysicalResourceId is not a string (got ${describeType(b.PhysicalResourceId)})`);
  } else if (b.PhysicalResourceId === '') {
    v.push('PhysicalResourceId is empty');
  } else if (Buffer.byteLength(b.PhysicalResourceId, 'utf8') > MAX_PHYSICAL_ID_BYTES) {
    v.push(`PhysicalResourceId is ${Buffer.byteLength(b.PhysicalResourceId, 'utf8')} bytes (limit ${MAX_PHYSICAL_ID_BYTES})`);
  }

  if (issued) {
    const echoed: Array<[string, string]> = [
      ['StackId', issued.stackId],
      ['RequestId', issued.requestId],
      ['LogicalResourceId', issued.logicalResourceId],
    ];
    for (const [field, expected] of echoed) {
      if (b[field] !== expected) v.push(`${field} is ${show(b[field])}, expected ${show(expected)} from the event`);
    }
  }

  if (b.Data !== undefined && (typeof b.Data !== 'object' || b.Data === null || Array.isArray(b.Data))) {
    v.push(`Data is not an object (got ${describeType(b.Data)})`);
  }
  if (b.NoEcho !== undefined && typeof b.NoEcho !== 'boolean') {
    v.push(`NoEcho is not a boolean (got ${describeType(b.NoEcho)})`);
  }
  return v;
}

/** Checks a parsed signal body against the WaitCondition signal contract. */
function checkSignalBody(body: unknown): string[] {
  if (!isRecord(body)) return [`body is not a JSON object (got ${describeType(body)})`];
  const v: string[] = [];
  if (body.Status !== 'SUCCESS' && body.Status !== 'FAILURE') {
    v.push(`Status is ${show(body.Status)} (must be "SUCCESS" or "FAILURE")`);
  }
  if (body.UniqueId === undefined) v.push('UniqueId missing');
  else if (typeof body.UniqueId !== 'string') v.push(`UniqueId is not a string (got ${describeType(body.UniqueId)})`);
  else if (body.UniqueId === '') v.push('UniqueId is empty');
  for (const field of ['Data', 'Reason']) {
    if (body[field] === undefined) v.push(`${field} missing`);
    else if (typeof body[field] !== 'string') v.push(`${field} is not a string (got ${describeType(body[field])})`);
  }
  return v;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The checks S3 makes of any PUT to a presigned URL (a ResponseURL or a WaitCondition handle), as
 * violations plus the status S3 would answer; the first refusal wins, roughly in S3's order.
 */
function checkPresignedPut(req: http.IncomingMessage, urlProblem: string | undefined, what: string) {
  const violations: string[] = [];
  let status = 200;
  const refuse = (code: number) => {
    if (status === 200) status = code;
  };
  // A presigned URL signs the method: S3 answers 403 to anything but the method it was signed for.
  const method = req.method ?? '';
  if (method !== 'PUT') {
    violations.push(`method ${method}: ${what} must be sent with PUT`);
    refuse(403);
  }
  if (urlProblem) {
    violations.push(urlProblem);
    refuse(403);
  }
  const transferEncoding = req.headers['transfer-encoding'];
  if (transferEncoding !== undefined && /chunked/i.test(transferEncoding)) {
    violations.push('Transfer-Encoding: chunked (S3 refuses it with 411; send Content-Length)');
    refuse(411);
  } else if (req.headers['content-length'] === undefined) {
    // S3 answers 411 MissingContentLength here too.
    violations.push('Content-Length header missing');
    refuse(411);
  }
  // The signature does not cover Content-Type; CloudFormation's contract is to send none.
  const contentType = req.headers['content-type'];
  if (contentType !== undefined && contentType !== '') {
    violations.push(`Content-Type is ${show(contentType)} (must be absent or empty)`);
  }
  return {
    violations,
    refuse,
    get status() {
      return status;
    },
  };
}

/** Writes a minimal S3-like answer: empty on success, an XML error otherwise. */
function respond(res: http.ServerResponse, status: number): void {
  const codes: Record<number, string> = {
    400: 'EntityTooLarge',
    403: 'SignatureDoesNotMatch',
    411: 'MissingContentLength',
    503: 'SlowDown',
  };
  if (status >= 200 && status < 300) {
    res.writeHead(status, { 'ETag': `"${randomBytes(16).toString('hex')}"`, 'Content-Length': '0' });
    res.end();
    return;
  }
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${codes[status] ?? 'Error'}</Code></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(xml)) });
  res.end(xml);
}

/** Our URLs end in <stack>%7C<logical id>%7C<request id>; salvage the request id from an unknown one if possible. */
function requestIdFromPath(path: string): string {
  const key = safeDecode(path);
  if (!key.startsWith(BUCKET_PATH) || !key.includes('|')) return UNKNOWN_REQUEST;
  return key.split('|').pop() || UNKNOWN_REQUEST;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A short, quoted rendering of a value for a violation message. */
function show(value: unknown, max = 120): string {
  const s = value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
