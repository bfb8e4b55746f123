import type { CompiledRule, Condition } from './compiled-snapshot';
import { isRecord, type EngineInput } from './engine-input';

/**
 * Every condition needs something present in the input (a tag, a signal, a fact predicate, a
 * context value), so each rule is filed under one such key, preferring the most selective kind.
 * A decision then only looks at rules whose key the input carries, plus the few filed under none,
 * and its cost follows the input, not the number of rules.
 */
export interface RuleIndex {
  /** Positions (into the evaluation order) of rules that could match, ascending. */
  candidates(input: EngineInput): number[];
}

export type IndexKind = 'tag' | 'signal' | 'fact';

export function createRuleIndex(ordered: readonly CompiledRule[]): RuleIndex {
  const buckets: Record<IndexKind, Map<string, number[]>> = { tag: new Map(), signal: new Map(), fact: new Map() };
  const unfiled: number[] = [];
  ordered.forEach((rule, position) => {
    const key = indexKeyOf(rule.conditions);
    if (!key) return void unfiled.push(position);
    const bucket = buckets[key.kind].get(key.value) ?? [];
    bucket.push(position);
    buckets[key.kind].set(key.value, bucket);
  });
  const seen = new Uint32Array(ordered.length);
  let stamp = 0;
  return {
    candidates(input) {
      // A fresh stamp per call marks "already taken" without clearing the array each time.
      if (stamp === 0xffffffff) {
        seen.fill(0);
        stamp = 0;
      }
      stamp += 1;
      const found = unfiled.slice();
      const take = (bucket: number[] | undefined) => {
        if (!bucket) return;
        for (const position of bucket) {
          if (seen[position] === stamp) continue;
          seen[position] = stamp;
          found.push(position);
        }
      };
      for (const tag of input.tags) if (typeof tag === 'string') take(buckets.tag.get(tag));
      for (const name in input.signals) take(buckets.signal.get(name));
      for (const fact of input.facts) {
        if (isRecord(fact) && typeof fact.predicate === 'string') take(buckets.fact.get(fact.predicate));
      }
      return found.length > 1 ? found.sort((a, b) => a - b) : found;
    },
  };
}

/** The rule's filing key; the generated Rego groups rules by the same key. */
export function indexKeyOf(conditions: readonly Condition[]): { kind: IndexKind; value: string } | null {
  const tag = conditions.find((c) => c.type === 'TAG');
  if (tag) return { kind: 'tag', value: tag.key };
  const signal = conditions.find((c) => c.type === 'SIGNAL');
  if (signal) return { kind: 'signal', value: signal.key };
  const fact = conditions.find((c) => c.type === 'FACT');
  if (fact) return { kind: 'fact', value: fact.key.split('.')[0]! };
  return null;
}
