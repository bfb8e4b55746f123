import { LRUCache } from 'lru-cache';
import type { Fact } from '../engine/evaluation';

/**
 * Bounded cache of the facts valid now for a subject, in front of a loader (pkg_facts). The
 * staleness bound is `ttlMs` (FACT_CACHE_TTL_MS): a fact added or revoked in Postgres is seen by
 * an evaluator at most that long after. An entry also never outlives the earliest `validTo` of
 * its facts, so an expiring grant stops counting on time. `ttlMs = 0` turns caching off.
 */
export interface CachedFact extends Fact {
  validTo: Date | null;
}

export interface FactCacheOptions {
  ttlMs: number;
  maxSubjects: number;
  load: (subject: string) => Promise<readonly CachedFact[]>;
  now?: () => number;
}

export interface FactCache {
  factsFor(subject: string): Promise<readonly Fact[]>;
  size(): number;
}

export function createFactCache(options: FactCacheOptions): FactCache {
  const now = options.now ?? Date.now;
  if (options.ttlMs === 0) return { factsFor: options.load, size: () => 0 };
  const cache = new LRUCache<string, readonly CachedFact[]>({
    max: options.maxSubjects,
    ttl: options.ttlMs,
    perf: { now },
    ttlResolution: 0,
    fetchMethod: async (subject, _stale, { options: entry }) => {
      const facts = await options.load(subject);
      entry.ttl = entryTtl(facts, options.ttlMs, now());
      return facts;
    },
  });
  return {
    async factsFor(subject) {
      const hit = cache.get(subject);
      if (hit) return hit;
      return (await cache.fetch(subject)) ?? [];
    },
    size: () => cache.size,
  };
}

/** The configured bound, shortened to the moment the first of these facts stops holding. */
export function entryTtl(facts: readonly CachedFact[], ttlMs: number, nowMs: number): number {
  let ttl = ttlMs;
  for (const fact of facts) {
    if (fact.validTo) ttl = Math.min(ttl, fact.validTo.getTime() - nowMs);
  }
  return Math.max(1, ttl);
}
