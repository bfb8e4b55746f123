import { z } from 'zod';
import { PkgError } from '../errors';

/** Durations of rollout settings (bake, timeouts, webhook intervals): one number and one unit. */
const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new PkgError('InputInvalid', `bad duration ${JSON.stringify(text)}: expected e.g. 30s, 2m, 500ms`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export const durationSchema = z.string().regex(DURATION, 'a duration such as 500ms, 30s, 2m or 1h');
