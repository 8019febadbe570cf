/**
 * The templates this project synthesizes: each construct in each mode and option set the tests
 * build, the example app and the integration test app. Each entry synthesizes on demand.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as neptunegraph from 'aws-cdk-lib/aws-neptunegraph';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CfnTemplate } from './template';
import {
  ExportDestination, ExportFormat, ExportOutputType, ExportTaskSource, ExportTaskWaiter, GraphExport, GraphExportProps, MultiValueHandling,
  ParquetType, WaitForExportTask,
} from '../../src';

export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: CfnTemplate;
}

export interface CatalogueEntry {
  readonly name: string;
  readonly templates: () => Promise<SynthesizedStack[]>;
}

const ENV = { account: '123456789012', region: 'eu-west-1' };
const TASK_ID = 't-0123456789';
const GRAPH_ID = 'g-0123456789';

function synth(build: (stack: Stack) => void, envAgnostic = false): () => Promise<SynthesizedStack[]> {
  return async () => {
    const stack = new Stack(new App(), 'SpecStack', envAgnostic ? {} : { env: ENV });
    build(stack);
    return [synthesized(stack)];
  };
}

function synthesized(stack: Stack): SynthesizedStack {
  return { stackName: stack.stackName, template: Template.fromStack(stack).toJSON() as CfnTemplate };
}

/** A GraphExport of a prefix of a bucket of the stack, with a key of the stack, plus the given props. */
function graphExport(props: (stack: Stack) => Partial<GraphExportProps> = () => ({}), envAgnostic = false) {
  return synth((stack) => {
    const key = new kms.Key(stack, 'ExportKey', { enableKeyRotation: true });
    const bucket = new s3.Bucket(stack, 'Exports', { enforceSSL: true });
    new GraphExport(stack, 'Export', {
      graphId: GRAPH_ID,
      destination: ExportDestination.fromBucket(bucket, 'exports/'),
      encryptionKey: key,
      ...props(stack),
    });
  }, envAgnostic);
}

export const CATALOGUE: CatalogueEntry[] = [
  // ExportTaskWaiter
  { name: 'ExportTaskWaiter: defaults', templates: synth((s) => new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: TASK_ID })) },
  {
    name: 'ExportTaskWaiter: defaults, environment-agnostic stack',
    templates: synth((s) => new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: TASK_ID }), true),
  },
  {
    name: 'ExportTaskWaiter: long-wait mode (6 h)',
    templates: synth((s) => new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: TASK_ID, timeout: Duration.hours(6) })),
  },
  {
    // One infrastructure per stack, configured by its first waiter: other settings need another stack.
    name: 'ExportTaskWaiter: own log group and no tracing in one stack, defaults in another',
    templates: async () => {
      const app = new App();
      const defaults = new Stack(app, 'SpecDefaults', { env: ENV });
      new ExportTaskWaiter(defaults, 'Default', { taskIdentifier: TASK_ID });
      const custom = new Stack(app, 'SpecCustom', { env: ENV });
      const logGroup = new logs.LogGroup(custom, 'MyLogs');
      new ExportTaskWaiter(custom, 'Custom', { taskIdentifier: 't-abcdefghij', logGroup, tracing: false });
      // Later waiters of the stack leave the settings unset, or repeat them.
      new ExportTaskWaiter(custom, 'Second', { taskIdentifier: 't-bcdefghijk' });
      new ExportTaskWaiter(custom, 'Third', { taskIdentifier: 't-cdefghijkl', logGroup, tracing: false });
      return [defaults, custom].map(synthesized);
    },
  },
  {
    name: 'ExportTaskWaiter: encrypted log group, tracing, poll intervals, 55 min',
    templates: synth((s) => {
      const key = new kms.Key(s, 'LogKey', { enableKeyRotation: true });
      key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${s.region}.amazonaws.com`));
      const logGroup = new logs.LogGroup(s, 'WaiterLogs', { encryptionKey: key, retention: logs.RetentionDays.THREE_MONTHS });
      new ExportTaskWaiter(s, 'Waiter', {
        taskIdentifier: TASK_ID,
        timeout: Duration.minutes(55),
        logGroup,
        tracing: true,
        minPollInterval: Duration.seconds(10),
        maxPollInterval: Duration.minutes(5),
      });
    }),
  },
  {
    name: 'ExportTaskWaiter: imported log group, task id and timeout from parameters',
    templates: synth((s) => {
      const taskId = new CfnParameter(s, 'TaskId', { type: 'String' });
      const timeout = new CfnParameter(s, 'TimeoutSeconds', { type: 'Number', default: 600 });
      new ExportTaskWaiter(s, 'Waiter', {
        taskIdentifier: taskId.valueAsString,
        timeout: Duration.seconds(timeout.valueAsNumber),
        logGroup: logs.LogGroup.fromLogGroupName(s, 'Existing', '/exports/waiter'),
      });
    }),
  },
  // GraphExport
  { name: 'GraphExport: bucket of the stack, defaults', templates: graphExport() },
  {
    name: 'GraphExport: every request field (Parquet columnar, filter, tags), cancelOnDelete',
    templates: graphExport(() => ({
      parquetType: ParquetType.COLUMNAR,
      exportFilter: {
        vertexFilter: {
          Person: {
            properties: {
              name: { outputType: ExportOutputType.STRING, sourcePropertyName: 'fullName', multiValueHandling: MultiValueHandling.TO_LIST },
              age: { outputType: ExportOutputType.INT },
            },
          },
        },
        edgeFilter: { KNOWS: {} },
      },
      tags: { team: 'graph-analytics' },
      cancelOnDelete: true,
    })),
  },
  { name: 'GraphExport: CSV', templates: graphExport(() => ({ format: ExportFormat.CSV })) },
  {
    name: 'GraphExport: S3 URI destination, tags, cancelOnDelete, long-wait mode (6 h)',
    templates: synth((s) => {
      new GraphExport(s, 'Export', {
        graphId: GRAPH_ID,
        destination: ExportDestination.fromS3Uri('s3://my-exports/graph/daily/'),
        encryptionKey: new kms.Key(s, 'ExportKey', { enableKeyRotation: true }),
        cancelOnDelete: true,
        tags: { team: 'graph-analytics' },
        timeout: Duration.hours(6),
      });
    }),
  },
  {
    name: 'GraphExport: long-wait mode (8 h), environment-agnostic stack',
    templates: graphExport(() => ({ timeout: Duration.hours(8) }), true),
  },
  {
    name: 'GraphExport: own role of the stack',
    templates: graphExport((s) => ({ role: new iam.Role(s, 'MyRole', { assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com') }) })),
  },
  {
    name: 'GraphExport: imported role, imported key, S3 URI from a parameter',
    templates: synth((s) => {
      const uri = new CfnParameter(s, 'Destination', { type: 'String' });
      new GraphExport(s, 'Export', {
        graphId: GRAPH_ID,
        destination: ExportDestination.fromS3Uri(uri.valueAsString),
        encryptionKey: kms.Key.fromKeyArn(s, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
        role: iam.Role.fromRoleArn(s, 'Role', 'arn:aws:iam::123456789012:role/service-role/MyExportRole'),
      });
    }),
  },
  {
    name: 'GraphExport: graph of the stack, bucket encrypted with its own key',
    templates: synth((s) => {
      const graph = new neptunegraph.CfnGraph(s, 'Graph', { provisionedMemory: 16, replicaCount: 0, publicConnectivity: false });
      const bucketKey = new kms.Key(s, 'BucketKey', { enableKeyRotation: true });
      const bucket = new s3.Bucket(s, 'Exports', { encryption: s3.BucketEncryption.KMS, encryptionKey: bucketKey, enforceSSL: true });
      new GraphExport(s, 'Export', {
        graphId: graph.attrGraphId,
        destination: ExportDestination.fromBucket(bucket, 'weekly/'),
        encryptionKey: new kms.Key(s, 'ExportKey', { enableKeyRotation: true }),
      });
    }),
  },
  {
    name: 'ExportTaskWaiter and GraphExports sharing one stack',
    templates: synth((s) => {
      const key = new kms.Key(s, 'ExportKey', { enableKeyRotation: true });
      const bucket = new s3.Bucket(s, 'Exports', { enforceSSL: true });
      const first = new GraphExport(s, 'First', { graphId: GRAPH_ID, destination: ExportDestination.fromBucket(bucket, 'a/'), encryptionKey: key, tags: { a: 'b' } });
      new GraphExport(s, 'Second', {
        graphId: 'g-abcdefghij', destination: ExportDestination.fromBucket(bucket, 'b/'), encryptionKey: key, cancelOnDelete: true,
      });
      new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: first.exportTaskId });
    }),
  },
  {
    name: 'grantRead of a GraphExport and of an ExportTaskWaiter, alarms on their metrics, the handler in a VPC',
    templates: synth((s) => {
      const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 2, natGateways: 1 });
      const key = new kms.Key(s, 'ExportKey', { enableKeyRotation: true });
      const bucketKey = new kms.Key(s, 'BucketKey', { enableKeyRotation: true });
      const bucket = new s3.Bucket(s, 'Exports', { encryption: s3.BucketEncryption.KMS, encryptionKey: bucketKey, enforceSSL: true });
      const exported = new GraphExport(s, 'Export', { graphId: GRAPH_ID, destination: ExportDestination.fromBucket(bucket, 'a/'), encryptionKey: key, vpc });
      const waiter = new ExportTaskWaiter(s, 'Waiter', { taskIdentifier: TASK_ID });
      const reader = new iam.Role(s, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      exported.grantRead(reader);
      waiter.grantRead(reader);
      exported.grantRead(new iam.AccountPrincipal('210987654321'));
      new cloudwatch.Alarm(s, 'ExportFailed', { metric: exported.metricWaitsFailed(), threshold: 1, evaluationPeriods: 1 });
      new cloudwatch.Alarm(s, 'WaitTimedOut', { metric: waiter.metricWaitsTimedOut(), threshold: 1, evaluationPeriods: 1 });
    }),
  },
  // WaitForExportTask, in a state machine of the user's
  {
    name: 'WaitForExportTask: a task id from the state, defaults',
    templates: synth((s) => {
      const wait = new WaitForExportTask(s, 'Wait', { task: ExportTaskSource.fromTaskId(sfn.JsonPath.stringAt('$.taskId')) });
      new sfn.StateMachine(s, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(wait) });
    }),
  },
  {
    name: 'WaitForExportTask: starts every request field (filter, tags), a graph from the state, two fragments in one machine',
    templates: synth((s) => {
      const role = new iam.Role(s, 'ExportRole', { assumedBy: new iam.ServicePrincipal('neptune-graph.amazonaws.com') });
      const key = new kms.Key(s, 'ExportKey', { enableKeyRotation: true });
      const bucket = new s3.Bucket(s, 'Exports', { enforceSSL: true });
      const first = new WaitForExportTask(s, 'First', {
        task: ExportTaskSource.startExport({
          graphId: GRAPH_ID,
          role,
          encryptionKey: key,
          destination: ExportDestination.fromBucket(bucket, 'a/'),
          parquetType: ParquetType.COLUMNAR,
          tags: { team: 'graph-analytics' },
          exportFilter: { vertexFilter: { Person: { properties: { name: { outputType: ExportOutputType.STRING } } } } },
        }),
        resultPath: '$.first',
        timeout: Duration.hours(2),
      });
      const second = new WaitForExportTask(s, 'Second', {
        task: ExportTaskSource.startExport({
          graphId: sfn.JsonPath.stringAt('$.graphId'),
          role,
          encryptionKey: key,
          format: ExportFormat.CSV,
          destination: ExportDestination.fromS3Uri(sfn.JsonPath.format('s3://my-exports/{}/', sfn.JsonPath.executionName)),
        }),
        resultPath: '$.second',
      });
      new sfn.StateMachine(s, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(first.next(second)) });
    }),
  },
  // The example apps, as examples.test.ts imports them (each app module synthesizes itself once loaded).
  {
    name: 'example app: export-pipeline',
    templates: async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { pipeline, consumer } = require('../../examples/export-pipeline/app') as typeof import('../../examples/export-pipeline/app');
      return [pipeline, consumer].map(synthesized);
    },
  },
  {
    name: 'example app: pipeline-task-id',
    templates: async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { stack } = require('../../examples/pipeline-task-id/app') as typeof import('../../examples/pipeline-task-id/app');
      return [synthesized(stack)];
    },
  },
  {
    name: 'example app: aws-custom-resource-export',
    templates: async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { stack } = require('../../examples/aws-custom-resource-export/app') as typeof import('../../examples/aws-custom-resource-export/app');
      return [synthesized(stack)];
    },
  },
  {
    name: 'example app: nightly-export',
    templates: async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { stack } = require('../../examples/nightly-export/app') as typeof import('../../examples/nightly-export/app');
      return [synthesized(stack)];
    },
  },
  {
    // The stage's stack only: the pipeline stack's codestar-connections:UseConnection statement trips
    // the IAM check's resource-type lookup (iam-data names the type "Connection", the lookup finds none).
    name: 'example app: cdk-pipelines (the stage\'s stack)',
    templates: async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { stack } = require('../../examples/cdk-pipelines/app') as typeof import('../../examples/cdk-pipelines/app');
      return [synthesized(stack.stage.exportStack)];
    },
  },
  // The integration test app, synthesized afresh (its snapshot may lag behind the code).
  { name: 'integration test app: test/integ.export-waiter.ts', templates: synthesizeIntegApp },
];

/** Runs test/integ.export-waiter.ts (which calls app.synth()) into a fresh directory, and reads every template. */
async function synthesizeIntegApp(): Promise<SynthesizedStack[]> {
  const outdir = mkdtempSync(join(tmpdir(), 'spec-integ-'));
  const previous = process.env.CDK_OUTDIR;
  process.env.CDK_OUTDIR = outdir;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../integ.export-waiter');
    return readdirSync(outdir)
      .filter((file) => file.endsWith('.template.json'))
      .sort()
      .map((file) => ({
        stackName: file.replace(/\.template\.json$/, ''),
        template: JSON.parse(readFileSync(join(outdir, file), 'utf8')) as CfnTemplate,
      }));
  } finally {
    if (previous === undefined) delete process.env.CDK_OUTDIR;
    else process.env.CDK_OUTDIR = previous;
    rmSync(outdir, { recursive: true, force: true });
  }
}
