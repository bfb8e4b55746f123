import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { CachedKey } from './keys';

/**
 * Per-key token buckets shared by every evaluator process through Redis: one Lua script refills a
 * key's bucket by Redis' own clock, takes back tokens a process did not use, takes what it can of
 * what was asked and says how long until the next token, atomically.
 *
 * So that a request does not pay a Redis round trip, a process claims tokens ahead: the requests
 * that find none wait together for one claim (everything asked in one event-loop turn), and the
 * claim also asks for a tenth of a second of this process's own demand since its last claim (at most
 * a tenth of a second of the key's rate and half its burst). When half of a claim is spent the next
 * one goes out, so under steady load no request waits for Redis. Claimed tokens are spent locally
 * for a tenth of a second after the last claim at most; what is left then goes back with the next
 * claim. A key can so be
 * refused slightly early while another process holds a claim; never served more than its bucket gave.
 *
 * Redis down: requests are let through and counted (`onUnchecked`). The key and its scope are
 * still checked in-process; limiting is there to share capacity, and refusing every keyed request
 * because the metrics store is away would turn a Redis outage into an outage of decisions, which
 * the evaluator is built never to do.
 */
export type RateVerdict = { ok: true } | { ok: false; retryAfterS: number };

export interface RateLimiter {
  /** Synchronous when the process already holds a token for the key. */
  take(key: CachedKey): RateVerdict | Promise<RateVerdict>;
}

const AHEAD_S = 0.1;
// A Redis that stops answering (rather than refusing) must not hold requests: after this, fail open.
const CLAIM_TIMEOUT_MS = 250;
const BUCKET_PREFIX = 'pkg:evaluator-key-bucket:';
const PASS: RateVerdict = { ok: true };

// KEYS[1] bucket; ARGV rate per second, burst, tokens asked, tokens given back.
// Returns {granted, ms until one more}.
const TAKE_TOKENS = `
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local asked, returned = tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000 + returned)
local granted = math.min(asked, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
local wait = 0
if granted < asked then wait = math.ceil((1 - tokens) * 1000 / rate) end
return {granted, wait}
`;

interface TokenRedis extends Redis {
  pkgTakeTokens(
    bucket: string,
    rate: number,
    burst: number,
    asked: number,
    returned: number,
  ): Promise<[number, number]>;
}

interface Bucket {
  held: number;
  /** Below this many held the next claim goes out, before they run out. */
  refillBelow: number;
  /** Moves what is still held to `unused` a tenth of a second after the last claim. */
  expiry: NodeJS.Timeout | undefined;
  /** Tokens spent since the last claim (at `spentSince`): the demand the next claim asks ahead for. */
  spent: number;
  spentSince: number;
  /** Tokens held past their tenth of a second, given back with the next claim. */
  unused: number;
  waiting: ((verdict: RateVerdict) => void)[];
  claiming: boolean;
}

export function createRateLimiter(redis: Redis, onUnchecked: (count: number) => void): RateLimiter {
  redis.defineCommand('pkgTakeTokens', { numberOfKeys: 1, lua: TAKE_TOKENS });
  const tokens = redis as TokenRedis;
  const buckets = new Map<string, Bucket>();

  const serveWaiting = (bucket: Bucket) => {
    while (bucket.held >= 1 && bucket.waiting.length > 0) {
      bucket.held -= 1;
      bucket.spent += 1;
      bucket.waiting.shift()!(PASS);
    }
  };

  const claim = async (key: CachedKey, bucket: Bucket) => {
    const batch = bucket.waiting.splice(0);
    const now = performance.now();
    // This process's demand since its last claim, scaled to a tenth of a second.
    const demand = Math.ceil((bucket.spent * AHEAD_S * 1000) / Math.max(1, now - bucket.spentSince));
    const ahead = Math.min(demand, Math.floor(key.ratePerS * AHEAD_S), Math.floor(key.burst / 2));
    const returned = bucket.unused;
    bucket.spent = 0;
    bucket.spentSince = now;
    bucket.unused = 0;
    try {
      const asked = tokens.pkgTakeTokens(
        BUCKET_PREFIX + key.id,
        key.ratePerS,
        key.burst,
        batch.length + ahead,
        returned,
      );
      const [granted, waitMs] = await withTimeout(asked, CLAIM_TIMEOUT_MS);
      const served = Math.min(granted, batch.length);
      batch.slice(0, served).forEach((resolve) => resolve(PASS));
      const refused: RateVerdict = { ok: false, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) };
      batch.slice(served).forEach((resolve) => resolve(refused));
      bucket.spent += served;
      bucket.held += granted - served;
      bucket.refillBelow = Math.floor(bucket.held / 2);
      expireHeld(bucket);
    } catch {
      onUnchecked(batch.length);
      batch.forEach((resolve) => resolve(PASS));
    }
  };

  const schedule = (key: CachedKey, bucket: Bucket) => {
    bucket.claiming = true;
    setImmediate(
      () =>
        void claim(key, bucket).finally(() => {
          bucket.claiming = false;
          serveWaiting(bucket);
          if (bucket.waiting.length > 0) schedule(key, bucket);
        }),
    );
  };

  const bucketOf = (id: string): Bucket => {
    let bucket = buckets.get(id);
    if (!bucket) buckets.set(id, (bucket = newBucket()));
    return bucket;
  };

  return {
    take(key) {
      const bucket = bucketOf(key.id);
      if (bucket.held >= 1) {
        bucket.held -= 1;
        bucket.spent += 1;
        if (bucket.held < bucket.refillBelow && !bucket.claiming) schedule(key, bucket);
        return PASS;
      }
      return new Promise((resolve) => {
        bucket.waiting.push(resolve);
        if (!bucket.claiming) schedule(key, bucket);
      });
    },
  };
}

function newBucket(): Bucket {
  const since = performance.now();
  return {
    held: 0,
    refillBelow: 0,
    expiry: undefined,
    spent: 0,
    spentSince: since,
    unused: 0,
    waiting: [],
    claiming: false,
  };
}

/** A timer per claim rather than a clock read per request: the clock is the dearer of the two. */
function expireHeld(bucket: Bucket): void {
  clearTimeout(bucket.expiry);
  bucket.expiry = setTimeout(() => {
    bucket.unused += bucket.held;
    bucket.held = 0;
  }, AHEAD_S * 1000);
  bucket.expiry.unref();
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
