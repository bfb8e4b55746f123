import { z } from 'zod';
import { MEMORY_TIERS, type MemoryTier } from './embedding';

/**
 * What ADVISORY hydration puts into an evaluation's input as `semantic_context` (README "Semantic
 * memory"): the memories nearest the request's embedding, highest similarity first, the nearest
 * one as `top` (so a VALUE condition can read `semantic_context.top.label`), their count, and per
 * label the best similarity, which rules read as the SIGNAL `semantic_context.<label>`. A fixture
 * (or an ADVISORY caller) may pin it instead, so validation stays deterministic.
 */
export interface SemanticMatch {
  id: string;
  tier: MemoryTier;
  label: string;
  similarity: number;
}

export interface SemanticContext {
  matches?: SemanticMatch[];
  top?: SemanticMatch;
  count?: number;
  labels?: Record<string, number>;
}

/** SIGNAL keys under this prefix read `semantic_context.labels`, not the caller's signals. */
export const SEMANTIC_SIGNAL_PREFIX = 'semantic_context.';
export const SEMANTIC_CONTEXT_KEY = 'semantic_context';

const match = z.strictObject({
  id: z.string(),
  tier: z.enum(MEMORY_TIERS),
  label: z.string(),
  similarity: z.number(),
});

export const semanticContextSchema = z.strictObject({
  matches: z.array(match).max(1000).optional(),
  top: match.optional(),
  count: z.number().int().min(0).optional(),
  labels: z.record(z.string(), z.number()).optional(),
});

/** Nearest first, as the search returned them. */
export function semanticContextOf(matches: readonly SemanticMatch[]): SemanticContext {
  const labels: Record<string, number> = {};
  for (const { label, similarity } of matches) labels[label] = Math.max(labels[label] ?? -Infinity, similarity);
  const context: SemanticContext = { matches: [...matches], count: matches.length, labels };
  if (matches[0]) context.top = matches[0];
  return context;
}
