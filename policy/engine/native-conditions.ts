import type { Condition, Scalar } from './compiled-snapshot';
import { isRecord, valueAt, type EngineInput } from './engine-input';
import { SEMANTIC_CONTEXT_KEY } from '../cortex/semantic-context';

/**
 * Conditions compiled to closures once per snapshot. Semantics, mirrored exactly by the generated
 * Rego: every operator except EXISTS needs the value present (so `!=` does not hold for a missing
 * value); numeric operators and MATCHES hold only for a number/string; FACT holds when SOME
 * supplied fact with that predicate satisfies the operator at the key's path into its object.
 */
export type Check = (input: EngineInput) => boolean;
type Test = (actual: unknown) => boolean;

export function compileCondition(condition: Condition): Check {
  const test = compileTest(condition);
  const [head = '', ...path] = condition.key.split('.');
  switch (condition.type) {
    case 'TAG':
      return (input) => input.tags.includes(condition.key);
    case 'SIGNAL':
      return (input) => test(valueAt(input.signals, [condition.key]));
    case 'VALUE': {
      const root = valueRoot(head);
      return (input) => test(valueAt(input[root], path));
    }
    case 'FACT':
      return (input) =>
        input.facts.some((fact) => isRecord(fact) && fact.predicate === head && test(factValue(fact, path)));
  }
}

/** VALUE keys are `context.<path>` or `semantic_context.<path>` (the bundle schema allows no other). */
export function valueRoot(head: string): 'context' | 'semantic_context' {
  return head === SEMANTIC_CONTEXT_KEY ? 'semantic_context' : 'context';
}

/** Without a path the fact itself counts as the value for EXISTS, its object for comparisons. */
function factValue(fact: Record<string, unknown>, path: readonly string[]): unknown {
  return path.length === 0 ? fact.object : valueAt(fact.object, path);
}

export function factPath(condition: Condition): string[] {
  return condition.key.split('.').slice(1);
}

function compileTest(condition: Condition): Test {
  const { op, value } = condition;
  if (condition.type === 'FACT' && op === 'EXISTS' && factPath(condition).length === 0) return () => true;
  switch (op) {
    case 'EXISTS':
      return (actual) => actual !== undefined;
    case '=':
      return (actual) => actual === value;
    case '!=':
      return (actual) => actual !== undefined && actual !== value;
    case '>=':
      return (actual) => typeof actual === 'number' && actual >= (value as number);
    case '<=':
      return (actual) => typeof actual === 'number' && actual <= (value as number);
    case '>':
      return (actual) => typeof actual === 'number' && actual > (value as number);
    case '<':
      return (actual) => typeof actual === 'number' && actual < (value as number);
    case 'IN': {
      const members = value as Scalar[];
      return (actual) => members.includes(actual as Scalar);
    }
    case 'MATCHES': {
      const pattern = new RegExp(value as string, 'u');
      return (actual) => typeof actual === 'string' && pattern.test(actual);
    }
  }
}
