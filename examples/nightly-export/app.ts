#!/usr/bin/env node
/**
 * cdk synth:  npx cdk synth --app "npx ts-node --transpile-only examples/nightly-export/app.ts"
 * cdk deploy: the same with deploy NightlyGraphExport --parameters GraphId=g-xxxxxxxxxx
 * Run locally (virtual time, Neptune Analytics emulated): npx jest test/e2e/wait-for-export-task.test.ts
 */
import { App } from 'aws-cdk-lib';
import { NightlyExportStack } from './stack';

export const app = new App();
export const stack = new NightlyExportStack(app, 'NightlyGraphExport', {
  description: 'Exports a Neptune Analytics graph to S3 every night, then announces it',
});
app.synth();
