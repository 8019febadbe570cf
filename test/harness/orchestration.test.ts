/**
 * The model of CloudFormation itself (orchestration.ts): that it refuses what CloudFormation and IAM
 * would refuse, whatever the product does. Each test takes a template synthesized from the
 * constructs and breaks it the way a product bug would (a dependency missing, a statement missing,
 * a ServiceToken changed), or makes another resource fail, and checks what the model reports.
 */
import { CfnResource, Duration, Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import { dependencies, expandSub, reasonOf, statusesOf } from '../../harness/orchestration';
import { Template } from '../../harness/template';
import { TASK_ID, waiterStack } from '../e2e/helpers';
import {
  expectStatus, exportStack, GRAPH_EXPORT_RESOURCE_TYPE, onlyOfType, orchestratedStacksStoppedAfterEach, TEN_MINUTES, TWENTY_MINUTES, UNRELATED,
  WAITER_RESOURCE_TYPE,
} from '../e2e/orchestration-helpers';

const orchestrate = orchestratedStacksStoppedAfterEach();

type Resources = Template['Resources'];

function templateOf(stack: Stack): Template {
  return JSON.parse(JSON.stringify(CdkTemplate.fromStack(stack).toJSON())) as Template;
}

const idsOfType = (resources: Resources, type: string) => Object.keys(resources).filter((id) => resources[id].Type === type);
const loopPolicyOf = (resources: Resources) => idsOfType(resources, 'AWS::IAM::Policy').find((id) => id.includes('WaitLoop'))!;
const handlerPolicyOf = (resources: Resources) => idsOfType(resources, 'AWS::IAM::Policy').find((id) => id.includes('HandlerRole'))!;

/** Removes every statement that grants `action` from a policy of the template. */
function withoutAction(template: Template, policyId: string, action: string): Template {
  const document = template.Resources[policyId].Properties!.PolicyDocument as { Statement: Array<{ Action: string | string[] }> };
  document.Statement = document.Statement
    .map((s) => ({ ...s, Action: ([] as string[]).concat(s.Action).filter((a) => a !== action) }))
    .filter((s) => s.Action.length > 0);
  return template;
}

describe('resources are usable only once created', () => {
  test('a waiter that depends only on the function meets a state machine that does not exist yet', async () => {
    const template = templateOf(waiterStack());
    const waiter = idsOfType(template.Resources, WAITER_RESOURCE_TYPE)[0];
    delete template.Resources[waiter].DependsOn;
    const stack = await orchestrate(template);
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });

    const created = await stack.deploy();

    expectStatus(created, 'ROLLBACK_COMPLETE');
    expect(reasonOf(created, waiter, 'CREATE_FAILED')).toContain('StateMachineDoesNotExist');
    // Created resources are deleted in reverse order; the failed custom resource gets its Delete.
    expect(created.requests.map((r) => `${r.phase} ${r.requestType}`)).toEqual(['forward Create', 'rollback Delete']);
  });
});

describe('IAM statements count once their policy is in effect', () => {
  test('without StartExportTask in the loop policy, the export is refused with the principal and action', async () => {
    const template = templateOf(exportStack());
    withoutAction(template, loopPolicyOf(template.Resources), 'neptune-graph:StartExportTask');
    const stack = await orchestrate(template);
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;

    const created = await stack.deploy();

    expectStatus(created, 'ROLLBACK_COMPLETE');
    const reason = reasonOf(created, onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE), 'CREATE_FAILED');
    expect(reason).toContain('AccessDenied');
    expect(reason).toContain('is not authorized to perform: neptune-graph:StartExportTask on resource: arn:aws:neptune-graph:us-east-1:123456789012:graph/');
    expect(stack.startedTasks()).toEqual([]);
  });

  test('statements added to the loop policy by an update do not count before the policy update completes', async () => {
    const stack = await orchestrate(waiterStack());
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    // With its role outside the stack and no DependsOn, the GraphExport depends only on the function
    // (its ServiceToken), which the loop policy's update does not hold up.
    const next = templateOf(exportStack({ existingRole: true, waiterTaskId: TASK_ID }));
    const exportId = idsOfType(next.Resources, GRAPH_EXPORT_RESOURCE_TYPE)[0];
    delete next.Resources[exportId].DependsOn;

    const updated = await stack.update(next);

    // Refused while the policy update was in progress (the loop retries such a denial, so the
    // export may start later: what it does next is the product's business).
    const policy = loopPolicyOf(next.Resources);
    const policyUpdated = updated.events.find((e) => e.logicalId === policy && e.status === 'UPDATE_COMPLETE')!.at;
    const denials = stack.refusals.filter((r) => r.refusal.error === 'NeptuneGraph.AccessDeniedException');
    expect(denials.length).toBeGreaterThan(0);
    expect(denials[0].refusal.message).toMatch(/is not authorized to perform: (neptune-graph:StartExportTask|iam:PassRole)/);
    // A call at the very instant the update completes may still be refused (virtual time does not
    // order them); none comes after it.
    expect(denials.filter((d) => d.at > policyUpdated).map((d) => `${d.at} ${policyUpdated} ${d.refusal.message}`)).toEqual([]);
  });

  test('PassRole is refused when its condition names another service', async () => {
    const template = templateOf(exportStack());
    const document = template.Resources[loopPolicyOf(template.Resources)].Properties!.PolicyDocument as { Statement: Array<Record<string, unknown>> };
    const passRole = document.Statement.find((s) => s.Action === 'iam:PassRole')!;
    passRole.Condition = { StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } };
    const stack = await orchestrate(template);
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;

    const created = await stack.deploy();

    expect(reasonOf(created, onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE), 'CREATE_FAILED')).toContain('not authorized to perform: iam:PassRole');
  });

  test('the handler\'s own calls are checked too: without ssm:PutParameter the Create cannot start waiting', async () => {
    const template = templateOf(waiterStack());
    withoutAction(template, handlerPolicyOf(template.Resources), 'ssm:PutParameter');
    const stack = await orchestrate(template);
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });

    const created = await stack.deploy();

    expectStatus(created, 'ROLLBACK_COMPLETE');
    expect(reasonOf(created, onlyOfType(stack, WAITER_RESOURCE_TYPE), 'CREATE_FAILED')).toContain('not authorized to perform: ssm:PutParameter');
  });
});

describe('updates', () => {
  test('a changed ServiceToken fails the custom resource without a request, and the update rolls back', async () => {
    const stack = await orchestrate(waiterStack());
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');
    const next = templateOf(waiterStack());
    const [fn] = idsOfType(next.Resources, 'AWS::Lambda::Function');
    next.Resources.OtherHandler = JSON.parse(JSON.stringify(next.Resources[fn]));
    const waiter = idsOfType(next.Resources, WAITER_RESOURCE_TYPE)[0];
    next.Resources[waiter].Properties!.ServiceToken = { 'Fn::GetAtt': ['OtherHandler', 'Arn'] };

    const updated = await stack.update(next);

    expectStatus(updated, 'UPDATE_ROLLBACK_COMPLETE');
    expect(reasonOf(updated, waiter, 'UPDATE_FAILED')).toBe('Modifying service token is not allowed.');
    expect(updated.requests).toEqual([]);
    // The function the update created is deleted in the cleanup after the rollback.
    expect(statusesOf(updated, 'OtherHandler')).toEqual(['CREATE_IN_PROGRESS', 'CREATE_COMPLETE', 'DELETE_IN_PROGRESS', 'DELETE_COMPLETE']);
    expect(stack.resource('OtherHandler')).toBeUndefined();
  });

  test('a rollback sends an Update with the old and new properties swapped, to the physical id the resource has', async () => {
    const withTopic = (label: string, timeout: Duration) => waiterStack({ timeout }, (app) => {
      new CfnResource(app, UNRELATED, { type: 'AWS::SNS::Topic', properties: { DisplayName: label } });
      return {};
    });
    const stack = await orchestrate(withTopic('a', Duration.minutes(30)));
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    expectStatus(await stack.deploy(), 'CREATE_COMPLETE');

    const updated = await stack.update(withTopic('b', Duration.minutes(40)), {
      failures: [{ logicalId: UNRELATED, action: 'Update', afterSeconds: 60, reason: 'Topic quota exceeded' }],
    });

    expectStatus(updated, 'UPDATE_ROLLBACK_COMPLETE');
    expect(reasonOf(updated, UNRELATED, 'UPDATE_FAILED')).toBe('Topic quota exceeded');
    const [forward, rollback] = updated.requests;
    expect([forward.phase, rollback.phase]).toEqual(['forward', 'rollback']);
    expect(forward.event.ResourceProperties.TimeoutSeconds).toBe('2400');
    expect(rollback.event.ResourceProperties).toEqual(forward.event.OldResourceProperties);
    expect(rollback.event.OldResourceProperties).toEqual(forward.event.ResourceProperties);
    expect(rollback.event.PhysicalResourceId).toBe(TASK_ID);
    expect(stack.resource(onlyOfType(stack, WAITER_RESOURCE_TYPE))?.resolved.TimeoutSeconds).toBeUndefined();
  });
});

describe('a Create still waiting when the stack rolls back', () => {
  test('is cancelled, then deleted with a physical id CloudFormation made up', async () => {
    const stack = await orchestrate(exportStack({ unrelated: true }));
    stack.deployment.emulator.startDefaults = TWENTY_MINUTES;

    const created = await stack.deploy({ failures: [{ logicalId: UNRELATED, action: 'Create', afterSeconds: 120 }] });

    const exportId = onlyOfType(stack, GRAPH_EXPORT_RESOURCE_TYPE);
    expect(statusesOf(created, exportId)).toEqual(['CREATE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_IN_PROGRESS', 'DELETE_COMPLETE']);
    expect(reasonOf(created, exportId, 'CREATE_FAILED')).toBe('Resource creation cancelled');
    expect(reasonOf(created, stack.stackName, 'ROLLBACK_IN_PROGRESS')).toBe(`The following resource(s) failed to create: [${UNRELATED}]. Rollback requested by user.`);
    const remove = created.requests.find((r) => r.requestType === 'Delete')!;
    expect(remove.event.PhysicalResourceId).toMatch(new RegExp(`^${stack.stackName}-${exportId}-[A-Z0-9]{12}$`));
  });
});

describe('WaitConditions', () => {
  test('time out when no signal arrives', async () => {
    const stack = await orchestrate(waiterStack({ timeout: Duration.hours(1) }));
    stack.deployment.emulator.addTask({ ...TEN_MINUTES, taskId: TASK_ID });
    stack.deployment.cloudFormation.fault({ kind: 'status5xx', handleLogicalId: stack.logicalIdsOfType('AWS::CloudFormation::WaitConditionHandle')[0] });

    const created = await stack.deploy();

    expectStatus(created, 'ROLLBACK_COMPLETE');
    const [condition] = stack.logicalIdsOfType('AWS::CloudFormation::WaitCondition');
    expect(reasonOf(created, condition, 'CREATE_FAILED')).toBe('WaitCondition timed out. Received 0 conditions when expecting 1');
    const failedAt = created.events.find((e) => e.logicalId === condition && e.status === 'CREATE_FAILED')!.at;
    const startedAt = created.events.find((e) => e.logicalId === condition && e.status === 'CREATE_IN_PROGRESS')!.at;
    expect(failedAt - startedAt).toBe(3900);
  });
});

describe('templates', () => {
  test('dependencies come from DependsOn, Ref, Fn::GetAtt and Fn::Sub', () => {
    const template: Template = {
      Resources: {
        A: { Type: 'AWS::SNS::Topic' },
        B: { Type: 'AWS::SNS::Topic', DependsOn: 'A' },
        C: { Type: 'AWS::SQS::Queue', Properties: { Name: { 'Fn::Sub': '${B.TopicName}-${AWS::Region}-${!Literal}' } } },
        D: { Type: 'AWS::SQS::Queue', Properties: { Tags: [{ Value: { Ref: 'C' } }, { Value: { 'Fn::GetAtt': ['A', 'Arn'] } }] } },
      },
    };
    const deps = dependencies(template);
    expect(Object.fromEntries([...deps].map(([id, set]) => [id, [...set].sort()]))).toEqual({ A: [], B: ['A'], C: ['B'], D: ['A', 'C'] });
    expect(expandSub({ 'Fn::Sub': '${B.TopicName}-${AWS::Region}-${!Literal}' })).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': ['B', 'TopicName'] }, '-', { Ref: 'AWS::Region' }, '-', '${Literal}']],
    });
  });
});
