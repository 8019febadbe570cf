/**
 * The definition as aws-local-stepfunctions 3.0.0 must be given it to behave like Step Functions.
 * Each rewrite is an equivalent form of the same definition that the interpreter evaluates correctly;
 * nothing else changes.
 *
 * - Type tests: `{ "Variable": "$.x", "IsNull": false }` is evaluated as `false && ...`, i.e. always
 *   false, where Step Functions means "is not null". Rewritten to `{ "Not": { ..., "IsNull": true } }`.
 * - `States.JsonMerge(a, b, false)` is implemented as `Object.assign(a, b)`: it writes b's fields into
 *   a, and when `a` is a path into `$$.Execution.Input` that changes the execution input seen by every
 *   later state (Step Functions' intrinsic functions are pure). Rewritten to merge into a copy:
 *   `States.JsonMerge(States.StringToJson(States.JsonToString(a)), b, false)`.
 */

type Json = Record<string, unknown>;
export type Definition = Json & { States: Record<string, Json> };

/** Type tests of Choice rules that aws-local-stepfunctions 3.0.0 evaluates wrongly when false. */
const TYPE_TESTS = ['IsNull', 'IsPresent', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'];

export function asInterpreterRuns<D extends Definition>(definition: D): D {
  const states = Object.fromEntries(Object.entries(definition.States).map(([name, state]) => {
    const withPureIntrinsics = pureIntrinsicsIn(state) as Json;
    return [name, state.Type === 'Choice' ? { ...withPureIntrinsics, Choices: rewriteTypeTests(state.Choices) } : withPureIntrinsics];
  }));
  return { ...definition, States: states };
}

function rewriteTypeTests(rule: unknown): unknown {
  if (Array.isArray(rule)) return rule.map(rewriteTypeTests);
  if (rule === null || typeof rule !== 'object') return rule;
  const r = rule as Json;
  const test = TYPE_TESTS.find((name) => r[name] === false);
  if (test && typeof r.Variable === 'string') {
    const { Next, ...condition } = r;
    return { Not: { ...condition, [test]: true }, ...(Next === undefined ? {} : { Next }) };
  }
  return Object.fromEntries(Object.entries(r).map(([key, value]) => [key, ['And', 'Or', 'Not', 'Choices'].includes(key) ? rewriteTypeTests(value) : value]));
}

/** Rewrites the JsonMerge calls in every `"<key>.$"` value of Parameters, ResultSelector and the like. */
function pureIntrinsicsIn(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return key.endsWith('.$') && value.includes('States.JsonMerge') ? mergeIntoCopy(value) : value;
  if (Array.isArray(value)) return value.map((v) => pureIntrinsicsIn(v));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, pureIntrinsicsIn(v, k)]));
}

/** An intrinsic expression: a call with arguments, or a leaf (path, literal) kept as written. */
type Expression = { call: string; args: Expression[] } | { leaf: string };

export function mergeIntoCopy(expression: string): string {
  const rewrite = (e: Expression): Expression => {
    if ('leaf' in e) return e;
    const args = e.args.map(rewrite);
    if (e.call === 'States.JsonMerge' && args.length > 0) {
      args[0] = { call: 'States.StringToJson', args: [{ call: 'States.JsonToString', args: [args[0]] }] };
    }
    return { call: e.call, args };
  };
  return print(rewrite(parse(expression)));
}

function print(e: Expression): string {
  return 'leaf' in e ? e.leaf : `${e.call}(${e.args.map(print).join(', ')})`;
}

/**
 * Parses `Name(arg, arg, ...)` where an argument is a quoted string ('...' with \ escapes), a call,
 * or anything else up to the next top-level ',' or ')' (a path, a number, true/false/null).
 * Throws on what it cannot read: the rewrite must not silently leave a mutating merge in place.
 */
function parse(text: string): Expression {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`Cannot rewrite intrinsic expression (${why} at ${at}): ${text}`);
  };
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at])) at++;
  };
  const expression = (): Expression => {
    skipSpace();
    if (text[at] === "'") {
      const start = at++;
      while (at < text.length && text[at] !== "'") at += text[at] === '\\' ? 2 : 1;
      if (at >= text.length) fail('unterminated string');
      at++;
      return { leaf: text.slice(start, at) };
    }
    const start = at;
    let brackets = 0;
    while (at < text.length) {
      const c = text[at];
      if (c === '[') brackets++;
      else if (c === ']') brackets--;
      else if (brackets === 0 && (c === '(' || c === ',' || c === ')')) break;
      at++;
    }
    const token = text.slice(start, at).trim();
    if (text[at] !== '(') {
      if (token === '') fail('empty argument');
      return { leaf: token };
    }
    if (!/^States\.\w+$/.test(token)) fail(`unknown function ${token}`);
    at++;
    const args: Expression[] = [];
    skipSpace();
    if (text[at] === ')') {
      at++;
      return { call: token, args };
    }
    for (;;) {
      args.push(expression());
      skipSpace();
      if (text[at] === ',') {
        at++;
        continue;
      }
      if (text[at] === ')') {
        at++;
        return { call: token, args };
      }
      fail('expected , or )');
    }
  };
  const result = expression();
  skipSpace();
  if (at !== text.length || 'leaf' in result) fail('trailing text or not a call');
  return result;
}
