import { randomUUID } from 'node:crypto';
import { createDecisionLogBuffer, type BufferStats } from '../../policy/decision-log/buffer';
import { decisionLogRowJson, partitionDays, type DecisionLogEntry } from '../../policy/decision-log/entry';
import type { DecisionLogMask } from '../../policy/decision-log/masking';
import { isSampled, sampleRate, type DecisionLogSampling } from '../../policy/decision-log/sampling';
import { ensureDecisionLogPartitions, insertDecisionLogs } from '../../activities/store/decision-logs';
import type { Queryable } from '../../activities/store/transaction';
import type { EvaluatorProm } from './prom';
import { oneLine } from './service';

/**
 * The evaluator's decision log (README "Decision logs"): a sampled decision is masked and rendered
 * to its row's JSON at once, then waits in a bounded buffer to be written in batches by a timer, or
 * as soon as a batch is full, never by a request. A full buffer or a failed write drops entries,
 * counted in /metrics and /readyz.
 *
 * Rendering at once rather than at the flush: nothing unmasked waits in memory, the buffer holds a
 * string per decision rather than the request's objects (input, facts, decision) for the garbage
 * collector to trace, and a flush does no per-row work inside the event loop turn that sends it.
 */
export interface DecisionLogDeps {
  db: Queryable;
  sampling: DecisionLogSampling;
  mask: DecisionLogMask;
  hash: (value: string) => string;
  capacity: number;
  flushMs: number;
  prom: Pick<EvaluatorProm, 'decisionLogDropped' | 'decisionLogWritten'>;
  random?: () => number;
  now?: () => number;
}

export type DecisionDraft = Omit<DecisionLogEntry, 'decisionId' | 'at'>;

/** A decision's row, masked and rendered, waiting for its batch. */
interface PendingRow {
  at: number;
  json: string;
}

export interface DecisionLogStatus extends BufferStats {
  written: number;
  last_write_error: string | null;
}

export interface DecisionLog {
  /** The decision's id when it was sampled and buffered, else null. Never waits. */
  record(draft: DecisionDraft): string | null;
  /** Writes what is buffered now; concurrent calls share one drain. */
  flush(): Promise<void>;
  status(): DecisionLogStatus;
  start(): void;
  /** Stops the timer and writes what is left. */
  stop(): Promise<void>;
}

/** Rows per INSERT; also the buffer depth that starts a write before the timer does. */
export const DECISION_LOG_BATCH = 500;

export function createDecisionLog(deps: DecisionLogDeps): DecisionLog {
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const buffer = createDecisionLogBuffer<PendingRow>(deps.capacity, (reason, count) =>
    deps.prom.decisionLogDropped.labels(reason).inc(count),
  );
  const knownDays = new Set<string>();
  let written = 0;
  let lastError: string | null = null;
  let draining: Promise<void> | null = null;
  let drainQueued = false;
  let timer: NodeJS.Timeout | null = null;

  const write = async (batch: PendingRow[]) => {
    const missing = partitionDays(batch).filter((day) => !knownDays.has(day));
    if (missing.length > 0) {
      await ensureDecisionLogPartitions(deps.db, missing);
      missing.forEach((day) => knownDays.add(day));
    }
    await insertDecisionLogs(
      deps.db,
      batch.map((row) => row.json),
    );
  };

  // A failed batch is dropped rather than kept for a retry: through an outage, memory stays at the
  // buffer's bound and the loss is counted.
  const drain = async () => {
    while (buffer.length > 0) {
      const batch = buffer.take(DECISION_LOG_BATCH);
      try {
        await write(batch);
        written += batch.length;
        deps.prom.decisionLogWritten.inc(batch.length);
        lastError = null;
      } catch (error) {
        buffer.countDropped('write_failed', batch.length);
        lastError = oneLine(error);
        return;
      }
    }
  };
  const flush = () => (draining ??= drain().finally(() => (draining = null)));

  return {
    record(draft) {
      if (!isSampled(sampleRate(deps.sampling, draft.lane), random())) return null;
      const entry: DecisionLogEntry = { ...draft, decisionId: randomUUID(), at: now() };
      // An overloaded evaluator drops before rendering: the drop costs nothing but the count.
      if (!buffer.offer(() => ({ at: entry.at, json: decisionLogRowJson(entry, deps.mask, deps.hash) }))) return null;
      // Deferred: the write must not start inside the request that filled the batch.
      if (buffer.length >= DECISION_LOG_BATCH && !draining && !drainQueued) {
        drainQueued = true;
        setImmediate(() => {
          drainQueued = false;
          void flush();
        });
      }
      return entry.decisionId;
    },
    flush,
    status: () => ({ ...buffer.stats(), written, last_write_error: lastError }),
    start() {
      timer = setInterval(() => void flush(), deps.flushMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await draining;
      await flush();
    },
  };
}
