/**
 * A local stand-in for AWS Systems Manager Parameter Store: PutParameter, GetParameter and
 * DeleteParameter over the AWS JSON 1.1 protocol (`X-Amz-Target: AmazonSSM.<Operation>`), so a real
 * `SSMClient` (or the handler, through `AWS_ENDPOINT_URL_SSM`) works against it unchanged.
 *
 * The store is a plain Map that tests read and change directly (`parameters`), every call is
 * recorded (`calls`, without values: parameters here hold ResponseURLs), and faults can be injected
 * per operation and per name prefix (throttling, 500s, dropped connections).
 *
 * Rules it enforces, from the SSM API reference (PutParameter, GetParameter, DeleteParameter):
 * - a Standard-tier value is 1 to 4096 characters (ValidationException beyond);
 * - a name uses only a-zA-Z0-9_.-/; a name with a '/' is fully qualified (starts with '/'), at most
 *   15 levels deep; the 1011-character limit counts the parameter's whole ARN
 *   (`arn:aws:ssm:<region>:<account>:parameter` + the name, with a '/' added before a plain name);
 * - names starting with `aws` or `ssm` (any case, after the leading '/') are reserved;
 * - PutParameter on an existing name without `Overwrite: true` fails with ParameterAlreadyExists;
 *   each write increments Version;
 * - a missing parameter is `ParameterNotFound` (HTTP 400).
 * Unverified guesses: the exact error messages; that throttling is HTTP 400 `ThrottlingException`
 * (what the SSM error list documents; the SDK retries it either way).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type SsmOperation = 'PutParameter' | 'GetParameter' | 'DeleteParameter';
export type SsmFaultKind = 'throttle' | 'internal' | 'drop';

export interface SsmFaultRule {
  operation?: SsmOperation;
  /** Only parameters whose name starts with this. */
  namePrefix?: string;
  kind: SsmFaultKind;
  /** How many matching calls it hits. @default every matching call */
  times?: number;
}

export interface StoredParameter {
  value: string;
  type: 'String' | 'StringList' | 'SecureString';
  version: number;
  /** Epoch milliseconds of the last write (the faked Date when the deployment fakes it). */
  lastModified: number;
}

export interface SsmCall {
  operation: string;
  name?: string;
  httpStatus: number;
  errorType?: string;
  /** Epoch milliseconds (Date.now(), so virtual when the deployment fakes Date). */
  at: number;
}

const SIGNING_NAME = 'ssm';
const MAX_VALUE_CHARS = 4096;
const MAX_ARN_CHARS = 1011;
const MAX_LEVELS = 15;
const NAME_CHARS = /^[a-zA-Z0-9_.\-/]+$/;
const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=[^/\s,]+\/\d{8}\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=[a-z0-9;-]+,\s*Signature=[0-9a-f]{64}$/;

class SsmError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

export class SsmParameterStoreEmulator {
  public static async start(options: { region?: string; account?: string } = {}): Promise<SsmParameterStoreEmulator> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const emulator = new SsmParameterStoreEmulator(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, options);
    server.on('request', (req, res) => emulator.handle(req, res));
    return emulator;
  }

  /** Parameters by name: read and change them freely. */
  public readonly parameters = new Map<string, StoredParameter>();
  public readonly calls: SsmCall[] = [];
  public readonly region: string;
  public readonly account: string;
  private readonly rules: Array<{ rule: SsmFaultRule; remaining: number }> = [];

  private constructor(private readonly server: http.Server, public readonly endpoint: string, options: { region?: string; account?: string }) {
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '123456789012';
  }

  /** Values of the parameters whose names start with the prefix, by name. */
  public valuesUnder(prefix: string): Record<string, string> {
    return Object.fromEntries([...this.parameters].filter(([name]) => name.startsWith(prefix)).map(([name, p]) => [name, p.value]));
  }

  public fault(rule: SsmFaultRule): void {
    if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) throw new Error(`fault times must be an integer >= 0, got ${rule.times}`);
    this.rules.push({ rule: { ...rule }, remaining: rule.times ?? Infinity });
  }

  public clearFaults(): void {
    this.rules.length = 0;
  }

  public async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AmazonSSM.') ? target.slice('AmazonSSM.'.length) : target;
      const call: SsmCall = { operation, httpStatus: 0, at: Date.now() };
      const reply = (status: number, body: Record<string, unknown>, errorType?: string) => {
        call.httpStatus = status;
        if (errorType) call.errorType = errorType;
        this.calls.push(call);
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
        res.end(JSON.stringify(errorType ? { __type: errorType, message: body.message } : body));
      };
      try {
        const auth = this.authProblem(req);
        if (auth) throw auth;
        if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
          throw new SsmError(400, 'SerializationException', 'Expected Content-Type application/x-amz-json-1.1');
        }
        let request: Record<string, unknown>;
        try {
          request = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        } catch {
          throw new SsmError(400, 'SerializationException', 'Request body is not valid JSON');
        }
        if (typeof request.Name === 'string') call.name = request.Name;
        const fault = this.pickFault(operation, call.name);
        if (fault === 'drop') {
          call.httpStatus = 0;
          this.calls.push(call);
          req.socket.destroy();
          return;
        }
        if (fault === 'throttle') throw new SsmError(400, 'ThrottlingException', 'Rate exceeded');
        if (fault === 'internal') throw new SsmError(500, 'InternalServerError', 'An internal error occurred');
        reply(200, this.dispatch(operation, request));
      } catch (error) {
        if (error instanceof SsmError) return reply(error.status, { message: error.message }, error.type);
        reply(500, { message: String(error) }, 'InternalServerError');
      }
    });
  }

  private dispatch(operation: string, request: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'PutParameter':
        return this.putParameter(request);
      case 'GetParameter': {
        const name = this.checkName(request.Name);
        const stored = this.found(name);
        return {
          Parameter: {
            Name: name,
            Type: stored.type,
            Value: stored.value,
            Version: stored.version,
            LastModifiedDate: stored.lastModified / 1000,
            ARN: this.arnOf(name),
            DataType: 'text',
          },
        };
      }
      case 'DeleteParameter': {
        const name = this.checkName(request.Name);
        this.found(name);
        this.parameters.delete(name);
        return {};
      }
      default:
        throw new SsmError(400, 'UnknownOperationException', `The local Parameter Store does not implement ${operation || '(no X-Amz-Target)'}`);
    }
  }

  private putParameter(request: Record<string, unknown>): Record<string, unknown> {
    const name = this.checkName(request.Name);
    const value = request.Value;
    if (typeof value !== 'string' || value.length < 1) {
      throw new SsmError(400, 'ValidationException', "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1");
    }
    if (value.length > MAX_VALUE_CHARS) {
      throw new SsmError(400, 'ValidationException', `Standard tier parameters support a maximum parameter value of ${MAX_VALUE_CHARS} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.`);
    }
    const type = request.Type ?? 'String';
    if (type !== 'String' && type !== 'StringList' && type !== 'SecureString') {
      throw new SsmError(400, 'ValidationException', `1 validation error detected: Value '${String(type)}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]`);
    }
    if (request.Tier !== undefined && request.Tier !== 'Standard') {
      throw new SsmError(400, 'ValidationException', `The local Parameter Store only emulates the Standard tier, got ${String(request.Tier)}`);
    }
    const existing = this.parameters.get(name);
    if (existing && request.Overwrite !== true) {
      throw new SsmError(400, 'ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
    }
    const version = (existing?.version ?? 0) + 1;
    this.parameters.set(name, { value, type, version, lastModified: Date.now() });
    return { Version: version, Tier: 'Standard' };
  }

  private found(name: string): StoredParameter {
    const stored = this.parameters.get(name);
    if (!stored) throw new SsmError(400, 'ParameterNotFound', `Parameter ${name} not found.`);
    return stored;
  }

  private arnOf(name: string): string {
    return `arn:aws:ssm:${this.region}:${this.account}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
  }

  private checkName(name: unknown): string {
    const invalid = (why: string) => new SsmError(400, 'ValidationException', `Parameter name ${why}`);
    if (typeof name !== 'string' || name.length === 0) throw invalid('must be a non-empty string');
    if (!NAME_CHARS.test(name)) throw invalid('can only contain a-zA-Z0-9_.-/');
    if (name.includes('/') && !name.startsWith('/')) throw invalid('must be fully qualified (start with /) when it contains /');
    if (name.split('/').filter(Boolean).length > MAX_LEVELS) throw invalid(`can have at most ${MAX_LEVELS} levels`);
    if (/^\/?(aws|ssm)/i.test(name)) throw invalid('cannot begin with aws or ssm (reserved)');
    if (this.arnOf(name).length > MAX_ARN_CHARS) throw invalid(`with its ARN prefix exceeds ${MAX_ARN_CHARS} characters`);
    return name;
  }

  private pickFault(operation: string, name: string | undefined): SsmFaultKind | undefined {
    for (const armed of this.rules) {
      const { rule } = armed;
      if (armed.remaining <= 0) continue;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      if (rule.namePrefix !== undefined && !(name ?? '').startsWith(rule.namePrefix)) continue;
      armed.remaining--;
      return rule.kind;
    }
    return undefined;
  }

  private authProblem(req: http.IncomingMessage): SsmError | undefined {
    const m = AUTHORIZATION.exec(String(req.headers.authorization ?? ''));
    if (!m) return new SsmError(400, 'MissingAuthenticationToken', 'Missing or malformed SigV4 Authorization header');
    const [, region, service] = m;
    if (service !== SIGNING_NAME) return new SsmError(400, 'InvalidSignatureException', `Credential should be scoped to correct service: '${SIGNING_NAME}'.`);
    if (region !== this.region) return new SsmError(400, 'InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'.`);
    return undefined;
  }
}
