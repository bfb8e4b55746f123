import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { HydrationMeta } from '../engine/evaluation';
import { semanticContextOf, type SemanticContext, type SemanticMatch } from './semantic-context';

/**
 * ADVISORY hydration (README "Semantic memory"): the memories nearest a request's embedding in its
 * snapshot's world, within a time budget, cached by the embedding's hash. Memory only advises: a
 * search that is late or fails leaves the input as it was, and the meta says why, so the
 * decision is made on time either way. A late answer still fills the cache for the next request.
 */
export interface MemorySearch {
  embedding: readonly number[];
  snapshotId: string;
  minSimilarity: number;
  limit: number;
}

export interface HydrationOptions {
  search: (search: MemorySearch) => Promise<SemanticMatch[]>;
  budgetMs: number;
  topK: number;
  minSimilarity: number;
  cacheTtlMs: number;
  cacheMax: number;
  now?: () => number;
}

export interface Hydration {
  meta: HydrationMeta;
  /** Absent when hydration was skipped. */
  context?: SemanticContext;
}

export interface SemanticHydrator {
  hydrate(snapshotId: string, embedding: readonly number[]): Promise<Hydration>;
}

export function createSemanticHydrator(options: HydrationOptions): SemanticHydrator {
  const now = options.now ?? (() => performance.now());
  const cache = new LRUCache<string, SemanticContext>({ max: options.cacheMax, ttl: options.cacheTtlMs });
  return {
    async hydrate(snapshotId, embedding) {
      const started = now();
      const key = `${snapshotId}:${embeddingHash(embedding)}`;
      const hit = cache.get(key);
      if (hit) return { context: hit, meta: { status: 'cached', matches: hit.count ?? 0, ms: now() - started } };
      const found = options
        .search({ embedding, snapshotId, minSimilarity: options.minSimilarity, limit: options.topK })
        .then((matches) => {
          const context = semanticContextOf(matches);
          cache.set(key, context);
          return context;
        });
      const outcome = await withinBudget(found, options.budgetMs);
      const ms = now() - started;
      if (outcome.ok)
        return { context: outcome.value, meta: { status: 'hydrated', matches: outcome.value.count ?? 0, ms } };
      return { meta: { status: 'skipped', reason: outcome.reason, ms } };
    },
  };
}

/** sha256 over the embedding's float64 bytes: equal vectors, equal keys. */
export function embeddingHash(embedding: readonly number[]): string {
  return createHash('sha256')
    .update(new Uint8Array(Float64Array.from(embedding).buffer))
    .digest('hex');
}

type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

function withinBudget<T>(work: Promise<T>, budgetMs: number): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, reason: `timeout: memory did not answer within ${budgetMs} ms` }),
      budgetMs,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        const message = error instanceof Error ? error.message : String(error);
        resolve({ ok: false, reason: `memory unavailable: ${message.split('\n')[0]!.slice(0, 200)}` });
      },
    );
  });
}
