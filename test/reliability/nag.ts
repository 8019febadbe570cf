/**
 * cdk-nag figures for the report: AwsSolutions and Serverless checks on a stack with one default
 * waiter and on one with every option turned on, counted the way test/nag.test.ts counts them
 * (unsuppressed errors and warnings of the two packs).
 */
import { App, Aspects, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ExportTaskWaiter } from '../../src';

const NAG_RULES = Match.stringLikeRegexp('AwsSolutions-.*|Serverless-.*');

export interface NagFigures {
  readonly stack: string;
  readonly errors: string[];
  readonly warnings: string[];
}

function stackWith(build: (stack: Stack) => void): Stack {
  const app = new App();
  const stack = new Stack(app, 'NagStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  build(stack);
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, reports: false }));
  Aspects.of(app).add(new ServerlessChecks({ verbose: true, reports: false }));
  return stack;
}

function findings(stack: Stack): { errors: string[]; warnings: string[] } {
  const annotations = Annotations.fromStack(stack);
  const text = (m: { id: string; entry: { data?: unknown } }) => `${m.id}: ${String(m.entry.data).split('\n')[0]}`;
  return {
    errors: annotations.findError('*', NAG_RULES).map(text),
    warnings: annotations.findWarning('*', NAG_RULES).map(text),
  };
}

export function nagFigures(): NagFigures[] {
  const defaultStack = stackWith((stack) => {
    new ExportTaskWaiter(stack, 'Waiter', { taskIdentifier: 't-0123456789' });
  });
  const everyOption = stackWith((stack) => {
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`));
    const logGroup = new logs.LogGroup(stack, 'WaiterLogs', { encryptionKey: key, retention: logs.RetentionDays.THREE_MONTHS });
    const options = { logGroup, tracing: true, minPollInterval: Duration.seconds(10), maxPollInterval: Duration.minutes(5) };
    new ExportTaskWaiter(stack, 'First', { taskIdentifier: 't-0123456789', timeout: Duration.minutes(55), ...options });
    new ExportTaskWaiter(stack, 'Second', { taskIdentifier: 't-abcdefghij', timeout: Duration.minutes(10), ...options });
    new ExportTaskWaiter(stack, 'Third', { taskIdentifier: 't-zyxwvutsrq' });
  });
  return [
    { stack: 'one default waiter', ...findings(defaultStack) },
    { stack: 'every option turned on', ...findings(everyOption) },
  ];
}
