import { evaluateSelectSplit, plausibleResourceValues, resolve } from '../../harness/template';

const PSEUDO = { partition: 'aws', region: 'us-east-1', account: '123456789012' };

describe('evaluateSelectSplit', () => {
  const data = '{"t-abcdefghij":"|PARQUET|s3://b/p/|42|"}';
  const expression = (index: unknown, separator = '|', getAtt: unknown = ['ExportEnded1234', 'Data']) =>
    ({ 'Fn::Select': [index, { 'Fn::Split': [separator, { 'Fn::GetAtt': getAtt }] }] });
  const getAtt = (logicalId: string, attribute: string) => {
    expect([logicalId, attribute]).toEqual(['ExportEnded1234', 'Data']);
    return data;
  };

  test('splits the attribute and selects the element, as CloudFormation does', () => {
    expect(evaluateSelectSplit(expression(0), getAtt)).toBe('{"t-abcdefghij":"');
    expect(evaluateSelectSplit(expression(1), getAtt)).toBe('PARQUET');
    expect(evaluateSelectSplit(expression(2), getAtt)).toBe('s3://b/p/');
    expect(evaluateSelectSplit(expression('3'), getAtt)).toBe('42');
    expect(evaluateSelectSplit(expression(4), getAtt)).toBe('"}');
  });

  test('refuses any other shape, and an index out of range', () => {
    expect(() => evaluateSelectSplit(expression(5), getAtt)).toThrow(/out of range/);
    expect(() => evaluateSelectSplit(expression(-1), getAtt)).toThrow(/index/);
    expect(() => evaluateSelectSplit({ 'Fn::GetAtt': ['A', 'Data'] }, getAtt)).toThrow(/Fn::Select/);
    expect(() => evaluateSelectSplit({ 'Fn::Select': [1, ['a', 'b']] }, getAtt)).toThrow(/Fn::Split/);
    expect(() => evaluateSelectSplit({ 'Fn::Select': [1, { 'Fn::Split': ['|', { Ref: 'X' }] }] }, getAtt)).toThrow(/Fn::GetAtt/);
  });
});

describe('plausibleResourceValues', () => {
  const template = {
    Parameters: { GraphId: { Type: 'String', Default: 'g-0123456789' }, NoDefault: { Type: 'String' } },
    Resources: {
      ExportRole1234: { Type: 'AWS::IAM::Role' },
      NamedRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'my-role' } },
      ExportKey1234: { Type: 'AWS::KMS::Key' },
      ExportBucket1234: { Type: 'AWS::S3::Bucket' },
      Graph1234: { Type: 'AWS::NeptuneGraph::Graph' },
    },
  };
  const values = plausibleResourceValues(template, PSEUDO);

  test('values pass the patterns the service (and the emulator) check', () => {
    expect(values.ExportRole1234.attributes!.Arn).toMatch(/^arn:aws[^:]*:iam::\d{12}:(role|role\/service-role)(\/[\w+=,.@-]+)+$/);
    expect(values.NamedRole.attributes!.Arn).toBe('arn:aws:iam::123456789012:role/my-role');
    expect(values.ExportKey1234.attributes!.Arn).toMatch(/^arn:aws[^:]*:kms:[a-zA-Z0-9-]*:[0-9]{12}:key\/[a-zA-Z0-9-]{36}$/);
    expect(values.ExportBucket1234.ref).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    expect(values.Graph1234.attributes!.GraphId).toMatch(/^g-[a-z0-9]{10}$/);
    expect(values.GraphId.ref).toBe('g-0123456789');
    expect(values.NoDefault).toBeUndefined();
  });

  test('are stable, and resolve through Ref and Fn::GetAtt', () => {
    expect(plausibleResourceValues(template, PSEUDO)).toEqual(values);
    const refs = Object.fromEntries(Object.entries(values).map(([id, v]) => [id, v.ref!]));
    const attributes = Object.fromEntries(Object.entries(values).map(([id, v]) => [id, v.attributes ?? {}]));
    const uri = resolve({ 'Fn::Join': ['', ['s3://', { Ref: 'ExportBucket1234' }, '/exports/']] }, { ...PSEUDO, arns: {}, refs, attributes });
    expect(uri).toBe(`s3://${values.ExportBucket1234.ref}/exports/`);
    expect(resolve({ 'Fn::GetAtt': ['Graph1234', 'GraphId'] }, { ...PSEUDO, arns: {}, refs, attributes })).toBe(values.Graph1234.attributes!.GraphId);
    expect(() => resolve({ 'Fn::GetAtt': ['Graph1234', 'Nope'] }, { ...PSEUDO, arns: {}, refs, attributes })).toThrow(/Cannot resolve/);
    expect(() => resolve({ Ref: 'NoDefault' }, { ...PSEUDO, arns: {}, refs, attributes })).toThrow(/Cannot resolve Ref NoDefault/);
  });
});
