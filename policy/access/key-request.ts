import { z } from 'zod';
import { durationSchema } from '../facts/duration';
import { parseKeyScope } from './key-scope';

/**
 * What `pkgctl evaluator-key create` may ask for, checked before anything is written. A key's burst
 * defaults to two seconds of its rate, so a client that paused briefly is not refused for catching up.
 */
export const DEFAULT_KEY_RATE_PER_S = 100;
const MAX_KEY_RATE_PER_S = 10_000_000;

const number = (what: string) =>
  z.union([z.number(), z.string().trim().min(1)]).transform((value, ctx) => {
    const parsed = Number(value);
    if (Number.isFinite(parsed)) return parsed;
    ctx.addIssue({ code: 'custom', message: what });
    return z.NEVER;
  });

export const evaluatorKeyRequestSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'letters, digits, _ . - (at most 100), e.g. checkout-prod'),
    scope: z.string().transform((text, ctx) => {
      const parsed = parseKeyScope(text);
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.reason.replace(/^scope: /, '') });
      return z.NEVER;
    }),
    rate: number('requests per second, e.g. 100')
      .pipe(z.number().gt(0, 'more than 0 per second').max(MAX_KEY_RATE_PER_S, `at most ${MAX_KEY_RATE_PER_S}`))
      .default(DEFAULT_KEY_RATE_PER_S),
    burst: number('a whole count, e.g. 200').pipe(z.number().int('a whole count').min(1, 'at least 1')).optional(),
    expiresIn: durationSchema(1000).optional(),
  })
  .strict()
  .transform(({ burst, ...request }) => ({ ...request, burst: burst ?? Math.max(1, Math.ceil(request.rate * 2)) }));

export type EvaluatorKeyCreation = z.output<typeof evaluatorKeyRequestSchema>;
