import {
  chunkDecisions,
  decisionLogLine,
  partitionDays,
  type DecisionLogEntry,
  type LoggedLine,
} from '../../policy/decision-log/entry';
import { createMaskHasher, type DecisionLogMask } from '../../policy/decision-log/masking';
import type { Config } from '../../policy/config';
import { parseEvaluationInput } from '../../policy/engine/evaluation-request';
import type { Fact } from '../../policy/engine/evaluation';
import { ensureDecisionLogPartitions, insertDecisionLogChunks } from '../../activities/store/decision-logs';
import type { Queryable } from '../../activities/store/transaction';
import type { LoggedRequest, WriterCommand, WriterReport } from './decision-log';
import { decisionBatchReader } from './decision-log-batch';
import { createEvaluatorPool } from './pool';
import { oneLine } from './service';

/**
 * The decision log's writer, run in a thread of its own (decision-log-thread.ts): masks and
 * renders each decision to its line, then writes lines in chunks, one statement per batch. Each
 * decision taken in is reported back once, written or failed, which is how the evaluator keeps its
 * bound and its counts. A failed batch is reported and dropped rather than kept for a retry:
 * through an outage memory stays at the bound and the loss is counted.
 */
export interface DecisionLogWriterDeps {
  db: Queryable;
  mask: DecisionLogMask;
  hash: (value: string) => string;
  /** Lines per chunk; also the backlog that starts a write before the timer does. */
  batch: number;
  report: (message: WriterReport) => void;
}

export interface DecisionLogWriter {
  /** Resolves once the command is done: for flush and stop, when everything taken in is written or failed. */
  handle(command: WriterCommand): Promise<void>;
  /** Writes what is waiting (the timer's call). */
  drain(): Promise<void>;
}

/**
 * The writer's connection and mask from the evaluator's settings. One connection: batches are
 * written one at a time. Without waiting for the commit's WAL flush: a crash of Postgres may lose
 * the last moments of a log that was never durable in the evaluator's memory either, and each
 * batch holds the writer a disk flush less.
 */
export function writerSetup(config: Config) {
  const pool = createEvaluatorPool(config, 1);
  Object.assign(pool.options, { options: '-c synchronous_commit=off' });
  const mask: DecisionLogMask = { hash: config.DECISION_LOG_MASK_HASH, drop: config.DECISION_LOG_MASK_DROP };
  return { pool, mask, hash: createMaskHasher(config.DECISION_LOG_MASK_SALT) };
}

export function createDecisionLogWriter(deps: DecisionLogWriterDeps): DecisionLogWriter {
  const knownDays = new Set<string>();
  const read = decisionBatchReader();
  let lines: LoggedLine<Buffer>[] = [];
  let draining: Promise<void> | null = null;

  /** The line of one decision, its input parsed from the body as strictly as the request path parsed it. */
  const lineOf = (logged: LoggedRequest): LoggedLine<Buffer> => {
    // Plain JSON.parse: the request path parsed these same bytes with prototype poisoning refused.
    const body: unknown = JSON.parse(logged.requestJson);
    const parsed = parseEvaluationInput((body as { input?: unknown }).input, logged.mode);
    if (!parsed.ok) throw new Error(`logged request no longer parses: ${parsed.reason}`);
    const input = parsed.value;
    const facts = logged.factsJson === null ? (input.facts ?? []) : (JSON.parse(logged.factsJson) as Fact[]);
    // Field by field rather than spread: adding input and facts to a copy of the 12-field record
    // sent V8 down its slow path, for the copy and for every read of it (3 µs a decision).
    const entry: DecisionLogEntry = {
      decisionId: logged.decisionId,
      at: logged.at,
      lane: logged.lane,
      snapshotVersion: logged.snapshotVersion,
      canary: logged.canary,
      mode: logged.mode,
      input,
      facts,
      result: logged.result,
      error: logged.error,
      evalNs: logged.evalNs,
    };
    return { lane: logged.lane, at: logged.at, line: Buffer.from(decisionLogLine(entry, deps.mask, deps.hash)) };
  };

  const take = (batch: string) => {
    let unreadable = 0;
    let reason = '';
    for (const logged of read(batch)) {
      try {
        lines.push(lineOf(logged));
      } catch (error) {
        unreadable += 1;
        reason = oneLine(error);
      }
    }
    if (unreadable > 0) deps.report({ kind: 'failed', count: unreadable, error: reason });
    if (lines.length >= deps.batch) void drain();
  };

  const write = async (rows: LoggedLine<Buffer>[]) => {
    const missing = partitionDays(rows).filter((day) => !knownDays.has(day));
    if (missing.length > 0) {
      await ensureDecisionLogPartitions(deps.db, missing);
      missing.forEach((day) => knownDays.add(day));
    }
    await insertDecisionLogChunks(deps.db, chunkDecisions(rows, deps.batch));
  };

  // Concurrent calls share one drain, which runs until nothing is left.
  const drain = (): Promise<void> =>
    (draining ??= (async () => {
      while (lines.length > 0) {
        const rows = lines;
        lines = [];
        try {
          await write(rows);
          deps.report({ kind: 'written', count: rows.length });
        } catch (error) {
          deps.report({ kind: 'failed', count: rows.length, error: oneLine(error) });
        }
      }
    })().finally(() => (draining = null)));

  return {
    async handle(command) {
      if (command.kind === 'decisions') return take(command.decisions);
      await drain();
      if (command.kind === 'flush') deps.report({ kind: 'flushed', id: command.id });
    },
    drain,
  };
}
