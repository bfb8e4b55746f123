import type { Decision, EvaluationInput, Fact, Mode } from '../engine/evaluation';
import type { Lane } from '../lane';
import { maskInput, type DecisionLogMask } from './masking';

const DAY_MS = 86_400_000;

/**
 * One logged decision: a line of a chunk in `pkg_decision_log_chunks` (migrations/008), a row of
 * the view `pkg_decision_logs`. Its input is the input as evaluated with `facts` set to the facts
 * the decision saw (sent or read from pkg_facts), masked: a replay decides again from it alone.
 */
export interface DecisionLogEntry {
  decisionId: string;
  /** Epoch milliseconds of the decision. */
  at: number;
  lane: Lane;
  snapshotVersion: string;
  canary: boolean;
  mode: Mode;
  input: EvaluationInput;
  facts: readonly Fact[];
  /** `{ok, subtasks, dag, rules}` as JSON text (decisionResultJson); null when the evaluation failed, then `error` says why. */
  result: string | null;
  error: string | null;
  evalNs: number;
}

/**
 * A decision's JSON rendered once and used twice: spliced into the answer's body and stored as the
 * log's result, so logging never serialises a decision again.
 */
export function decisionJson(decision: Decision): string {
  return JSON.stringify(decision);
}

/** `{ok: true, subtasks, dag, rules}` from decisionJson's text. */
export const decisionResultJson = (json: string): string => `{"ok":true,${json.slice(1)}`;

/**
 * The decision's line in its chunk (migrations/008): the lane is the chunk's, so it is not repeated;
 * the masked input is the only part serialised here. `at` stays epoch milliseconds.
 */
export function decisionLogLine(
  entry: DecisionLogEntry,
  mask: DecisionLogMask,
  hash: (value: string) => string,
): string {
  // The request's own facts were read by its schema, so they already are input facts.
  const evaluated =
    entry.facts === entry.input.facts ? entry.input : { ...entry.input, facts: entry.facts.map(asInputFact) };
  const input = maskInput(evaluated, mask, hash);
  const text = JSON.stringify;
  return (
    `{"decision_id":"${entry.decisionId}","at":${entry.at},"snapshot_version":${text(entry.snapshotVersion)},` +
    `"canary":${entry.canary},"mode":"${entry.mode}","input":${text(input)},"result":${entry.result ?? 'null'},` +
    `"error":${text(entry.error)},"eval_ns":${Math.max(0, Math.round(entry.evalNs))}}`
  );
}

/** A rendered decision waiting for its chunk: its text, or the text's UTF-8 bytes. */
export interface LoggedLine<L extends string | Uint8Array = string> {
  lane: Lane;
  at: number;
  line: L;
}

/** Decisions of one lane and one UTC day, at most a chunk's worth, in the order they were decided. */
export interface DecisionLogChunk<L extends string | Uint8Array = string> {
  lane: Lane;
  firstAt: number;
  lastAt: number;
  lines: L[];
}

/**
 * Groups a batch into chunks: one lane and one UTC day each (a chunk lives in its day's partition,
 * so retention by day stays exact), at most `max` lines, keeping each lane's order.
 */
export function chunkDecisions<L extends string | Uint8Array>(
  rows: readonly LoggedLine<L>[],
  max: number,
): DecisionLogChunk<L>[] {
  const open = new Map<string, DecisionLogChunk<L>>();
  const chunks: DecisionLogChunk<L>[] = [];
  for (const row of rows) {
    const key = `${Math.floor(row.at / DAY_MS)}|${row.lane.env}|${row.lane.target}|${row.lane.region}`;
    let chunk = open.get(key);
    if (!chunk || chunk.lines.length >= max) {
      chunk = { lane: row.lane, firstAt: row.at, lastAt: row.at, lines: [] };
      open.set(key, chunk);
      chunks.push(chunk);
    }
    chunk.lines.push(row.line);
    chunk.firstAt = Math.min(chunk.firstAt, row.at);
    chunk.lastAt = Math.max(chunk.lastAt, row.at);
  }
  return chunks;
}

const NEWLINE = Buffer.from('\n');

/** A chunk's body: its lines' bytes, one line each. */
export function chunkBody(lines: readonly Uint8Array[]): Buffer {
  return Buffer.concat(lines.flatMap((line, i) => (i === 0 ? [line] : [NEWLINE, line])));
}

/**
 * Facts read from pkg_facts carry their row (id, namespace, subject, validity): the log keeps what
 * a request would send, so a CONTROL replay accepts the input and the subject is not stored raw.
 */
function asInputFact(fact: Fact): Fact {
  return fact.object === undefined ? { predicate: fact.predicate } : { predicate: fact.predicate, object: fact.object };
}

/** UTC days (YYYY-MM-DD) whose partitions a batch needs: each entry's day and the next, so midnight never finds none. */
export function partitionDays(entries: readonly Pick<DecisionLogEntry, 'at'>[]): string[] {
  // Day numbers first: a batch spans one day or two, so only those few become text.
  const days = new Set<number>();
  for (const { at } of entries) days.add(Math.floor(at / DAY_MS));
  const needed = new Set([...days].flatMap((day) => [day, day + 1]));
  return [...needed].sort((a, b) => a - b).map((day) => new Date(day * DAY_MS).toISOString().slice(0, 10));
}
