/**
 * aws-cdk-lib's own `AwsCustomResource` handler (the bundled JavaScript aws-cdk-lib ships and deploys
 * as the `AWS679f53fac002430cb0da5b7982bd2287` function), run on this machine against the harness:
 * its AWS SDK call goes to the Neptune Analytics emulator (`AWS_ENDPOINT_URL_NEPTUNE_GRAPH`), its
 * answer to the CloudFormation receiver.
 *
 * Two things the handler does cannot happen here, and are redirected rather than imitated:
 * - It answers CloudFormation with `https.request({ hostname, path, method: 'PUT', headers })`: the
 *   ResponseURL's protocol and port are dropped, so the answer always goes to port 443 over TLS, and
 *   the receiver listens on `http://127.0.0.1:<port>`. The handler is given an `https` module whose
 *   `request` sends that same request (same hostname, path and query, headers and body) over plain
 *   HTTP to the ResponseURL's port. What the handler asked for is recorded in `answerRequests`.
 * - With `InstallLatestAwsSdk: 'true'` it runs `npm install @aws-sdk/client-<service>` in /tmp before
 *   the call. Tests must not reach npm, so its `child_process.execSync` refuses (recorded in
 *   `installAttempts`), and the handler takes its own fallback: the client installed here
 *   (`@aws-sdk/client-neptune-graph` of devDependencies), as on a Lambda without internet access.
 * Everything else (the SDK call, its parameters, the physical id, the answer's body) is the handler's.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { CloudFormationReceiver, CustomResourceEvent, RequestType } from './cloudformation';
import { asCloudFormationSends, plausibleResourceValues, resolve, ResourceValues, Template } from './template';

/** The handler as aws-cdk-lib ships it (the same file its AwsCustomResource deploys). */
export const AWS_CUSTOM_RESOURCE_HANDLER = path.join(
  path.dirname(require.resolve('aws-cdk-lib/package.json')),
  'custom-resource-handlers', 'dist', 'custom-resources', 'aws-custom-resource-handler', 'index.js',
);

const AWS_CUSTOM_RESOURCE_TYPE = 'Custom::AWS';
const PSEUDO = { partition: 'aws', region: 'us-east-1', account: '123456789012' };

type Json = Record<string, unknown>;
type Handler = (event: CustomResourceEvent, context?: unknown) => Promise<void>;

/** One request the handler made with `https.request`, as it asked for it. */
export interface AnswerRequest {
  readonly hostname?: string;
  /** `undefined`: the handler named no port, so https means 443. */
  readonly port?: number | string;
  readonly path?: string;
  readonly method?: string;
}

export interface AwsCustomResourceFunctionOptions {
  /** Where Neptune Analytics calls go (`AWS_ENDPOINT_URL_NEPTUNE_GRAPH` while the handler runs). */
  readonly neptuneGraphEndpoint: string;
  /**
   * Physical values of the template's resources (Ref and Fn::GetAtt), by logical id.
   * @default - plausible values (see `plausibleResourceValues`); parameters resolve to their Default
   */
  readonly resourceValues?: Record<string, ResourceValues>;
}

/** An `AwsCustomResource` of a synthesized template, served by aws-cdk-lib's handler. */
export class AwsCustomResourceFunction {
  /** Every `https.request` the handler made to answer CloudFormation. */
  public readonly answerRequests: AnswerRequest[] = [];
  /** Every command the handler tried to run (`npm install ...` for InstallLatestAwsSdk). */
  public readonly installAttempts: string[] = [];
  /** The handler's log lines, in order. */
  public readonly logs: string[] = [];
  public readonly functionArn: string;

  private readonly values: Record<string, ResourceValues>;
  private readonly handler: Handler;
  /** The port of the ResponseURL of the event being handled. */
  private responsePort?: number;

  constructor(private readonly template: Template, private readonly options: AwsCustomResourceFunctionOptions) {
    this.values = { ...plausibleResourceValues(template, PSEUDO), ...options.resourceValues };
    const functionIds = new Set(this.resources().map(([, props]) => serviceTokenFunction(props.ServiceToken)));
    if (functionIds.size !== 1) throw new Error(`Expected the AwsCustomResources to share one function, found ${[...functionIds].join(', ') || 'none'}`);
    this.functionArn = `arn:aws:lambda:${PSEUDO.region}:${PSEUDO.account}:function:${[...functionIds][0]}`;
    this.handler = this.load();
  }

  /** Logical ids of the template's AwsCustomResources. */
  public logicalIds(): string[] {
    return this.resources().map(([logicalId]) => logicalId);
  }

  /**
   * An event for one of the template's AwsCustomResources, its properties resolved and sent as
   * CloudFormation sends them (every scalar a string). Throws on an intrinsic it cannot resolve.
   */
  public event(
    cloudFormation: CloudFormationReceiver,
    type: RequestType,
    options: { logicalId?: string; physicalResourceId?: string; oldProperties?: Json; properties?: Json } = {},
  ): CustomResourceEvent {
    const logicalId = options.logicalId ?? this.only();
    const resource = this.template.Resources[logicalId];
    if (resource?.Type !== AWS_CUSTOM_RESOURCE_TYPE) throw new Error(`${logicalId} is not an AwsCustomResource`);
    const { ServiceToken: _token, ...properties } = resource.Properties ?? {};
    return cloudFormation.event(type, { ...this.resolved(properties), ...options.properties }, {
      resourceType: AWS_CUSTOM_RESOURCE_TYPE,
      logicalResourceId: logicalId,
      serviceToken: this.functionArn,
      physicalResourceId: options.physicalResourceId,
      oldProperties: options.oldProperties,
    });
  }

  /** Template properties resolved as CloudFormation sends them (for `oldProperties`). */
  public properties(logicalId?: string): Json {
    const { ServiceToken: _token, ...properties } = this.template.Resources[logicalId ?? this.only()].Properties ?? {};
    return this.resolved(properties);
  }

  /** Invokes the handler as Lambda would; it answers the receiver itself. */
  public async invoke(event: CustomResourceEvent): Promise<void> {
    this.responsePort = Number(new URL(event.ResponseURL).port);
    const saved = process.env.AWS_ENDPOINT_URL_NEPTUNE_GRAPH;
    process.env.AWS_ENDPOINT_URL_NEPTUNE_GRAPH = this.options.neptuneGraphEndpoint;
    const { log, error } = console;
    const capture = (...args: unknown[]) => {
      this.logs.push(args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${a.message}` : JSON.stringify(a))).join(' '));
    };
    console.log = capture;
    console.error = capture;
    try {
      await this.handler(event, this.context());
    } finally {
      Object.assign(console, { log, error });
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_NEPTUNE_GRAPH;
      else process.env.AWS_ENDPOINT_URL_NEPTUNE_GRAPH = saved;
    }
  }

  // -------------------------------------------------------------------------------------------

  /** The Lambda context fields a handler may read (this one answers a failure with `logStreamName` as its physical id). */
  private context(): Json {
    const functionName = this.functionArn.split(':').pop()!;
    const deadline = Date.now() + 120_000;
    return {
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.functionArn,
      memoryLimitInMB: '128',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `2026/01/01/[$LATEST]${randomUUID().replace(/-/g, '')}`,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
  }

  private resources(): Array<[string, Json]> {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type === AWS_CUSTOM_RESOURCE_TYPE)
      .map(([logicalId, r]) => [logicalId, (r.Properties ?? {}) as Json]);
  }

  private only(): string {
    const ids = this.logicalIds();
    if (ids.length !== 1) throw new Error(`The template has ${ids.length} AwsCustomResources: name one`);
    return ids[0];
  }

  private resolved(properties: Json): Json {
    const refs: Record<string, string> = {};
    const attributes: Record<string, Record<string, string>> = {};
    for (const [logicalId, value] of Object.entries(this.values)) {
      if (value.ref !== undefined) refs[logicalId] = value.ref;
      if (value.attributes) attributes[logicalId] = value.attributes;
    }
    return asCloudFormationSends(resolve(properties, { ...PSEUDO, arns: {}, refs, attributes })) as Json;
  }

  /**
   * Evaluates the bundle with its own `require`: `https` and `child_process` as described at the top
   * of this file, everything else (the AWS SDK, node builtins) as Node provides it. A fresh copy per
   * instance: the bundle caches SDK packages per module.
   */
  private load(): Handler {
    const source = fs.readFileSync(AWS_CUSTOM_RESOURCE_HANDLER, 'utf8');
    const https = {
      request: (options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void) => {
        const { hostname, port, path: requestPath, method } = options;
        this.answerRequests.push({ hostname: hostname ?? undefined, port: port ?? undefined, path: requestPath ?? undefined, method });
        if (this.responsePort === undefined) throw new Error('https.request outside an invocation');
        return http.request({ ...options, port: this.responsePort }, callback);
      },
    };
    const childProcess = {
      execSync: (command: string) => {
        this.installAttempts.push(command);
        throw new Error('The local harness does not install packages from npm');
      },
    };
    const substitutes: Record<string, unknown> = { https, child_process: childProcess };
    // The handler's externals (the AWS SDK client, node builtins) as Lambda's runtime provides them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const localRequire = Object.assign((id: string) => (id in substitutes ? substitutes[id] : require(id)), { resolve: require.resolve });
    const module = { exports: {} as { handler?: Handler } };
    const evaluate = new Function('exports', 'require', 'module', '__filename', '__dirname', `${source}\n//# sourceURL=${AWS_CUSTOM_RESOURCE_HANDLER}`);
    evaluate(module.exports, localRequire, module, AWS_CUSTOM_RESOURCE_HANDLER, path.dirname(AWS_CUSTOM_RESOURCE_HANDLER));
    if (typeof module.exports.handler !== 'function') throw new Error(`${AWS_CUSTOM_RESOURCE_HANDLER} exports no handler`);
    return module.exports.handler;
  }
}

/** The logical id of the function a ServiceToken `{ Fn::GetAtt: [<function>, Arn] }` names. */
function serviceTokenFunction(serviceToken: unknown): string {
  const getAtt = (serviceToken as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  if (!Array.isArray(getAtt) || getAtt[1] !== 'Arn') throw new Error(`Unexpected ServiceToken ${JSON.stringify(serviceToken)}`);
  return String(getAtt[0]);
}
