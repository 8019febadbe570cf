#!/usr/bin/env node
/**
 * cdk synth:  npx cdk synth --app "npx ts-node --transpile-only examples/cdk-pipelines/app.ts" \
 *               -c repository=owner/repo -c connectionArn=arn:aws:codestar-connections:... -c graphId=g-...
 * cdk deploy: the same with deploy ReleasePipeline (once; the pipeline then deploys itself on each push)
 */
import { App } from 'aws-cdk-lib';
import { ReleasePipelineStack } from './stack';

/** Used when no context is given, so that the example synthesizes as it is. */
export const PLACEHOLDERS = {
  repository: 'example-org/graph-analytics',
  // A codestar-connections ARN: aws-cdk-lib 2.189 grants codestar-connections:UseConnection on the ARN given,
  // which IAM matches only in that (older) form.
  connectionArn: 'arn:aws:codestar-connections:us-east-1:123456789012:connection/00000000-0000-0000-0000-000000000000',
  graphId: 'g-0123456789',
};

export const app = new App();
const context = (key: keyof typeof PLACEHOLDERS) => String(app.node.tryGetContext(key) ?? PLACEHOLDERS[key]);
export const stack = new ReleasePipelineStack(app, 'ReleasePipeline', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT ?? '123456789012', region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
  repository: context('repository'),
  connectionArn: context('connectionArn'),
  graphId: context('graphId'),
});
app.synth();
