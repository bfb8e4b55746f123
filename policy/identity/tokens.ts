import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ENVS, envSchema, type Env } from '../lane';
import { durationSchema } from '../facts/duration';
import { ROLES } from './access';

/**
 * API tokens: `pkg_` and 43 base64url characters of 32 random bytes. Only the sha256 is stored;
 * 256 random bits need no slow hash, and a fast one lets the API find a token by one index lookup.
 */
export const TOKEN_PREFIX = 'pkg_';
export const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^pkg_[A-Za-z0-9_-]{43}$/;
const DEFAULT_LIFETIME = '90d';

/** The token text for 32 random bytes (randomness injected: pure code, testable). */
export function formatToken(random: Uint8Array): string {
  if (random.byteLength !== TOKEN_BYTES) throw new RangeError(`a token needs ${TOKEN_BYTES} random bytes`);
  return `${TOKEN_PREFIX}${Buffer.from(random).toString('base64url')}`;
}

export const looksLikeToken = (text: string): boolean => TOKEN_PATTERN.test(text);

export const tokenHash = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Constant-time: a stored hash equals the hash of the presented token. */
export function sameTokenHash(stored: Uint8Array, presented: Uint8Array): boolean {
  return stored.byteLength === presented.byteLength && timingSafeEqual(stored, presented);
}

/** `*` or a comma list of envs. */
const envScopeSchema = z.string().transform((text, ctx): Env[] => {
  if (text.trim() === '*') return [...ENVS];
  const envs = text.split(',').map((part) => envSchema.safeParse(part.trim()));
  if (envs.every((env) => env.success)) return [...new Set(envs.map((env) => env.data))];
  ctx.addIssue({ code: 'custom', message: `"${text}" is not * or a comma list of prod, staging, dev` });
  return z.NEVER;
});

export const tokenRequestSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (at most 64, starting with a letter or digit)'),
  role: z.enum(ROLES, { error: ROLES.join(', ') }),
  envs: envScopeSchema,
  expiresIn: durationSchema(60_000).prefault(DEFAULT_LIFETIME),
});
export type TokenRequest = z.input<typeof tokenRequestSchema>;
export type NewToken = z.output<typeof tokenRequestSchema>;

/** What audit rows record for a token's holder. */
export const tokenSubject = (name: string): string => `token:${name}`;
