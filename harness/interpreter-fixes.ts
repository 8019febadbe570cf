/**
 * The definition as aws-local-stepfunctions 3.0.0 must be given it to behave like Step Functions.
 * Each rewrite is an equivalent form of the same definition that the interpreter evaluates correctly;
 * nothing else changes.
 *
 * - Type tests: `{ "Variable": "$.x", "IsNull": false }` is evaluated as `false && ...`, i.e. always
 *   false, where Step Functions means "is not null". Rewritten to `{ "Not": { ..., "IsNull": true } }`.
 * - `States.JsonMerge(a, b, false)` is implemented as `Object.assign(a, b)`: it writes b's fields into
 *   a, and when `a` is a path into `$$.Execution.Input` that changes the execution input seen by every
 *   later state (Step Functions' intrinsic functions are pure). `loadInterpreter` loads the package
 *   with that one line changed to merge into a copy. (Rewriting the expression to merge into
 *   `States.StringToJson(States.JsonToString(a))` instead does not work: the interpreter mangles
 *   quotes and backslashes in that round trip.)
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const IMPURE_MERGE = 'return Object.assign(obj1, obj2);';
const PURE_MERGE = 'return Object.assign(cloneJSON(obj1), obj2);';

/** aws-local-stepfunctions, with States.JsonMerge made pure. Fails loudly if the package's code changed. */
export function loadInterpreter<T>(): T {
  const file = require.resolve('aws-local-stepfunctions');
  const source = fs.readFileSync(file, 'utf8');
  if (source.split(IMPURE_MERGE).length !== 2 || !source.includes('function cloneJSON(')) {
    throw new Error(`${file}: the States.JsonMerge implementation the harness patches was not found exactly once`);
  }
  const module = { exports: {} as T };
  const evaluate = new Function('exports', 'require', 'module', '__filename', '__dirname', source.replace(IMPURE_MERGE, PURE_MERGE));
  evaluate(module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}

type Json = Record<string, unknown>;
export type Definition = Json & { States: Record<string, Json> };

/** Type tests of Choice rules that aws-local-stepfunctions 3.0.0 evaluates wrongly when false. */
const TYPE_TESTS = ['IsNull', 'IsPresent', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'];

export function asInterpreterRuns<D extends Definition>(definition: D): D {
  const states = Object.fromEntries(Object.entries(definition.States).map(([name, state]) => {
    return [name, state.Type === 'Choice' ? { ...state, Choices: rewriteTypeTests(state.Choices) } : state];
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
