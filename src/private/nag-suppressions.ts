/**
 * Every cdk-nag finding this library's resources have on purpose, with its reason, in one place.
 * They are written where cdk-nag reads them (the `cdk_nag` metadata of each CloudFormation resource,
 * the format NagSuppressions writes), so cdk-nag itself is not a dependency. IAM5 suppressions name
 * the exact finding they cover (`applies_to`), so a wildcard added later is still reported.
 */
import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';

interface NagSuppression {
  readonly id: string;
  readonly reason: string;
  readonly applies_to?: Array<string | { regex: string }>;
}

const PARTITION = '(<AWS::Partition>|aws[a-z-]*)';
const REGION = '(<AWS::Region>|[a-z0-9-]+)';
const ACCOUNT = '(<AWS::AccountId>|\\d{12})';
/** The export tasks of the stack's account and region: `arn:...:neptune-graph:<region>:<account>:export-task/*`. */
const EXPORT_TASKS = { regex: `/^Resource::arn:<AWS::Partition>:neptune-graph:${REGION}:${ACCOUNT}:export-task\\/\\*$/` };

const XRAY = 'X-Ray tracing (on by default, `tracing: false` removes it) adds xray:PutTraceSegments and xray:PutTelemetryRecords'
  + ' (and, for Step Functions, xray:GetSamplingRules and xray:GetSamplingTargets), which support no resource-level permissions.';

/** The shared handler's function and role. */
export function explainHandlerFindings(handler: lambda.Function, role: iam.IRole, tracing: boolean, userLogGroup?: logs.ILogGroup): void {
  suppress(handler.node.defaultChild as CfnResource, [{
    id: 'Serverless-LambdaDLQ',
    reason: 'The handler never throws on a CloudFormation event: it answers every request itself (FAILED on any error, and before'
      + ' the Lambda timeout), so a dead-letter queue of the asynchronous invocation would stay empty, and nothing could answer'
      + ' CloudFormation from it. The wait loop invokes the handler synchronously and retries it (a DLQ does not apply there).',
  }, ...['AwsSolutions-L1', 'Serverless-LambdaLatestVersion'].map((id) => ({
    id,
    reason: 'The handler is bundled for and tested on Node.js 22 (esbuild target node22) and pinned to it on purpose; a newer'
      + ' runtime is adopted by a release of this library that builds and tests for it, not picked up unannounced.',
  }))]);

  suppress(defaultPolicyOf(role), [
    {
      id: 'AwsSolutions-IAM5',
      reason: 'The handler keeps each waiting request\'s ResponseURL (a secret) and each answer\'s results in Parameter Store'
        + ' under one path of its own, named per request and per resource at deploy time: ssm:PutParameter, GetParameter and'
        + ' DeleteParameter are granted on that path only.',
      applies_to: [{ regex: `/^Resource::arn:<AWS::Partition>:ssm:${REGION}:${ACCOUNT}:parameter\\/cdk-neptune-graph-export\\/[A-Za-z0-9-]+\\/\\*$/` }],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason: 'A Delete of a Create that CloudFormation cancelled stops the execution that still waits for it, and a redelivered'
        + ' request asks whether its execution still runs; execution names are only known at deploy time, so'
        + ' states:StopExecution and states:DescribeExecution are granted on the executions of this one state machine.',
      applies_to: [{ regex: `/^Resource::arn:<AWS::Partition>:states:${REGION}:${ACCOUNT}:execution:[A-Za-z0-9-]+:\\*$/` }],
    },
    ...(tracing ? [{ id: 'AwsSolutions-IAM5', reason: XRAY, applies_to: ['Resource::*'] }] : []),
  ]);
  if (userLogGroup && !Token.isUnresolved(userLogGroup.logGroupName)) {
    // An imported log group's ARN is `...:log-group:<name>:*` in the template: its log streams.
    suppress(defaultPolicyOf(role), [{
      id: 'AwsSolutions-IAM5',
      reason: 'logs:CreateLogStream and logs:PutLogEvents act on the log streams of the log group given in `logGroup`;'
        + ' `<log group ARN>:*` is how CloudWatch Logs names the streams of that one group.',
      applies_to: [{ regex: `/^Resource::arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${escapeRegex(userLogGroup.logGroupName)}:\\*$/` }],
    }]);
  }
}

/** The wait loop's role. */
export function explainLoopFindings(role: iam.IRole, handler: lambda.IFunction, tracing: boolean): void {
  const handlerId = Stack.of(role).getLogicalId(handler.node.defaultChild as CfnResource);
  suppress(defaultPolicyOf(role), [
    {
      id: 'AwsSolutions-IAM5',
      reason: 'One state machine serves every waiter of the stack and learns each task id at deploy time from the custom'
        + ' resource, so the read-only neptune-graph:GetExportTask is granted on the export tasks of this account and region only.',
      applies_to: [EXPORT_TASKS],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason: 'The CDK LambdaInvoke task grants lambda:InvokeFunction on the handler and its versions and aliases (<arn>:*);'
        + ' the loop only invokes the handler of this same construct, so the wildcard covers nothing else.',
      applies_to: [`Resource::<${handlerId}.Arn>:*`],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason: 'Step Functions logging to CloudWatch Logs needs the log delivery actions (logs:CreateLogDelivery,'
        + ' logs:GetLogDelivery, logs:UpdateLogDelivery, logs:DeleteLogDelivery, logs:ListLogDeliveries, logs:PutResourcePolicy,'
        + ` logs:DescribeResourcePolicies, logs:DescribeLogGroups), which support only Resource "*".${tracing ? ` ${XRAY}` : ''}`,
      applies_to: ['Resource::*'],
    },
  ]);
}

/** The loop's grant to start exports (GraphExport). */
export function explainStartExportFindings(loopRole: iam.IRole): void {
  suppress(defaultPolicyOf(loopRole), [{
    id: 'AwsSolutions-IAM5',
    reason: 'GraphExport: the loop starts the export, and StartExportTask authorizes the export task it creates, whose id'
      + ' does not exist before the call, so it is granted on the export tasks of this account and region only; the graph'
      + ' is named exactly. The loop cancels an export it started when its wait times out (cancelOnDelete).',
    applies_to: [EXPORT_TASKS],
  }]);
}

/** The handler's grant to cancel exports (GraphExport with cancelOnDelete). */
export function explainCancelExportFindings(handlerRole: iam.IRole): void {
  suppress(defaultPolicyOf(handlerRole), [{
    id: 'AwsSolutions-IAM5',
    reason: 'GraphExport with cancelOnDelete: the handler cancels the export its resource started, whose id is only known at'
      + ' deploy time, so CancelExportTask, GetExportTask and ListExportTasks are granted on the export tasks of this account'
      + ' and region only.',
    applies_to: [EXPORT_TASKS],
  }]);
}

/**
 * The default export role of a GraphExport: its only finding is the object wildcard under the
 * destination prefix, inherent to an export. Suppressed for exactly that resource when the bucket is
 * known at synth time (a literal name, or a bucket of this stack); otherwise cdk-nag still reports it.
 */
export function explainExportRoleFindings(role: iam.Role, bucketName: string | undefined, bucket: s3.IBucket | undefined, prefix: string): void {
  if (Token.isUnresolved(prefix)) return;
  let bucketPattern: string | undefined;
  const cfnBucket = bucket?.node.defaultChild;
  if (bucketName !== undefined && !Token.isUnresolved(bucketName)) {
    bucketPattern = `arn:${PARTITION}:s3:::${escapeRegex(bucketName)}`;
  } else if (cfnBucket instanceof CfnResource && Stack.of(cfnBucket) === Stack.of(role)) {
    bucketPattern = `<${escapeRegex(Stack.of(role).getLogicalId(cfnBucket))}\\.Arn>`;
  }
  if (bucketPattern === undefined) return;
  suppress(defaultPolicyOf(role), [{
    id: 'AwsSolutions-IAM5',
    reason: 'The default export role writes the export: Neptune Analytics names the exported files itself (several per label),'
      + ' so s3:PutObject, s3:GetObject and s3:AbortMultipartUpload are granted on the objects under the destination prefix of'
      + ' the destination bucket only (and s3:ListBucket only for that prefix, by condition).',
    applies_to: [{ regex: `/^Resource::${bucketPattern}\\/${escapeRegex(prefix)}\\*$/` }],
  }]);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function suppress(resource: CfnResource | undefined, rules: NagSuppression[]): void {
  if (!resource) return;
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: NagSuppression[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, ...rules] });
}

/** The CloudFormation policy the CDK creates for statements added to a role. */
function defaultPolicyOf(role: iam.IRole): CfnResource | undefined {
  return role.node.tryFindChild('DefaultPolicy')?.node.defaultChild as CfnResource | undefined;
}

/** The shared handler's role when the function runs in a VPC (`vpc`). */
export function explainHandlerVpcFindings(role: iam.IRole): void {
  suppress(role.node.defaultChild as CfnResource, [{
    id: 'AwsSolutions-IAM4',
    reason: 'A function in a VPC needs ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DeleteNetworkInterface and the'
      + ' like, which Lambda calls on resource "*"; AWSLambdaVPCAccessExecutionRole is the policy AWS maintains for exactly these'
      + ' and is attached only when `vpc` is set.',
    applies_to: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
  }]);
}
