import { z } from 'zod';
import { PkgError, type Problem } from '../errors';
import { durationSchema } from './duration';

/**
 * What a caller may say about a fact and a cleanup, validated before anything touches the
 * database. Inputs arrive as CLI strings or plain objects; both go through the same schemas.
 */
export const DEFAULT_NAMESPACE = 'default';
/** Facts stay this long after expiring, so a late reader still finds them in the live table. */
export const DEFAULT_CLEANUP_GRACE_MS = 3_600_000;
export const DEFAULT_CLEANUP_BATCH = 5000;
export const MAX_CLEANUP_BATCH = 100_000;

const name = () => z.string().trim().min(1, 'must not be empty');

const timestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 timestamp with a zone, e.g. 2026-05-01T12:00:00Z' })
  .transform((text) => new Date(text));

const jsonObject = z.union([z.string(), z.record(z.string(), z.unknown())]).transform((value, ctx) => {
  const parsed = typeof value === 'string' ? parseJson(value) : { ok: true as const, value };
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `is not JSON (${parsed.reason})` });
    return z.NEVER;
  }
  if (parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a JSON object like {"service":"lounge"}, got ${kindOf(parsed.value)}`,
    });
    return z.NEVER;
  }
  return parsed.value as Record<string, unknown>;
});

export const factInputSchema = z
  .object({
    namespace: name().default(DEFAULT_NAMESPACE),
    subject: name(),
    predicate: name(),
    object: jsonObject.default({}),
    validFrom: timestamp.optional(),
    validTo: timestamp.optional(),
    ttl: durationSchema(1).optional(),
  })
  .strict()
  .superRefine((fact, ctx) => {
    if (fact.validTo && fact.ttl !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['ttl'], message: 'give either valid_to or ttl, not both' });
    }
    if (fact.validFrom && fact.validTo && fact.validFrom > fact.validTo) {
      ctx.addIssue({
        code: 'custom',
        path: ['validTo'],
        message: `valid_from ${fact.validFrom.toISOString()} is after valid_to ${fact.validTo.toISOString()}`,
      });
    }
  });

export type FactInput = z.input<typeof factInputSchema>;
/** A validated fact; a missing valid_from means "now" on the database clock, ttl counts from it. */
export type NewFact = z.output<typeof factInputSchema>;

export const factCleanupRequestSchema = z
  .object({
    namespace: name()
      .nullish()
      .transform((value) => value ?? null),
    dryRun: z.boolean().default(false),
    grace: durationSchema(0).default(DEFAULT_CLEANUP_GRACE_MS),
    batchSize: z.number().int().min(1).max(MAX_CLEANUP_BATCH).default(DEFAULT_CLEANUP_BATCH),
    batchPauseMs: z.number().int().min(0).max(60_000).default(0),
  })
  .strict();

/** What a cleanup workflow or CLI call receives: plain JSON, durations as text (e.g. `grace: '1h'`). */
export type FactCleanupRequest = z.input<typeof factCleanupRequestSchema>;
/** A validated cleanup: null namespace means every namespace; grace in milliseconds. */
export type FactCleanupOptions = z.output<typeof factCleanupRequestSchema>;

/** Parses with a schema; every problem becomes one located line of a PkgError('InputInvalid'). */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  summary: string,
  nameOf: (key: string) => string = (key) => key,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems: Problem[] = result.error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map((key) => nameOf(String(key))).join('.') : undefined,
    message: issue.message,
  }));
  throw PkgError.fromProblems('InputInvalid', summary, problems);
}

/** `validTo` → `--valid-to`: CLI users see the flag they typed. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
