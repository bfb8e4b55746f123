import type { Socket } from 'node:net';
import { laneName, type Lane } from '../../policy/lane';
import type { CachedKey, EvaluatorKeyCache } from './keys';
import type { RateLimiter, RateVerdict } from './rate-limit';

/**
 * Who may evaluate which lane (README "Evaluator keys"), decided before the lane is looked at, so a
 * refused request never makes the evaluator load a lane. A lane that needs no key is open to
 * requests without one; a key that is presented is always checked, whatever the lane.
 */
export type Admission = { ok: true } | { ok: false; status: 401 | 403 | 429; reason: string; retryAfterS?: number };

export const REFUSAL_REASONS = ['unauthorized', 'forbidden', 'rate_limited'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface AccessGate {
  /** Synchronous unless the key's tokens must first be claimed from Redis. */
  admit(authorization: string | undefined, socket: Socket, lane: Lane): Admission | Promise<Admission>;
}

export interface AccessGateDeps {
  keys: EvaluatorKeyCache;
  limiter: RateLimiter;
  keyRequired(lane: Lane): boolean;
  onRefused(reason: RefusalReason): void;
}

const ADMITTED: Admission = { ok: true };
// The same line whatever was wrong, so a caller learns nothing about which keys exist.
const UNAUTHORIZED = 'unauthorized: this lane needs a valid evaluator key (Authorization: Bearer <key>)';

export function createAccessGate(deps: AccessGateDeps): AccessGate {
  const refuse = (reason: RefusalReason, admission: Admission): Admission => {
    deps.onRefused(reason);
    return admission;
  };
  const limited = (key: CachedKey, verdict: RateVerdict): Admission =>
    verdict.ok
      ? ADMITTED
      : refuse('rate_limited', {
          ok: false,
          status: 429,
          reason: `rate limited: evaluator key ${key.name} allows ${key.ratePerS}/s (burst ${key.burst})`,
          retryAfterS: verdict.retryAfterS,
        });
  return {
    admit(authorization, socket, lane) {
      if (authorization === undefined && !deps.keyRequired(lane)) return ADMITTED;
      const key = deps.keys.authenticate(authorization, socket);
      if (!key) return refuse('unauthorized', { ok: false, status: 401, reason: UNAUTHORIZED });
      if (!key.allows(lane))
        return refuse('forbidden', {
          ok: false,
          status: 403,
          reason: `forbidden: evaluator key ${key.name} may not evaluate lane ${laneName(lane)}`,
        });
      const verdict = deps.limiter.take(key);
      if (verdict instanceof Promise) return verdict.then((later) => limited(key, later));
      return verdict.ok ? ADMITTED : limited(key, verdict);
    },
  };
}
