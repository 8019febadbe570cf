#!/usr/bin/env node
/**
 * cdk synth:  npx cdk synth --app "npx ts-node --transpile-only examples/aws-custom-resource-export/app.ts"
 * cdk deploy: the same with deploy StartedExport --parameters GraphId=g-xxxxxxxxxx
 */
import { App } from 'aws-cdk-lib';
import { StartedExportStack } from './stack';

export const app = new App();
export const stack = new StartedExportStack(app, 'StartedExport', {
  description: 'Starts a Neptune Analytics export with an AwsCustomResource and waits for it',
});
app.synth();
