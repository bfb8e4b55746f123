import type { Redis } from 'ioredis';
import { LATENCY_BUCKET_COUNT, emptyHistogram, latencyBucketIndex } from '../../policy/rollout/latency-histogram';
import type { Lane } from '../../policy/lane';

/**
 * Per-version, per-lane evaluator metrics in Redis (ARCHITECTURE.md §5), what the promotion gates judge.
 * One hash per (lane, version, second) holds request, error, latency-bucket and shadow counters;
 * each evaluator adds its counts with HINCRBY, so N evaluators sum up without coordination.
 * Keys expire after a TTL so the store never grows without bound.
 */
export const METRICS_BUCKET_MS = 1000;
const KEY_PREFIX = 'pkg:metrics:v1';
// Bounds memory while Redis is down: about 10 minutes of one lane's two versions.
const MAX_PENDING_KEYS = 1200;
const READ_CHUNK = 500;

export interface VersionMetrics {
  requests: number;
  errors: number;
  /** Counts per bucket of policy/latency-histogram.ts (one more slot than its bounds: overflow). */
  latencyBuckets: number[];
  /** Shadow comparisons of a candidate against the lane's serving version, counted under the candidate. */
  shadow: { compared: number; diverged: number };
}

export interface MetricsWindow {
  fromMs: number;
  toMs: number;
}

const FIELD = { requests: 'r', errors: 'e', compared: 'sc', diverged: 'sd' } as const;
const latencyField = (index: number) => `l${index}`;

export function metricsKey(lane: Lane, version: string, bucketStartMs: number): string {
  return bucketKey(metricsKeyPrefix(lane, version), bucketStartMs);
}

function metricsKeyPrefix(lane: Lane, version: string): string {
  const parts = [lane.env, lane.target, lane.region, version].map(encodeURIComponent);
  return `${KEY_PREFIX}:${parts.join(':')}`;
}

const bucketKey = (prefix: string, ms: number) => `${prefix}:${Math.floor(ms / METRICS_BUCKET_MS)}`;

// Encoding four parts per request showed in profiles; a lane's version keeps one prefix.
const MAX_PREFIXES = 4096;

export interface LaneMetricsRecorder {
  recordRequest(lane: Lane, version: string, sample: { error: boolean; micros: number }): void;
  recordShadow(lane: Lane, candidateVersion: string, diverged: boolean): void;
  /** Sends what accumulated; counts that Redis refused stay pending for the next flush. */
  flush(): Promise<void>;
  pendingKeys(): number;
}

export interface RecorderOptions {
  ttlSeconds: number;
  now?: () => number;
}

/** Counts accumulate in memory on the hot path and reach Redis in one pipeline per flush. */
export function createLaneMetricsRecorder(redis: Redis, options: RecorderOptions): LaneMetricsRecorder {
  const now = options.now ?? Date.now;
  let pending = new Map<string, Map<string, number>>();
  const prefixes = new Map<string, string>();
  const keyOf = (lane: Lane, version: string) => {
    const id = `${lane.env}\u0000${lane.target}\u0000${lane.region}\u0000${version}`;
    let prefix = prefixes.get(id);
    if (prefix === undefined) {
      if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
      prefixes.set(id, (prefix = metricsKeyPrefix(lane, version)));
    }
    return bucketKey(prefix, now());
  };

  const add = (key: string, field: string, by: number) => {
    let fields = pending.get(key);
    if (!fields) pending.set(key, (fields = new Map<string, number>()));
    fields.set(field, (fields.get(field) ?? 0) + by);
  };

  const restore = (batch: Map<string, Map<string, number>>) => {
    for (const [key, fields] of batch) for (const [field, by] of fields) add(key, field, by);
    for (const key of pending.keys()) {
      if (pending.size <= MAX_PENDING_KEYS) break;
      pending.delete(key);
    }
  };

  return {
    recordRequest(lane, version, { error, micros }) {
      const key = keyOf(lane, version);
      add(key, FIELD.requests, 1);
      if (error) add(key, FIELD.errors, 1);
      add(key, latencyField(latencyBucketIndex(micros)), 1);
    },
    recordShadow(lane, candidateVersion, diverged) {
      const key = keyOf(lane, candidateVersion);
      add(key, FIELD.compared, 1);
      if (diverged) add(key, FIELD.diverged, 1);
    },
    async flush() {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      try {
        await sendBatch(redis, batch, options.ttlSeconds);
      } catch {
        restore(batch);
        throw new Error(`metrics flush failed; ${pending.size} bucket(s) kept for the next try`);
      }
    },
    pendingKeys: () => pending.size,
  };
}

// A pipeline that fails as a whole (connection down) is retried as a whole; HINCRBY counts are
// only re-queued when no command of the batch reached Redis, so a retry never counts twice.
async function sendBatch(redis: Redis, batch: Map<string, Map<string, number>>, ttlSeconds: number): Promise<void> {
  if (redis.status !== 'ready') throw new Error('redis not ready');
  const pipeline = redis.pipeline();
  for (const [key, fields] of batch) {
    for (const [field, by] of fields) pipeline.hincrby(key, field, by);
    pipeline.expire(key, ttlSeconds);
  }
  const results = await pipeline.exec();
  if (!results || results.every(([error]) => error)) throw new Error('metrics pipeline failed');
}

/**
 * Where a window read up to `toMs` really ends: whole buckets are counted, so the bucket holding
 * `toMs` is read to its end. The next window starts there and shares no bucket with this one.
 */
export function windowEndMs(toMs: number): number {
  return Math.ceil(toMs / METRICS_BUCKET_MS) * METRICS_BUCKET_MS;
}

/**
 * Candidate and baseline figures for a lane over [fromMs, toMs), summed over every evaluator.
 * Whole one-second buckets overlapping the window are counted; counts reach Redis within about a
 * second of the request (the evaluator's flush period), so read a window that ended ≥ 2 s ago.
 */
export async function readLaneMetrics(
  redis: Redis,
  lane: Lane,
  versions: { candidate: string; baseline: string | null },
  window: MetricsWindow,
): Promise<{ candidate: VersionMetrics; baseline: VersionMetrics | null }> {
  const candidate = await readVersionMetrics(redis, lane, versions.candidate, window);
  const baseline = versions.baseline === null ? null : await readVersionMetrics(redis, lane, versions.baseline, window);
  return { candidate, baseline };
}

export async function readVersionMetrics(
  redis: Redis,
  lane: Lane,
  version: string,
  window: MetricsWindow,
): Promise<VersionMetrics> {
  const keys: string[] = [];
  for (let t = window.fromMs - (window.fromMs % METRICS_BUCKET_MS); t < window.toMs; t += METRICS_BUCKET_MS) {
    keys.push(metricsKey(lane, version, t));
  }
  const metrics: VersionMetrics = {
    requests: 0,
    errors: 0,
    latencyBuckets: emptyHistogram(),
    shadow: { compared: 0, diverged: 0 },
  };
  for (let i = 0; i < keys.length; i += READ_CHUNK) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(i, i + READ_CHUNK)) pipeline.hgetall(key);
    for (const [error, hash] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      addHash(metrics, hash as Record<string, string>);
    }
  }
  return metrics;
}

function addHash(metrics: VersionMetrics, hash: Record<string, string>): void {
  for (const [field, raw] of Object.entries(hash)) {
    const value = Number(raw);
    if (field === FIELD.requests) metrics.requests += value;
    else if (field === FIELD.errors) metrics.errors += value;
    else if (field === FIELD.compared) metrics.shadow.compared += value;
    else if (field === FIELD.diverged) metrics.shadow.diverged += value;
    else if (field.startsWith('l')) {
      const index = Number(field.slice(1));
      if (Number.isInteger(index) && index >= 0 && index < LATENCY_BUCKET_COUNT)
        metrics.latencyBuckets[index]! += value;
    }
  }
}
