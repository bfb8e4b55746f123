import { createHash } from 'node:crypto';
import { EMBEDDING_DIMENSIONS } from './embedding';

/**
 * The demo's embedder (README "Semantic memory"): feature hashing of words, so examples and the
 * demo run offline and give the same vector on every machine. Each lowercase word (letters and
 * digits) adds ±1 at a dimension chosen by its FNV-1a hash, the sign by another bit of the same
 * hash; the sum is scaled to length 1. Texts sharing words are similar (cosine), word order and
 * meaning are not seen. Production callers send their own model's vectors instead.
 */
export function hashingEmbedding(text: string): number[] {
  const vector = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const hash = fnv1a(word);
    vector[hash % EMBEDDING_DIMENSIONS]! += hash & 0x80000000 ? -1 : 1;
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((x) => x / norm);
}

/** sha256 of the text, the `text_sha256` a memory carries. */
export function textSha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function fnv1a(word: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(word, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
