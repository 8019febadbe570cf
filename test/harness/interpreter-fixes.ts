/**
 * Where aws-local-stepfunctions 3.0.0 behaves unlike Step Functions, and how the harness makes it behave.
 *
 * - Type tests: `{ "Variable": "$.x", "IsNull": false }` is evaluated as `false && ...`, i.e. always
 *   false, where Step Functions means "is not null". The definition is given to the interpreter with
 *   each such rule rewritten to the equivalent `{ "Not": { ..., "IsNull": true } }` (asInterpreterRuns).
 * - `States.JsonMerge(a, b, false)` is implemented as `Object.assign(a, b)`: it writes b's fields into
 *   a, and when `a` is a path into `$$.Execution.Input` that changes the execution input seen by every
 *   later state (Step Functions' intrinsic functions are pure). The interpreter is loaded with that one
 *   line changed to merge into a new object (loadInterpreter). Rewriting the definition instead (merging
 *   into `States.StringToJson(States.JsonToString(a))`) is not an option: the interpreter's nested
 *   intrinsics break on strings holding quotes, such as a long statusReason.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

type Json = Record<string, unknown>;
export type Definition = Json & { States: Record<string, Json> };

/** Type tests of Choice rules that aws-local-stepfunctions 3.0.0 evaluates wrongly when false. */
const TYPE_TESTS = ['IsNull', 'IsPresent', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'];

export function asInterpreterRuns<D extends Definition>(definition: D): D {
  const states = Object.fromEntries(Object.entries(definition.States).map(([name, state]) =>
    [name, state.Type === 'Choice' ? { ...state, Choices: rewriteTypeTests(state.Choices) } : state]));
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

/** The line of aws-local-stepfunctions 3.0.0 that implements States.JsonMerge, and its pure replacement. */
const MUTATING_MERGE = 'return Object.assign(obj1, obj2);';
const PURE_MERGE = 'return Object.assign({}, structuredClone(obj1), structuredClone(obj2));';

let interpreter: unknown;

/**
 * The interpreter's CommonJS build, evaluated with States.JsonMerge made pure. Its own dependencies
 * load as usual. Fails loudly when the line is not found exactly once (another version of the package):
 * whoever upgrades it must check whether the fix is still needed.
 */
export function loadInterpreter<T>(): T {
  if (!interpreter) {
    const entry = require.resolve('aws-local-stepfunctions');
    const source = fs.readFileSync(entry, 'utf8');
    if (source.split(MUTATING_MERGE).length !== 2) {
      throw new Error(`${entry}: the States.JsonMerge line to fix was not found exactly once; check the fix in test/harness/interpreter-fixes.ts`);
    }
    const module = { exports: {} };
    const evaluate = new Function('exports', 'require', 'module', '__filename', '__dirname', `${source.replace(MUTATING_MERGE, PURE_MERGE)}\n//# sourceURL=${entry}`);
    evaluate(module.exports, createRequire(entry), module, entry, path.dirname(entry));
    interpreter = module.exports;
  }
  return interpreter as T;
}
