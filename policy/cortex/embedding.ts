/**
 * The Unified Cortex's tiers and embeddings (README "Semantic memory"), shared by memories and by
 * the evaluation requests that carry an embedding.
 */
export const MEMORY_TIERS = ['event_working', 'knowledge_base', 'world_memory'] as const;
export type MemoryTier = (typeof MEMORY_TIERS)[number];
/** The seed's 1024-dimension embeddings; the column is vector(1024). */
export const EMBEDDING_DIMENSIONS = 1024;

/**
 * Why a value is not a usable embedding, or null: exactly 1024 finite numbers, not all zero (a zero
 * vector has no direction, so its cosine distance to anything is undefined).
 */
export function embeddingProblem(embedding: unknown): string | null {
  if (!Array.isArray(embedding)) return 'must be an array of numbers';
  if (embedding.length !== EMBEDDING_DIMENSIONS)
    return `must have ${EMBEDDING_DIMENSIONS} dimensions, got ${embedding.length}`;
  let nonZero = false;
  for (let i = 0; i < embedding.length; i++) {
    const x: unknown = embedding[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return `[${i}] must be a finite number, got ${JSON.stringify(x)}`;
    if (x !== 0) nonZero = true;
  }
  return nonZero ? null : 'must not be all zeros';
}

/** pgvector's text form, `[x,y,...]`. */
export function vectorLiteral(embedding: readonly number[]): string {
  return `[${embedding.join(',')}]`;
}
