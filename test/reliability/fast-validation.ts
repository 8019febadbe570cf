/**
 * Import before anything that loads the harness.
 *
 * aws-local-stepfunctions checks the definition with asl-validator every time the harness starts an
 * execution: about 150 ms of CPU each, 15 s for the load scenario's 100 executions (which then start
 * one by one, late). Every execution of a deployment gets the same definition (a fresh copy of it),
 * so this validates each distinct definition once and hands the same result back after that: what
 * the harness runs, and what it reports for an invalid definition, stay the same. (The validator
 * also writes a default QueryLanguage into each state, which the interpreter never reads.)
 */
import * as path from 'node:path';

type Validator = (definition: unknown, options?: unknown) => unknown;

function validatingOnce(validate: Validator): Validator {
  const results = new Map<string, unknown>();
  return (definition, options) => {
    const key = JSON.stringify([definition, options]);
    if (!results.has(key)) results.set(key, validate(definition, options));
    return results.get(key);
  };
}

if (typeof jest !== 'undefined') {
  // Jest loads modules through its own registry, which require.cache does not reach.
  jest.mock('asl-validator', () => validatingOnce(jest.requireActual('asl-validator')));
} else {
  const resolved = require.resolve('asl-validator', { paths: [path.dirname(require.resolve('aws-local-stepfunctions'))] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const validate = require(resolved) as Validator;
  require.cache[resolved]!.exports = validatingOnce(validate);
}
