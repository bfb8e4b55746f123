import type { EvaluationInput, Fact } from './evaluation';

/**
 * The input both engines actually see. Malformed parts become empty rather than throwing, and both
 * engines read this same normalised value, so a malformed input can never make them disagree.
 */
export interface EngineInput {
  tags: readonly unknown[];
  signals: Record<string, unknown>;
  context: Record<string, unknown>;
  facts: readonly unknown[];
}

const EMPTY: Record<string, unknown> = Object.freeze({});

export function toEngineInput(input: EvaluationInput, facts: readonly Fact[]): EngineInput {
  return {
    tags: Array.isArray(input.tags) ? input.tags : [],
    signals: isRecord(input.signals) ? input.signals : EMPTY,
    context: isRecord(input.context) ? input.context : EMPTY,
    facts: Array.isArray(facts) ? facts : [],
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Follows object keys only, as Rego's `x["a"]["b"]` does: an array or a scalar on the way, or an
 * inherited key such as "constructor", means the value is absent.
 */
export function valueAt(root: unknown, path: readonly string[]): unknown {
  let current = root;
  for (const segment of path) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}
