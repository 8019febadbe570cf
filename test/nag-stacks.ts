/**
 * The stacks cdk-nag checks, shared by test/nag.test.ts and the reliability report: a default waiter,
 * every option turned on, and GraphExports (default role, cancelOnDelete, tags, long-wait mode).
 */
import { App, Aspects, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ExportDestination, ExportTaskWaiter, GraphExport } from '../src';

const NAG_RULES = Match.stringLikeRegexp('AwsSolutions-.*|Serverless-.*');

export function stackWith(build: (stack: Stack) => void, envAgnostic = false): Stack {
  const app = new App();
  const stack = new Stack(app, 'NagStack', envAgnostic ? {} : { env: { account: '123456789012', region: 'eu-west-1' } });
  build(stack);
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, reports: false }));
  Aspects.of(app).add(new ServerlessChecks({ verbose: true, reports: false }));
  return stack;
}

/** "<path>: <message>" for every unsuppressed finding of the two packs. */
export function findings(stack: Stack, level: 'Error' | 'Warning'): string[] {
  const annotations = Annotations.fromStack(stack);
  const messages = level === 'Error' ? annotations.findError('*', NAG_RULES) : annotations.findWarning('*', NAG_RULES);
  return messages.map((m) => `${m.id}: ${String(m.entry.data).split('\n')[0]}`);
}

export function defaultStack(): Stack {
  return stackWith((stack) => {
    new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789' });
  });
}

export function everyOptionStack(): Stack {
  return stackWith((stack) => {
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`));
    const logGroup = new logs.LogGroup(stack, 'WaiterLogs', { encryptionKey: key, retention: logs.RetentionDays.THREE_MONTHS });
    const options = { logGroup, tracing: true, minPollInterval: Duration.seconds(10), maxPollInterval: Duration.minutes(5) };
    new ExportTaskWaiter(stack, 'First', { taskIdentifier: 't-0123456789', timeout: Duration.minutes(55), ...options });
    new ExportTaskWaiter(stack, 'Second', { taskIdentifier: 't-abcdefghij', timeout: Duration.minutes(10), ...options });
    // A waiter with the default settings next to them: a second, separately suppressed infrastructure.
    new ExportTaskWaiter(stack, 'Third', { taskIdentifier: 't-zyxwvutsrq' });
  });
}

/** GraphExports with the default export role, cancelOnDelete, tags and long-wait mode. */
export function graphExportStack(extra?: (stack: Stack, graphExport: GraphExport) => void): Stack {
  return stackWith((stack) => {
    const key = new kms.Key(stack, 'ExportKey', { enableKeyRotation: true });
    const graphExport = new GraphExport(stack, 'Export', {
      graphId: 'g-0123456789',
      destination: ExportDestination.fromS3Uri('s3://my-exports/graph/daily/'),
      encryptionKey: key,
      cancelOnDelete: true,
      tags: { team: 'graph-analytics' },
      timeout: Duration.hours(6),
    });
    // A bucket of the stack as the destination (a compliant one: the bucket's own findings are the user's).
    const logsBucket = new s3.Bucket(stack, 'AccessLogs', { enforceSSL: true });
    const bucket = new s3.Bucket(stack, 'Exports', { enforceSSL: true, serverAccessLogsBucket: logsBucket, serverAccessLogsPrefix: 'exports/' });
    new GraphExport(stack, 'ToBucket', {
      graphId: 'g-abcdefghij',
      destination: ExportDestination.fromBucket(bucket, 'weekly/'),
      encryptionKey: key,
      tags: { team: 'graph-analytics' },
    });
    extra?.(stack, graphExport);
  });
}
