import { z } from 'zod';
import { PkgError } from '../errors';
import { describeIssues } from '../engine/evaluation-request';
import { durationSchema } from '../facts/duration';
import { embeddingProblem, MEMORY_TIERS, type MemoryTier } from './embedding';

/**
 * A Unified Cortex memory (README "Semantic memory"): what `pkgctl memory import|add` accept, checked
 * before anything reaches the database, and its tuple in COPY's binary format.
 */
export interface MemoryRecord {
  id: string;
  tier: MemoryTier;
  label: string;
  textSha256: string;
  embedding: number[];
  /** A snapshot version, or null: a memory of every snapshot's world. */
  snapshot: string | null;
}

const plainText = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .min(1, `${field} must not be empty`)
    .max(200, `${field} is at most 200 characters`)
    .refine(
      (text) => ![...text].some((c) => c < ' ' || c === '\\'),
      `${field} must not contain control characters or \\`,
    );

const memoryFields = z.strictObject({
  id: plainText('id'),
  tier: z.enum(MEMORY_TIERS, { error: `tier must be one of ${MEMORY_TIERS.join(', ')}` }),
  label: plainText('label'),
  text_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'text_sha256 must be 64 lowercase hex digits'),
  embedding: z.unknown(),
  snapshot: z.string().min(1).max(200).nullable().default(null),
});

/** One JSON object as a memory; `where` (file:line, or a flag) starts every error's message. */
export function parseMemory(value: unknown, where: string): MemoryRecord {
  const parsed = memoryFields.safeParse(value);
  if (!parsed.success) throw new PkgError('InputInvalid', `${where}: ${describeIssues(parsed.error.issues)}`);
  const { id, tier, label, text_sha256, embedding, snapshot } = parsed.data;
  const problem = embeddingProblem(embedding);
  if (problem) throw new PkgError('InputInvalid', `${where}: embedding ${problem}`);
  return { id, tier, label, textSha256: text_sha256, embedding: embedding as number[], snapshot };
}

/** `pkgctl memory prune` and POST /v1/memories/prune: durations as text, e.g. `olderThan: '30d'`. */
export const memoryPruneRequestSchema = z
  .strictObject({
    olderThan: durationSchema(0),
    tier: z.enum(MEMORY_TIERS, { error: `expected one of ${MEMORY_TIERS.join(', ')}` }).optional(),
    snapshot: z.string().min(1).max(200).optional(),
    dryRun: z.boolean().default(false),
  })
  .transform(({ olderThan, ...request }) => ({ olderThanMs: olderThan, ...request }));

/** One line of a JSONL file; blank lines are the caller's to skip. */
export function parseMemoryLine(line: string, where: string): MemoryRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new PkgError(
      'InputInvalid',
      `${where}: not JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  return parseMemory(value, where);
}

/**
 * COPY's binary format (PostgreSQL docs, "COPY", Binary Format): pgvector reads a vector as int16
 * dimensions, int16 zero, then float4s, all big-endian, so the server never parses decimal text,
 * which costs more than the rest of an import together.
 */
export const COPY_BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);
const COPY_FIELDS = 6;

/** One tuple: id, tier, label, text hash, embedding, snapshot id (a uuid, or NULL). */
export function copyTuple(memory: MemoryRecord, snapshotId: string | null): Buffer {
  const texts = [memory.id, memory.tier, memory.label, memory.textSha256].map((text) => Buffer.from(text, 'utf8'));
  const vectorBytes = 4 + 4 * memory.embedding.length;
  const size = 2 + texts.reduce((sum, text) => sum + 4 + text.length, 0) + 4 + vectorBytes + 4 + (snapshotId ? 16 : 0);
  const tuple = Buffer.allocUnsafe(size);
  let at = tuple.writeInt16BE(COPY_FIELDS, 0);
  for (const text of texts) {
    at = tuple.writeInt32BE(text.length, at);
    at += text.copy(tuple, at);
  }
  at = tuple.writeInt32BE(vectorBytes, at);
  at = tuple.writeInt16BE(memory.embedding.length, at);
  at = tuple.writeInt16BE(0, at);
  for (const x of memory.embedding) at = tuple.writeFloatBE(x, at);
  if (snapshotId === null) tuple.writeInt32BE(-1, at);
  else Buffer.from(snapshotId.replaceAll('-', ''), 'hex').copy(tuple, tuple.writeInt32BE(16, at));
  return tuple;
}
