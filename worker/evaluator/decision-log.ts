import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createDecisionLogBuffer, type BufferStats } from '../../policy/decision-log/buffer';
import { isSampled, sampleRate, type DecisionLogSampling } from '../../policy/decision-log/sampling';
import type { Mode } from '../../policy/engine/evaluation';
import type { Lane } from '../../policy/lane';
import { decisionRecord } from './decision-log-batch';
import type { EvaluatorProm } from './prom';

/**
 * The evaluator's decision log (README "Decision logs"). A request hands over only what it
 * already holds (the body it received, the decision's JSON), appended to a string that crosses
 * in one message (decision-log-batch.ts), and goes on; a thread of its own masks,
 * renders and writes the decisions to Postgres in chunks (decision-log-writer.ts). The request
 * path so stays at a few object fields per decision, and the rendering uses the other core.
 * At most `capacity` decisions are unwritten at a time; past that, and for writes that fail,
 * entries are dropped and counted in /metrics and /readyz.
 */
export interface DecisionLogDeps {
  sampling: DecisionLogSampling;
  capacity: number;
  flushMs: number;
  prom: Pick<EvaluatorProm, 'decisionLogDropped' | 'decisionLogWritten'>;
  random?: () => number;
  now?: () => number;
  /** The writer thread unless a test runs the writer in-process. */
  startWriter?: StartWriter;
}

/** A sampled decision as the request path hands it over. */
export interface LoggedRequest {
  decisionId: string;
  /** Epoch milliseconds of the decision. */
  at: number;
  lane: Lane;
  snapshotVersion: string;
  canary: boolean;
  mode: Mode;
  /** JSON whose `input` is the input as received (the request body): the writer parses it again rather than the request serialising its input. */
  requestJson: string;
  /** Facts read from pkg_facts, as JSON; null when the request carried its own. */
  factsJson: string | null;
  /** `{ok, subtasks, dag, rules}` as JSON text; null when the evaluation failed, then `error` says why. */
  result: string | null;
  error: string | null;
  evalNs: number;
}

export type DecisionDraft = Omit<LoggedRequest, 'decisionId' | 'at'>;

/** Between the evaluator and its writer thread; `decisions` is a batch of records (decision-log-batch.ts). */
export type WriterCommand = { kind: 'decisions'; decisions: string } | { kind: 'flush'; id: number } | { kind: 'stop' };
export type WriterReport =
  | { kind: 'written'; count: number }
  | { kind: 'failed'; count: number; error: string }
  | { kind: 'flushed'; id: number };

export interface DecisionLogStatus extends BufferStats {
  written: number;
  last_write_error: string | null;
}

export interface DecisionLog {
  /** The decision's id when it was sampled and taken in, else null. Never waits. */
  record(draft: DecisionDraft): string | null;
  /** Resolves when everything recorded so far is written (or counted as dropped). */
  flush(): Promise<void>;
  status(): DecisionLogStatus;
  start(): void;
  /** Writes what is left and ends the writer thread. */
  stop(): Promise<void>;
}

/** Lines per chunk; also the backlog that starts a write in the writer before its timer does. */
export const DECISION_LOG_BATCH = 500;

/** A running writer: its thread, or in a test the same writer in this thread. */
export interface WriterHandle {
  post(command: WriterCommand): void;
  /** Ends it at once, whatever it still holds. */
  terminate(): void;
}

/** Starts a writer that reports through `report` and calls `exited` when it ends, asked to or not. */
export type StartWriter = (report: (message: WriterReport) => void, exited: () => void) => WriterHandle;

/** How long decisions wait on the request's thread before they cross to the writer together. */
const HANDOFF_MS = 5;

const THREAD = path.join(__dirname, 'decision-log-thread.ts');
/** The writer thread's entry as code to evaluate: it loads TypeScript the way the process does. */
export const WRITER_THREAD_BOOTSTRAP = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(THREAD)});`;

/**
 * Every decision the writer parses, masks and renders is garbage a moment later, while the lines
 * it holds for the next write live on. With V8's default young generation the lines were copied
 * by scavenges and promoted; a larger one saves about 3 µs of CPU a decision, most of it on V8's
 * helper threads that compete with the request path (npm run bench -- decision-log: evaluator CPU
 * 42 → 39 µs a request at 100%), for about 25 MB more resident memory while logging at that rate.
 */
const WRITER_YOUNG_GENERATION_MB = 96;
const STOP_TIMEOUT_MS = 15_000;

function startWriterThread(flushMs: number): StartWriter {
  return (report, exited) => {
    const thread = new Worker(WRITER_THREAD_BOOTSTRAP, {
      eval: true,
      workerData: { flushMs, batch: DECISION_LOG_BATCH },
      resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MB },
    });
    thread.on('message', report);
    thread.on('error', () => undefined);
    thread.on('exit', exited);
    thread.unref();
    return { post: (command) => thread.postMessage(command), terminate: () => void thread.terminate() };
  };
}

export function createDecisionLog(deps: DecisionLogDeps): DecisionLog {
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const startWriter = deps.startWriter ?? startWriterThread(deps.flushMs);
  const buffer = createDecisionLogBuffer(deps.capacity, (reason, count) =>
    deps.prom.decisionLogDropped.labels(reason).inc(count),
  );
  let written = 0;
  let lastError: string | null = null;
  let pending = '';
  let posting = false;
  let writer: WriterHandle | null = null;
  let stopping = false;
  let flushes = 0;
  const waiting = new Map<number, () => void>();
  let onStopped = () => {};

  const onReport = (report: WriterReport) => {
    if (report.kind === 'written') {
      buffer.release(report.count);
      written += report.count;
      deps.prom.decisionLogWritten.inc(report.count);
      lastError = null;
    } else if (report.kind === 'failed') {
      buffer.release(report.count, 'write_failed');
      lastError = report.error;
    } else {
      waiting.get(report.id)?.();
      waiting.delete(report.id);
    }
  };

  // A writer that dies takes its unwritten decisions with it: they are counted, and a new one
  // starts with the next decision.
  const start = (): WriterHandle => {
    const handle = startWriter(onReport, () => {
      if (writer !== handle) return;
      writer = null;
      if (!stopping) {
        buffer.release(buffer.length, 'write_failed');
        lastError = 'the decision log writer thread ended';
      }
      for (const resolve of waiting.values()) resolve();
      waiting.clear();
      onStopped();
    });
    return handle;
  };

  const post = (command: WriterCommand) => (writer ??= start()).post(command);

  // Every HANDOFF_MS the decisions taken meanwhile cross to the writer in one message: a message
  // has a cost of its own whatever it carries, and a turn of the event loop holds only a few requests.
  const sendPending = () => {
    posting = false;
    if (pending === '') return;
    const decisions = pending;
    pending = '';
    post({ kind: 'decisions', decisions });
  };

  const flush = () => {
    sendPending();
    const id = ++flushes;
    return new Promise<void>((resolve) => {
      waiting.set(id, resolve);
      post({ kind: 'flush', id });
    });
  };

  return {
    record(draft) {
      if (stopping || !isSampled(sampleRate(deps.sampling, draft.lane), random())) return null;
      // An overloaded evaluator drops before anything is copied: the drop costs nothing but the count.
      if (!buffer.admit()) return null;
      const decisionId = randomUUID();
      pending += decisionRecord(draft, decisionId, now());
      if (!posting) {
        posting = true;
        setTimeout(sendPending, HANDOFF_MS).unref();
      }
      return decisionId;
    },
    flush,
    status: () => ({ ...buffer.stats(), written, last_write_error: lastError }),
    start() {
      writer ??= start();
    },
    async stop() {
      if (writer || buffer.length > 0) await flush();
      stopping = true;
      const handle = writer;
      if (!handle) return;
      const stopped = new Promise<void>((resolve) => (onStopped = resolve));
      handle.post({ kind: 'stop' });
      const timeout = setTimeout(() => handle.terminate(), STOP_TIMEOUT_MS);
      await stopped;
      clearTimeout(timeout);
    },
  };
}
