import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signatures of everything the pipeline sends out (rollout webhooks, notifications), so a receiver
 * can tell a call came from here and is fresh. The HMAC-SHA256 covers `<timestamp>.<body>` (the
 * exact body bytes), the timestamp travels in its own header, and a receiver refuses a timestamp
 * outside its tolerance: a captured call cannot be replayed later, nor re-dated without the secret.
 */
export const SIGNATURE_HEADER = 'x-pkg-signature';
export const TIMESTAMP_HEADER = 'x-pkg-timestamp';
/** Same for every retry of one call: the receiver dedupes by it. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** Five minutes, as Slack and Stripe use: room for clock skew and retries, not for a replay next week. */
export const DEFAULT_TOLERANCE_S = 300;

export function signBody(secret: string, timestampS: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/** The headers of one outgoing call; unsigned (no signature header) when no secret is configured. */
export function deliveryHeaders(
  body: string,
  idempotencyKey: string,
  timestampS: number,
  secret?: string,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    [IDEMPOTENCY_HEADER]: idempotencyKey,
    [TIMESTAMP_HEADER]: String(timestampS),
    ...(secret ? { [SIGNATURE_HEADER]: signBody(secret, timestampS, body) } : {}),
  };
}

export interface SignedCall {
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
}

/** What a receiver runs: true only for the right secret, the exact body and a fresh timestamp. */
export function verifySignature(secret: string, call: SignedCall, nowS: number, toleranceS = DEFAULT_TOLERANCE_S) {
  const timestampS = Number(call.timestamp);
  if (!Number.isInteger(timestampS) || Math.abs(nowS - timestampS) > toleranceS) return false;
  const expected = Buffer.from(signBody(secret, timestampS, call.body));
  const given = Buffer.from(call.signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
