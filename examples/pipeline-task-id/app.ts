#!/usr/bin/env node
/**
 * cdk synth:  npx cdk synth --app "npx ts-node --transpile-only examples/pipeline-task-id/app.ts"
 * cdk deploy: the same with deploy ExportTaskWait --parameters ExportTaskId=t-xxxxxxxxxx
 */
import { App } from 'aws-cdk-lib';
import { ExportTaskWaitStack } from './stack';

export const app = new App();
export const stack = new ExportTaskWaitStack(app, 'ExportTaskWait', {
  description: 'Waits for a Neptune Analytics export that a pipeline step started',
});
app.synth();
