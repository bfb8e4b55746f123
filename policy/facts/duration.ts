import { z } from 'zod';

/** Units accepted in a duration such as `2h`, `90s` or `1h30m`, in milliseconds. */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_PATTERN = /^(\d+(ms|s|m|h|d))+$/;
const PART_PATTERN = /(\d+)(ms|s|m|h|d)/g;

/** Milliseconds in a duration like `2h` or `1h30m`, or null when the text is not one. */
export function parseDuration(text: string): number | null {
  if (!DURATION_PATTERN.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART_PATTERN)) {
    total += Number(amount) * UNIT_MS[unit as Unit];
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** A duration string, parsed to milliseconds; `min` is the smallest allowed value. */
export function durationSchema(min = 0) {
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text.trim());
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (e.g. 90s, 15m, 2h, 1h30m, 7d)` });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is shorter than ${formatDuration(min)}` });
      return z.NEVER;
    }
    return ms;
  });
}

/** The shortest exact rendering, e.g. 5400000 → `1h30m`; used in messages and schedule memos. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    if (amount > 0) parts.push(`${amount}${unit}`);
    rest -= amount * UNIT_MS[unit];
  }
  return parts.join('');
}
