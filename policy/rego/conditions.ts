import { NUMERIC_OPERATORS, type Condition } from '../engine/compiled-snapshot';
import { valueRoot } from '../engine/native-conditions';

/**
 * One condition as Rego statements, with the same semantics as native-engine-conditions.ts.
 * Values are read with `:=` (never as bare references) so a present `false` or `null` still counts
 * as present; `is_number`/`is_string` guards keep Rego's cross-type ordering out of comparisons.
 */
export function regoCondition(condition: Condition, variable: string): string[] {
  const [head = '', ...path] = condition.key.split('.');
  switch (condition.type) {
    case 'TAG':
      return [`tagset[${literal(condition.key)}]`];
    case 'SIGNAL':
      return [`${variable} := input.signals[${literal(condition.key)}]`, ...comparison(condition, variable)];
    case 'VALUE':
      return [`${variable} := input.${valueRoot(head)}${ref(path)}`, ...comparison(condition, variable)];
    case 'FACT':
      return factStatements(condition, variable, head, path);
  }
}

function factStatements(condition: Condition, variable: string, predicate: string, path: string[]): string[] {
  const lookup = [`some f_${variable} in input.facts`, `f_${variable}.predicate == ${literal(predicate)}`];
  if (condition.op === 'EXISTS' && path.length === 0) return lookup;
  return [...lookup, `${variable} := f_${variable}.object${ref(path)}`, ...comparison(condition, variable)];
}

function comparison(condition: Condition, variable: string): string[] {
  const { op, value } = condition;
  if (op === 'EXISTS') return [];
  if (op === '=') return [`${variable} == ${literal(value)}`];
  if (op === '!=') return [`${variable} != ${literal(value)}`];
  if (op === 'IN') return [`${variable} in ${literal(value)}`];
  if (op === 'MATCHES') return [`is_string(${variable})`, `regex.match(${literal(value)}, ${variable})`];
  if (NUMERIC_OPERATORS.includes(op)) return [`is_number(${variable})`, `${variable} ${op} ${literal(value)}`];
  throw new Error(`no Rego for operator ${op}`);
}

function ref(path: readonly string[]): string {
  return path.map((segment) => `[${literal(segment)}]`).join('');
}

/** JSON is valid Rego for every scalar and list a condition can hold. */
function literal(value: unknown): string {
  return JSON.stringify(value);
}
