#!/usr/bin/env node
/**
 * cdk synth:  npx cdk synth --app "npx ts-node --transpile-only examples/export-pipeline/app.ts"
 * cdk deploy: the same with deploy --all --parameters ExportPipeline:GraphId=g-xxxxxxxxxx
 *             (or -c graphId=g-xxxxxxxxxx to change the parameter's default)
 */
import { App } from 'aws-cdk-lib';
import { DEFAULT_DESTINATION_PARAMETER, ExportConsumerStack, ExportPipelineStack } from './stack';

export const app = new App();
export const pipeline = new ExportPipelineStack(app, 'ExportPipeline', {
  description: 'Exports a Neptune Analytics graph to S3 and waits for the export to end',
});
export const consumer = new ExportConsumerStack(app, 'ExportConsumer', {
  description: 'Reads the latest Neptune Analytics export',
  destinationParameterName: DEFAULT_DESTINATION_PARAMETER,
  exported: pipeline.graphExport,
});
app.synth();
