import type { EvaluationInput, Fact } from './evaluation';
import { SEMANTIC_SIGNAL_PREFIX } from '../cortex/semantic-context';

/**
 * The input both engines actually see. Malformed parts become empty rather than throwing, and both
 * engines read this same normalised value, so a malformed input can never make them disagree.
 */
export interface EngineInput {
  tags: readonly unknown[];
  signals: Record<string, unknown>;
  context: Record<string, unknown>;
  facts: readonly unknown[];
  /** VALUE conditions on `semantic_context.<path>` read it. */
  semantic_context: Record<string, unknown>;
}

const EMPTY: Record<string, unknown> = Object.freeze({});

export function toEngineInput(input: EvaluationInput, facts: readonly Fact[]): EngineInput {
  const semantic = isRecord(input.semantic_context) ? input.semantic_context : EMPTY;
  return {
    tags: Array.isArray(input.tags) ? input.tags : [],
    signals: engineSignals(isRecord(input.signals) ? input.signals : EMPTY, semantic.labels),
    context: isRecord(input.context) ? input.context : EMPTY,
    facts: Array.isArray(facts) ? facts : [],
    semantic_context: semantic,
  };
}

/**
 * Per-label similarities become the signals `semantic_context.<label>`, so SIGNAL conditions (and
 * the rule index, and the generated Rego's signal lookup) use them like any signal. The prefix is
 * the semantic context's alone: a caller's signal under it is dropped, so no request poses as
 * memory (CONTROL, which never hydrates, can never match a rule that reads one).
 */
function engineSignals(signals: Record<string, unknown>, labels: unknown): Record<string, unknown> {
  let merged: Record<string, unknown> | null = null;
  for (const name in signals) {
    if (!name.startsWith(SEMANTIC_SIGNAL_PREFIX)) continue;
    merged ??= { ...signals };
    delete merged[name];
  }
  if (!isRecord(labels)) return merged ?? signals;
  merged ??= { ...signals };
  for (const [label, similarity] of Object.entries(labels)) merged[SEMANTIC_SIGNAL_PREFIX + label] = similarity;
  return merged;
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
