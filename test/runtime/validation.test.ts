/**
 * src/runtime/validation.ts: the checks the constructs run at synth time (on literal values) and the
 * handler at deploy time (on what tokens resolved to). Each accepts its boundary values and refuses
 * the values just past them with a message that names the property and shows the value.
 */
import { Token } from 'aws-cdk-lib';
import { Limits, MAX_EXPORT_FILTER_BYTES, MAX_LONG_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS } from '../../src/runtime/constants';
import {
  checkDestination, checkExportFilter, checkFormat, checkGraphIdentifier, checkKmsKeyArn, checkPollInterval, checkPollRange, checkRoleArn,
  checkTags, checkTaskIdentifier, checkTimeout, FilterKeys, parseSeconds, show,
} from '../../src/runtime/validation';
import { forEachSeed } from '../lambda/seeded';

/** How a message shows a short value: as JSON. */
const shown = (value: unknown) => JSON.stringify(value) ?? String(value);

function expectRefused(problem: string | undefined, name: string, value: unknown): void {
  expect(problem).toBeDefined();
  expect(problem!.startsWith(name)).toBe(true);
  expect(problem).toContain(`got ${shown(value)}`);
}

const KEY_ID = '0123abcd-4567-89ef-0123-456789abcdef';

describe('show', () => {
  test('shows values as JSON, so a string reads quoted and a number bare', () => {
    expect(show('t-1')).toBe('"t-1"');
    expect(show(42)).toBe('42');
    expect(show(null)).toBe('null');
    expect(show({ a: [1] })).toBe('{"a":[1]}');
  });

  test('shows what JSON cannot hold as text', () => {
    expect(show(undefined)).toBe('undefined');
    expect(show(10n)).toBe('10');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(show(circular)).toBe('[object Object]');
  });

  test('cuts values longer than 120 characters to 117 and an ellipsis', () => {
    expect(show('x'.repeat(118))).toHaveLength(120);
    const long = show('x'.repeat(119));
    expect(long).toHaveLength(120);
    expect(long.endsWith('xxx...')).toBe(true);
  });
});

describe('checkTaskIdentifier', () => {
  test.each(['t-0123456789', 't-abcdefghij', 't-zzzzzzzzzz'])('accepts %s', (value) => {
    expect(checkTaskIdentifier('TaskIdentifier', value)).toBeUndefined();
  });

  test.each([
    ['9 characters after t-', 't-012345678'],
    ['11 characters after t-', 't-01234567890'],
    ['an upper-case prefix', 'T-0123456789'],
    ['an upper-case letter', 't-012345678A'],
    ['another prefix', 'g-0123456789'],
    ['surrounding space', ' t-0123456789'],
    ['a number', 123],
    ['nothing', undefined],
  ])('fails for %s, naming the property and showing the value', (_what, value) => {
    const problem = checkTaskIdentifier('TaskIdentifier', value);
    expectRefused(problem, 'TaskIdentifier', value);
    expect(problem).toContain('for example t-0123456789');
  });

  test('property: accepts exactly "t-" and 10 lower-case letters or digits', async () => {
    const alphabet = 'abcz09tT-_ ';
    await forEachSeed('task id shape', 300, 100, (random) => {
      const value = random.string(alphabet, random.int(3) === 0 ? 2 : 0) + random.pick(['t-', 'T-', '']) + random.string(alphabet, 9 + random.int(3));
      const valid = value.length === 12 && value.startsWith('t-') && /^[a-z0-9]*$/.test(value.slice(2));
      expect(checkTaskIdentifier('TaskIdentifier', value) === undefined).toBe(valid);
    });
  });
});

describe('parseSeconds', () => {
  test.each([
    [0, 0], [60, 60], ['60', 60], ['0060', 60], ['999999999', 999_999_999], [-1, -1],
  ])('reads %j as %i', (value, seconds) => {
    expect(parseSeconds(value)).toBe(seconds);
  });

  test.each([1.5, '1.5', '1e3', ' 60', '60 ', '', '-1', '1000000000', NaN, Infinity, null, undefined, true, [60]])('does not read %j', (value) => {
    expect(parseSeconds(value)).toBeUndefined();
  });
});

describe('checkTimeout', () => {
  test.each([Limits.MIN_TIMEOUT, MAX_TIMEOUT_SECONDS, String(MAX_TIMEOUT_SECONDS)])('accepts %j for a custom resource', (value) => {
    expect(checkTimeout('TimeoutSeconds', value, false)).toBeUndefined();
  });

  test('a custom resource waits 55 minutes at most: CloudFormation waits an hour and the waiter keeps 5 minutes to answer', () => {
    expect(MAX_TIMEOUT_SECONDS).toBe(3300);
  });

  test.each([Limits.MIN_TIMEOUT - 1, MAX_TIMEOUT_SECONDS + 1, '3301', '59', 1800.5, 'abc', -1])('fails for %j without a WaitCondition, saying why', (value) => {
    const problem = checkTimeout('TimeoutSeconds', value, false);
    expectRefused(problem, 'TimeoutSeconds', value);
    expect(problem).toContain('from 60 to 3300');
    expect(problem).toContain('CloudFormation waits at most 3600 s');
  });

  test.each([Limits.MIN_TIMEOUT, MAX_TIMEOUT_SECONDS + 1, MAX_LONG_TIMEOUT_SECONDS])('accepts %i with a WaitCondition', (value) => {
    expect(checkTimeout('timeout', value, true)).toBeUndefined();
  });

  test.each([Limits.MIN_TIMEOUT - 1, MAX_LONG_TIMEOUT_SECONDS + 1])('fails for %i with a WaitCondition, saying why', (value) => {
    const problem = checkTimeout('timeout', value, true);
    expectRefused(problem, 'timeout', value);
    expect(problem).toContain(`from 60 to ${12 * 3600 - 300}`);
    expect(problem).toContain('a WaitCondition waits at most 12 hours');
  });
});

describe('checkPollInterval and checkPollRange', () => {
  test.each([1, 3600, '1', '3600'])('accepts %j', (value) => {
    expect(checkPollInterval('MinPollIntervalSeconds', value)).toBeUndefined();
  });

  test.each([0, 3601, '0', '7200', 2.5, 'x'])('fails for %j', (value) => {
    const problem = checkPollInterval('MaxPollIntervalSeconds', value);
    expectRefused(problem, 'MaxPollIntervalSeconds', value);
    expect(problem).toContain('from 1 to 3600');
  });

  test('accepts a minimum equal to the maximum, and fails for one a second above it, naming both', () => {
    expect(checkPollRange('minPollInterval', 60, 'maxPollInterval', 60)).toBeUndefined();
    expect(checkPollRange('minPollInterval', 61, 'maxPollInterval', 60)).toBe('minPollInterval (61 s) must not exceed maxPollInterval (60 s)');
  });

  test('property: accepts exactly the whole numbers of seconds in range, as numbers or decimal strings', async () => {
    await forEachSeed('poll interval range', 300, 200, (random) => {
      const seconds = random.int(4000) - 200 + (random.chance(0.1) ? 0.5 : 0);
      const value = random.chance(0.5) ? seconds : String(seconds);
      const valid = Number.isInteger(seconds) && seconds >= 1 && seconds <= 3600;
      expect(checkPollInterval('interval', value) === undefined).toBe(valid);
    });
  });
});

describe('identifiers and ARNs', () => {
  test.each(['g-0123456789', 'g-abcdefghij'])('checkGraphIdentifier accepts %s', (value) => {
    expect(checkGraphIdentifier('GraphIdentifier', value)).toBeUndefined();
  });

  test.each(['g-012345678', 'g-01234567890', 'G-0123456789', 't-0123456789', 42])('checkGraphIdentifier fails for %j', (value) => {
    expectRefused(checkGraphIdentifier('Export.GraphIdentifier', value), 'Export.GraphIdentifier', value);
  });

  test.each([
    'arn:aws:iam::123456789012:role/NeptuneExport',
    'arn:aws-us-gov:iam::123456789012:role/service-role/Export+Role=,.@-_',
    'arn:aws-cn:iam::123456789012:role/path/to/Role',
  ])('checkRoleArn accepts %s', (value) => {
    expect(checkRoleArn('roleArn', value)).toBeUndefined();
  });

  test.each([
    'arn:aws:iam::12345678901:role/Short',
    'arn:aws:iam::1234567890123:role/Long',
    'arn:aws:iam::123456789012:user/Someone',
    'arn:aws:iam::123456789012:role',
    'arn:aws:iam::123456789012:role/',
    'arn:aws:iam::123456789012:role/with space',
    'NeptuneExport',
  ])('checkRoleArn fails for %s', (value) => {
    const problem = checkRoleArn('roleArn', value);
    expectRefused(problem, 'roleArn', value);
    expect(problem).toContain('an IAM role ARN');
  });

  test.each([
    `arn:aws:kms:us-east-1:123456789012:key/${KEY_ID}`,
    `arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/${KEY_ID.toUpperCase()}`,
  ])('checkKmsKeyArn accepts %s', (value) => {
    expect(checkKmsKeyArn('kmsKeyIdentifier', value)).toBeUndefined();
  });

  test.each([
    `arn:aws:kms:us-east-1:123456789012:key/${KEY_ID.slice(1)}`,
    `arn:aws:kms:us-east-1:123456789012:key/${KEY_ID}0`,
    'arn:aws:kms:us-east-1:123456789012:alias/my-key',
    KEY_ID,
  ])('checkKmsKeyArn fails for %s: a key ARN with a 36-character key id', (value) => {
    expectRefused(checkKmsKeyArn('kmsKeyIdentifier', value), 'kmsKeyIdentifier', value);
  });
});

describe('checkDestination', () => {
  const uriOfLength = (length: number) => `s3://bucket/${'p'.repeat(length - 's3://bucket/'.length)}`;

  test.each([
    ['the shortest bucket name', 's3://abc'],
    ['the longest bucket name', `s3://${'a'.repeat(63)}`],
    ['a prefix', 's3://my-bucket.example/exports/'],
    ['1024 characters', uriOfLength(1024)],
  ])('accepts %s', (_what, value) => {
    expect(checkDestination('destination', value)).toBeUndefined();
  });

  test.each([
    ['a bucket name of 2 characters', 's3://ab'],
    ['a bucket name of 64 characters', `s3://${'a'.repeat(64)}`],
    ['an upper-case bucket name', 's3://MyBucket/'],
    ['a bucket name ending in a dot', 's3://bucket./x'],
    ['another scheme', 'https://bucket/x'],
    ['an upper-case scheme', 'S3://bucket/x'],
    ['a number', 5],
  ])('fails for %s', (_what, value) => {
    expectRefused(checkDestination('destination', value), 'destination', value);
  });

  test('fails for 1025 characters, showing the start of the value', () => {
    const value = uriOfLength(1025);
    const problem = checkDestination('destination', value);
    expect(problem).toMatch(/^destination must be an S3 URI .* of at most 1024 characters, got "s3:\/\/bucket\/p+\.\.\.$/);
  });
});

describe('checkFormat', () => {
  // Shape, not membership: a value from ExportFormat.of() may be one the service learned since.
  test.each([['PARQUET', undefined], ['CSV', undefined], ['PARQUET', 'COLUMNAR'], ['JSON', undefined], ['PARQUET', 'ROW_GROUPED']])('accepts %s with parquet type %j', (format, parquetType) => {
    expect(checkFormat('Format', format, 'ParquetType', parquetType)).toBeUndefined();
  });

  test.each(['parquet', 'JSON-LD', '1CSV', '', 'X'.repeat(65), undefined])('fails for the format %j, which is not shaped like one', (format) => {
    const problem = checkFormat('Format', format, 'ParquetType', undefined);
    expectRefused(problem, 'Format', format);
    expect(problem).toContain('PARQUET or CSV');
  });

  test('fails for a parquet type with CSV, naming both properties', () => {
    expect(checkFormat('Format', 'CSV', 'ParquetType', 'COLUMNAR'))
      .toBe('ParquetType applies to PARQUET exports only, got "COLUMNAR" with Format "CSV"');
  });

  test('fails for a parquet type not shaped like one', () => {
    expectRefused(checkFormat('Format', 'PARQUET', 'ParquetType', 'columnar'), 'ParquetType', 'columnar');
  });
});

describe('checkExportFilter', () => {
  const filter = (properties: Record<string, unknown>, label = 'person') => ({ VertexFilter: { [label]: { Properties: properties } } });

  /** A valid filter whose JSON is exactly `bytes` bytes long. */
  function filterOfBytes(bytes: number): Record<string, unknown> {
    const withSource = (length: number) => filter({ name: { SourcePropertyName: 's'.repeat(length) } });
    return withSource(bytes - Buffer.byteLength(JSON.stringify(withSource(0))));
  }

  test('accepts an empty filter, labels without properties, and both kinds', () => {
    expect(checkExportFilter('exportFilter', {})).toBeUndefined();
    expect(checkExportFilter('exportFilter', { VertexFilter: { a: {} }, EdgeFilter: { ['e'.repeat(128)]: {} } })).toBeUndefined();
  });

  test.each(['Any', 'Byte', 'Short', 'Int', 'Long', 'Float', 'Double', 'String', 'Bool', 'Boolean', 'Float[]', 'Double[]'])('accepts the output type %s', (type) => {
    expect(checkExportFilter('f', filter({ name: { OutputType: type } }))).toBeUndefined();
  });

  test('accepts every property attribute at its limits', () => {
    const properties = { ['n'.repeat(128)]: { OutputType: 'String', MultiValueHandling: 'TO_LIST', SourcePropertyName: 's' }, a: { MultiValueHandling: 'PICK_FIRST' } };
    expect(checkExportFilter('f', filter(properties))).toBeUndefined();
  });

  test(`accepts ${MAX_EXPORT_FILTER_BYTES} bytes of JSON, and fails for one byte more, saying why`, () => {
    const largest = filterOfBytes(MAX_EXPORT_FILTER_BYTES);
    expect(Buffer.byteLength(JSON.stringify(largest))).toBe(MAX_EXPORT_FILTER_BYTES);
    expect(checkExportFilter('exportFilter', largest)).toBeUndefined();
    const larger = filterOfBytes(MAX_EXPORT_FILTER_BYTES + 1);
    expect(Buffer.byteLength(JSON.stringify(larger))).toBe(MAX_EXPORT_FILTER_BYTES + 1);
    expect(checkExportFilter('exportFilter', larger)).toBe(`exportFilter is ${MAX_EXPORT_FILTER_BYTES + 1} bytes of JSON, more than the `
      + `${MAX_EXPORT_FILTER_BYTES} the waiter accepts (CloudFormation hands the old and the new filter to the handler in one event,`
      + ' and Step Functions caps state data at 256 KiB)');
  });

  test.each([
    ['not an object', [], 'f must be an object, got []'],
    ['an unknown kind', { NodeFilter: {} }, 'f has an unknown field "NodeFilter": expected VertexFilter or EdgeFilter'],
    ['labels not an object', { VertexFilter: 'person' }, 'f.VertexFilter must map labels to filters, got "person"'],
    ['an empty label', { VertexFilter: { '': {} } }, 'f.VertexFilter labels must be 1-128 characters, got ""'],
    ['a label of 129 characters', { EdgeFilter: { ['l'.repeat(129)]: {} } }, `f.EdgeFilter labels must be 1-128 characters, got ${shown('l'.repeat(129)).slice(0, 117)}...`],
    ['a label filter not an object', { VertexFilter: { person: 1 } }, 'f.VertexFilter["person"] must be an object, got 1'],
    ['properties not an object', filter('all' as never), 'f.VertexFilter["person"].Properties must be an object, got "all"'],
    ['an output name with a dash', filter({ 'first-name': {} }), 'f.VertexFilter["person"].Properties output names must be 1-128 letters, digits or underscores, got "first-name"'],
    ['an output name of 129 characters', filter({ ['n'.repeat(129)]: {} }), 'output names must be 1-128 letters, digits or underscores'],
    ['property attributes not an object', filter({ name: 'String' }), 'f.VertexFilter["person"].Properties["name"] must be an object, got "String"'],
    ['an output type not shaped like a type name', filter({ name: { OutputType: 'Int[][]' } }), '.Properties["name"].OutputType must be a type name such as String, Int or Double[] (letters and digits, optionally followed by []), got "Int[][]"'],
    ['a multi-value handling not shaped like one', filter({ name: { MultiValueHandling: 'to-set' } }), '.Properties["name"].MultiValueHandling must be a handling such as TO_LIST or PICK_FIRST (upper-case letters, digits and underscores), got "to-set"'],
    ['an empty source property name', filter({ name: { SourcePropertyName: '' } }), '.Properties["name"].SourcePropertyName must be a non-empty string, got ""'],
  ])('fails for %s, saying where', (_what, value, message) => {
    expect(checkExportFilter('f', value)).toContain(message);
  });

  test('checks the service\'s camelCase field names when given them, and refuses the PascalCase ones then', () => {
    const camel: FilterKeys = {
      vertex: 'vertexFilter', edge: 'edgeFilter', properties: 'properties', outputType: 'outputType', multiValue: 'multiValueHandling', source: 'sourcePropertyName',
    };
    expect(checkExportFilter('exportFilter', { vertexFilter: { person: { properties: { name: { outputType: 'String' } } } } }, camel)).toBeUndefined();
    expect(checkExportFilter('exportFilter', { vertexFilter: { person: { properties: { name: { outputType: 'Text Field' } } } } }, camel))
      .toContain('exportFilter.vertexFilter["person"].properties["name"].outputType must be a type name');
    expect(checkExportFilter('exportFilter', { VertexFilter: {} }, camel)).toContain('unknown field "VertexFilter": expected vertexFilter or edgeFilter');
  });
});

describe('checkTags', () => {
  const tags = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`key${i}`, `value${i}`]));

  test('accepts 50 tags, keys of 1 and 128 characters, and values of 0 and 256 characters', () => {
    expect(checkTags('tags', tags(50))).toBeUndefined();
    expect(checkTags('tags', { ['k'.repeat(128)]: 'v'.repeat(256), k: '' })).toBeUndefined();
  });

  test('fails for 51 tags, showing how many', () => {
    expect(checkTags('tags', tags(51))).toBe('tags may hold at most 50 tags, got 51');
  });

  test.each([
    ['an empty key', { '': 'v' }, 'tags keys must be 1-128 characters, got ""'],
    ['a key of 129 characters', { ['k'.repeat(129)]: 'v' }, 'tags keys must be 1-128 characters, got "kkk'],
    ['a value of 257 characters', { k: 'v'.repeat(257) }, 'tags["k"] must be a string of at most 256 characters, got "vvv'],
    ['a value that is not a string', { k: 1 }, 'tags["k"] must be a string of at most 256 characters, got 1'],
    ['an array', ['k'], 'tags must map tag keys to values, got ["k"]'],
  ])('fails for %s', (_what, value, message) => {
    expect(checkTags('tags', value)).toContain(message);
  });
});

describe('unresolved tokens', () => {
  // The constructs skip tokens and leave them to the handler, which checks the values they resolve
  // to. Should one reach a check, it must be refused, never passed as valid.
  test('a string token is refused as a task id, graph id, ARN or destination', () => {
    const token = Token.asString({ Ref: 'TaskId' });
    expect(checkTaskIdentifier('taskIdentifier', token)).toContain('got "${Token[');
    expect(checkGraphIdentifier('graphIdentifier', token)).toBeDefined();
    expect(checkRoleArn('roleArn', token)).toBeDefined();
    expect(checkKmsKeyArn('kmsKeyIdentifier', token)).toBeDefined();
    expect(checkDestination('destination', token)).toBeDefined();
  });

  test('a number token is refused as a timeout or a poll interval', () => {
    const token = Token.asNumber({ Ref: 'Timeout' });
    expect(checkTimeout('timeout', token, false)).toBeDefined();
    expect(checkTimeout('timeout', token, true)).toBeDefined();
    expect(checkPollInterval('minPollInterval', token)).toBeDefined();
  });
});
