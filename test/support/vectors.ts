import { EMBEDDING_DIMENSIONS } from '../../policy/cortex/embedding';

/** Embeddings with a known cosine similarity to each other, for tests and the benchmark. */

/** A direction drawn uniformly (normal coordinates, Box–Muller), length 1. */
export function randomUnitVector(dimensions = EMBEDDING_DIMENSIONS, random: () => number = Math.random): number[] {
  const vector = Array.from({ length: dimensions }, () => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  });
  return normalised(vector);
}

/** A unit vector whose cosine similarity to the unit vector `to` is exactly `similarity`. */
export function similarTo(to: readonly number[], similarity: number, random: () => number = Math.random): number[] {
  const r = randomUnitVector(to.length, random);
  const along = dot(r, to);
  const orthogonal = normalised(r.map((x, i) => x - along * to[i]!));
  const across = Math.sqrt(1 - similarity * similarity);
  return to.map((x, i) => similarity * x + across * orthogonal[i]!);
}

export function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function normalised(vector: number[]): number[] {
  const norm = Math.sqrt(dot(vector, vector));
  return vector.map((x) => x / norm);
}
