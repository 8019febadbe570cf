/**
 * Cold start: the code Lambda loads for a CloudFormation request, and how long a fresh Node.js
 * process takes to load it and handle one Delete.
 *
 * - this library: assets/lambda/export-waiter.lambda/index.js (the esbuild bundle that ships), whose
 *   Delete is answered at once with a PUT to the ResponseURL;
 * - the Provider framework: aws-cdk-lib's custom-resources/lib/provider-framework/runtime (the asset
 *   of its framework-onEvent function, *.ts excluded as Provider does), whose onEvent for a Delete
 *   invokes the user's onEvent function (Lambda Invoke) and, with an isCompleteHandler, starts the
 *   waiter state machine (StartExecution); the answer to CloudFormation comes later, from another
 *   function (framework-isComplete), which is not counted here.
 * - what-if: this library's handler unminified (not what ships; shows what `--minify` changes).
 * All load the AWS SDK v3 clients they import from node_modules, as Lambda's Node.js runtime
 * provides them; every SDK call goes to a local endpoint (AWS_ENDPOINT_URL_LAMBDA / _SFN) served
 * by this process, and the ResponseURL points at it too.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
// bench/ is not shipped (package-ignored): it may use the project's devDependencies.
import { buildSync } from 'esbuild';
import { Env } from '../src/runtime/constants';

const ROOT = path.join(__dirname, '..');
export const LIBRARY_BUNDLE = path.join(ROOT, 'assets', 'lambda', 'export-waiter.lambda', 'index.js');
export const PROVIDER_RUNTIME = path.join(ROOT, 'node_modules', 'aws-cdk-lib', 'custom-resources', 'lib', 'provider-framework', 'runtime');

export interface ColdStartSubject {
  readonly name: 'library' | 'libraryUnminified' | 'providerFramework';
  readonly file: string;
  readonly handler: string;
  /** Bytes of the function's code asset (what Lambda downloads and loads). */
  readonly assetBytes: number;
  /** The same files, each deflated as in the asset's zip file. */
  readonly assetDeflatedBytes: number;
  readonly assetFiles: string[];
  readonly env: Record<string, string>;
}

/**
 * What-if, not shipped: the same handler bundled without esbuild's --minify (otherwise the arguments
 * of the projen bundle task), written under .tmp/.
 */
function unminifiedBundle(workDir: string): string {
  const outfile = path.join(workDir, 'export-waiter.unminified', 'index.js');
  buildSync({
    entryPoints: [path.join(ROOT, 'lambda', 'export-waiter.lambda.ts')],
    bundle: true,
    minify: false,
    target: 'node22',
    platform: 'node',
    outfile,
    tsconfig: path.join(ROOT, 'test', 'tsconfig.json'),
    external: ['@aws-sdk/client-sfn', '@aws-sdk/client-ssm'],
    logLevel: 'silent',
  });
  return outfile;
}

export function subjects(workDir: string): ColdStartSubject[] {
  const providerFiles = fs.readdirSync(PROVIDER_RUNTIME).filter((f) => !f.endsWith('.ts'));
  const size = (files: string[]) => files.reduce((sum, f) => sum + fs.statSync(f).size, 0);
  const deflated = (files: string[]) => files.reduce((sum, f) => sum + zlib.deflateRawSync(fs.readFileSync(f), { level: 9 }).length, 0);
  const unminified = unminifiedBundle(workDir);
  const providerPaths = providerFiles.map((f) => path.join(PROVIDER_RUNTIME, f));
  const libraryEnv = { [Env.STATE_MACHINE_ARN]: 'arn:aws:states:us-east-1:123456789012:stateMachine:bench' };
  return [
    {
      name: 'library',
      file: LIBRARY_BUNDLE,
      handler: 'handler',
      assetBytes: size([LIBRARY_BUNDLE]),
      assetDeflatedBytes: deflated([LIBRARY_BUNDLE]),
      assetFiles: ['index.js'],
      env: libraryEnv,
    },
    {
      name: 'libraryUnminified',
      file: unminified,
      handler: 'handler',
      assetBytes: size([unminified]),
      assetDeflatedBytes: deflated([unminified]),
      assetFiles: ['index.js (unminified, not shipped)'],
      env: libraryEnv,
    },
    {
      name: 'providerFramework',
      file: path.join(PROVIDER_RUNTIME, 'framework.js'),
      handler: 'onEvent',
      assetBytes: size(providerPaths),
      assetDeflatedBytes: deflated(providerPaths),
      assetFiles: providerFiles,
      env: {
        USER_ON_EVENT_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:user-on-event',
        USER_IS_COMPLETE_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:user-is-complete',
        WAITER_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:waiter',
      },
    },
  ];
}

/** What runs in each fresh process: time from before `require` to the handler's promise settling. */
const CHILD = `
const started = performance.now();
const mod = require(process.env.BENCH_FILE);
const loaded = performance.now();
const context = { getRemainingTimeInMillis: () => 60000 };
Promise.resolve(mod[process.env.BENCH_HANDLER](JSON.parse(process.env.BENCH_EVENT), context)).then(() => {
  const done = performance.now();
  process.send({ loadMs: loaded - started, totalMs: done - started, sinceProcessStartMs: done });
  process.disconnect();
}, (e) => { process.send({ error: String(e && e.stack || e) }); process.disconnect(); });
`;

/** Local stand-ins: the ResponseURL, Lambda Invoke and Step Functions StartExecution. */
async function startEndpoints() {
  const seen = { answers: 0, invokes: 0, startExecutions: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'PUT' && req.url?.startsWith('/response/')) {
        seen.answers++;
        res.writeHead(200, { 'content-length': 0 }).end();
      } else if (req.method === 'POST' && /^\/2015-03-31\/functions\/[^/]+\/invocations/.test(req.url ?? '')) {
        seen.invokes++;
        const body = '{}';
        res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST', 'content-length': body.length }).end(body);
      } else if (req.headers['x-amz-target'] === 'AWSStepFunctions.StartExecution') {
        seen.startExecutions++;
        const body = JSON.stringify({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:waiter:x', startDate: Date.now() / 1000 });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) }).end(body);
      } else {
        res.writeHead(404, { 'content-length': 0 }).end();
      }
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { endpoint, seen, close: () => new Promise<void>((done) => server.close(() => done())) };
}

function deleteEvent(endpoint: string, i: number) {
  return {
    RequestType: 'Delete',
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:bench',
    ResponseURL: `${endpoint}/response/${i}?X-Amz-Signature=local`,
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/bench/00000000-0000-4000-8000-000000000000',
    RequestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    LogicalResourceId: 'Waiter',
    ResourceType: 'Custom::NeptuneGraphExportTaskWaiter',
    PhysicalResourceId: 't-0123456789',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:bench', TaskIdentifier: 't-0123456789' },
  };
}

function runChild(subject: ColdStartSubject, endpoint: string, i: number): Promise<{ loadMs: number; totalMs: number; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, ['-e', CHILD], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {
        PATH: process.env.PATH ?? '',
        NODE_NO_WARNINGS: '1',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDLOCALBENCH',
        AWS_SECRET_ACCESS_KEY: 'local-bench-secret',
        AWS_ENDPOINT_URL_LAMBDA: endpoint,
        AWS_ENDPOINT_URL_SFN: endpoint,
        ...subject.env,
        BENCH_FILE: subject.file,
        BENCH_HANDLER: subject.handler,
        BENCH_EVENT: JSON.stringify(deleteEvent(endpoint, i)),
      },
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    let result: { loadMs: number; totalMs: number; error?: string } | undefined;
    child.on('message', (m: typeof result) => (result = m));
    child.on('exit', () => {
      if (!result || result.error) return reject(new Error(`${subject.name}: ${result?.error ?? stderr}`));
      resolve({ loadMs: result.loadMs, totalMs: result.totalMs, wallMs: performance.now() - spawnedAt });
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export interface ColdStartMeasurement {
  readonly name: ColdStartSubject['name'];
  readonly assetBytes: number;
  readonly assetDeflatedBytes: number;
  readonly assetFiles: string[];
  readonly processes: number;
  /** Median: `require` of the handler module (with the SDK clients it imports). */
  readonly loadMs: number;
  /** Median: `require` plus the first invocation, a Delete, until its promise settles. */
  readonly initMs: number;
  /** Median: spawning `node` until the process exited (Node's own start-up included). */
  readonly processWallMs: number;
  /** What the Delete did on the local endpoints, over all processes. */
  readonly calls: { answers: number; invokes: number; startExecutions: number };
}

/** Fresh processes, alternating between the subjects so that machine noise hits both alike. */
export async function measureColdStart(processes: number, workDir: string): Promise<ColdStartMeasurement[]> {
  const all = subjects(workDir);
  const samples = new Map(all.map((s) => [s.name, { load: [] as number[], init: [] as number[], wall: [] as number[] }]));
  const endpoints = new Map<string, Awaited<ReturnType<typeof startEndpoints>>>();
  for (const s of all) endpoints.set(s.name, await startEndpoints());
  try {
    // One discarded round each: the first spawn warms the file system cache.
    for (const s of all) await runChild(s, endpoints.get(s.name)!.endpoint, 0);
    for (const s of all) Object.assign(endpoints.get(s.name)!.seen, { answers: 0, invokes: 0, startExecutions: 0 });
    for (let i = 1; i <= processes; i++) {
      for (const s of i % 2 ? all : [...all].reverse()) {
        const r = await runChild(s, endpoints.get(s.name)!.endpoint, i);
        const entry = samples.get(s.name)!;
        entry.load.push(r.loadMs);
        entry.init.push(r.totalMs);
        entry.wall.push(r.wallMs);
      }
    }
  } finally {
    for (const e of endpoints.values()) await e.close();
  }
  return all.map((s) => {
    const { load, init, wall } = samples.get(s.name)!;
    return {
      name: s.name,
      assetBytes: s.assetBytes,
      assetDeflatedBytes: s.assetDeflatedBytes,
      assetFiles: s.assetFiles,
      processes,
      loadMs: median(load),
      initMs: median(init),
      processWallMs: median(wall),
      calls: { ...endpoints.get(s.name)!.seen },
    };
  });
}
