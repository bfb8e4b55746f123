import { createHash, createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ParseResult } from '../engine/evaluation-request';

/**
 * Masking of a decision log's input, applied before the entry leaves the evaluator: listed fields
 * are dropped, others replaced by a SHA-256 hex digest so that equal values still group together
 * (the same guest's decisions stay linkable) without the value itself being stored.
 *
 * A path is dotted from the input's top level (`context.subject`, `facts.object.card`); where it
 * meets an array it applies to every element, and a hashed array has each element hashed, so the
 * input keeps the shape a replay parses.
 */
export interface DecisionLogMask {
  hash: readonly MaskPath[];
  drop: readonly MaskPath[];
}

export type MaskPath = readonly string[];

/** The input's top-level fields (ARCHITECTURE.md §4): a path starting elsewhere is a typo. */
const INPUT_FIELDS = ['tags', 'signals', 'context', 'facts'];
const SEGMENT = /^[A-Za-z0-9_$-]+$/;

/** A comma list of dotted paths; empty text means none. */
export function parseMaskPaths(text: string): ParseResult<MaskPath[]> {
  const paths: MaskPath[] = [];
  for (const item of text.split(',').map((part) => part.trim())) {
    if (item === '') continue;
    const segments = item.split('.');
    if (!segments.every((segment) => SEGMENT.test(segment)))
      return { ok: false, reason: `"${item}" is not a dotted path such as context.subject` };
    if (!INPUT_FIELDS.includes(segments[0]!))
      return { ok: false, reason: `"${item}" must start with one of the input's fields ${INPUT_FIELDS.join(', ')}` };
    paths.push(segments);
  }
  return { ok: true, value: paths };
}

/** Digests remembered: the same subjects recur decision after decision, and a digest costs more than the rest of a line. */
const REMEMBERED_DIGESTS = 10_000;

/**
 * Plain SHA-256 when no salt is given; HMAC-SHA256 keyed with the installation's salt otherwise,
 * because subjects are guessable (`guest:Ben`) and a plain digest of a guessable value can be
 * reversed by hashing candidates.
 */
export function createMaskHasher(salt?: string): (value: string) => string {
  const digest =
    salt === undefined
      ? (value: string) => createHash('sha256').update(value).digest('hex')
      : (value: string) => createHmac('sha256', salt).update(value).digest('hex');
  const remembered = new LRUCache<string, string>({ max: REMEMBERED_DIGESTS });
  return (value) => {
    let hex = remembered.get(value);
    if (hex === undefined) remembered.set(value, (hex = digest(value)));
    return hex;
  };
}

const DROP = Symbol('drop');

/** A masked copy: only the containers along a masked path are copied, the input is never changed. */
export function maskInput<T extends object>(input: T, mask: DecisionLogMask, hash: (value: string) => string): T {
  let masked: unknown = input;
  for (const path of mask.drop) masked = applyAt(masked, path, () => DROP);
  for (const path of mask.hash) masked = applyAt(masked, path, (leaf) => hashLeaf(leaf, hash));
  return masked as T;
}

function hashLeaf(leaf: unknown, hash: (value: string) => string): unknown {
  if (Array.isArray(leaf)) return leaf.map((element) => hashLeaf(element, hash));
  return hash(typeof leaf === 'string' ? leaf : JSON.stringify(leaf));
}

function applyAt(value: unknown, path: MaskPath, change: (leaf: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((element) => applyAt(element, path, change));
  if (typeof value !== 'object' || value === null) return value;
  const [key, ...rest] = path as [string, ...string[]];
  if (!Object.hasOwn(value, key)) return value;
  const inner = (value as Record<string, unknown>)[key];
  const next = rest.length === 0 ? change(inner) : applyAt(inner, rest, change);
  if (next === inner) return value;
  const copy: Record<string, unknown> = { ...value };
  if (next === DROP) delete copy[key];
  else copy[key] = next;
  return copy;
}
