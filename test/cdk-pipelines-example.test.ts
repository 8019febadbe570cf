import { Template } from 'aws-cdk-lib/assertions';
import { app, stack } from '../examples/cdk-pipelines/app';
import { GRAPH_EXPORT_RESOURCE_TYPE } from '../src/runtime/constants';

describe('example: cdk-pipelines (a GraphExport inside a CDK Pipelines stage)', () => {
  const assembly = app.synth();

  test('the stage\'s stack exports the graph with a GraphExport and outputs its destination and vertex count', () => {
    const template = Template.fromStack(stack.stage.exportStack);
    template.resourceCountIs(GRAPH_EXPORT_RESOURCE_TYPE, 1);
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(['ExportDestination', 'VerticesWritten']);
    expect(assembly.stacks.map((s) => s.stackName)).toEqual(['ReleasePipeline']);
  });

  test('the pipeline deploys the stage, then verifies the export with the stage\'s outputs', () => {
    const pipeline = Template.fromStack(stack);
    const stages = pipeline.findResources('AWS::CodePipeline::Pipeline');
    const [definition] = Object.values(stages) as Array<{ Properties: { Stages: Array<{ Name: string; Actions: Array<{ Name: string }> }> } }>;
    const analytics = definition.Properties.Stages.find((s) => s.Name === 'Analytics')!;
    expect(analytics.Actions.map((a) => a.Name)).toEqual(expect.arrayContaining(['GraphExport.Prepare', 'GraphExport.Deploy', 'VerifyExport']));
    const projects = Object.values(pipeline.findResources('AWS::CodeBuild::Project')) as Array<{ Properties: { Description: string; Source: { BuildSpec: string } } }>;
    const verify = projects.find((p) => p.Properties.Description.endsWith('/Analytics/VerifyExport'))!;
    expect(JSON.parse(verify.Properties.Source.BuildSpec).phases.build.commands).toContain('test "$VERTICES" -gt 0');
    const verifyAction = JSON.stringify(analytics.Actions.find((a) => a.Name === 'VerifyExport'));
    expect(verifyAction).toContain('VerticesWritten');
  });
});
