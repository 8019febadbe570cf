/**
 * Amazon States Language intrinsic functions as typed expression builders, for the wait loop's
 * nested arithmetic. `sfn.JsonPath`'s helpers return tokens typed `string` (or `number` only for
 * paths), so `States.ArrayGetItem(table, States.MathAdd(...))` cannot be nested through them without
 * casts; these return the expression text, which a `'field.$'` parameter takes as it is.
 */

/** A JSONPath or an intrinsic expression. */
export type Expression = string;

const call = (name: string, ...args: Array<Expression | number>) => `States.${name}(${args.join(', ')})`;

export const Intrinsic = {
  arrayGetItem: (array: Expression, index: Expression | number) => call('ArrayGetItem', array, index),
  mathAdd: (a: Expression | number, b: Expression | number) => call('MathAdd', a, b),
  array: (...items: Array<Expression | number>) => call('Array', ...items),
  arrayLength: (array: Expression) => call('ArrayLength', array),
  arrayRange: (first: Expression | number, last: Expression | number, step: Expression | number) => call('ArrayRange', first, last, step),
  arrayUnique: (array: Expression) => call('ArrayUnique', array),
  /** Shallow merge: the second object's fields win. */
  jsonMerge: (a: Expression, b: Expression) => call('JsonMerge', a, b, 'false'),
  jsonToString: (value: Expression) => call('JsonToString', value),
  /** `template` is literal text in which each `{}` takes the next argument (States.Format); quotes and backslashes are escaped here. */
  format: (template: string, ...args: Expression[]) => call('Format', `'${template.replace(/[\\'{}]/g, (c) => (c === '{' || c === '}' ? c : `\\${c}`))}'`, ...args),
} as const;

/** `path` under `base`, both JSONPaths: `at('$', 'poll')` is `$.poll`, `at('$.x', 'poll')` is `$.x.poll`. */
export function at(base: string, field: string): string {
  return `${base}.${field}`;
}
