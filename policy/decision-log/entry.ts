import type { Decision, EvaluationInput, Fact, Mode } from '../engine/evaluation';
import type { Lane } from '../lane';
import { maskInput, type DecisionLogMask } from './masking';

/**
 * One logged decision, and the row it becomes in `pkg_decision_logs` (migrations/006). The row's
 * input is the input as evaluated with `facts` set to the facts the decision saw (sent or read from
 * pkg_facts), masked: a replay decides again from the row alone.
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
  /** Null when the evaluation failed; then `error` says why. */
  decision: Decision | null;
  error: string | null;
  evalNs: number;
}

export interface DecisionLogRow {
  decision_id: string;
  timestamp: string;
  env: Lane['env'];
  target: string;
  region: string;
  snapshot_version: string;
  canary: boolean;
  mode: Mode;
  input: EvaluationInput;
  result: ({ ok: true } & Decision) | null;
  error: string | null;
  eval_ns: number;
}

export function decisionLogRow(
  entry: DecisionLogEntry,
  mask: DecisionLogMask,
  hash: (value: string) => string,
): DecisionLogRow {
  const { subtasks, dag, rules } = entry.decision ?? {};
  return {
    decision_id: entry.decisionId,
    timestamp: new Date(entry.at).toISOString(),
    env: entry.lane.env,
    target: entry.lane.target,
    region: entry.lane.region,
    snapshot_version: entry.snapshotVersion,
    canary: entry.canary,
    mode: entry.mode,
    input: maskInput({ ...entry.input, facts: entry.facts.map(asInputFact) }, mask, hash),
    result: entry.decision ? { ok: true, subtasks: subtasks!, dag: dag!, rules: rules! } : null,
    error: entry.error,
    eval_ns: Math.max(0, Math.round(entry.evalNs)),
  };
}

/**
 * Facts read from pkg_facts carry their row (id, namespace, subject, validity): the log keeps what
 * a request would send, so a CONTROL replay accepts the input and the subject is not stored raw.
 */
function asInputFact(fact: Fact): Fact {
  return fact.object === undefined ? { predicate: fact.predicate } : { predicate: fact.predicate, object: fact.object };
}

const DAY_MS = 86_400_000;

/** UTC days (YYYY-MM-DD) whose partitions a batch needs: each entry's day and the next, so midnight never finds none. */
export function partitionDays(entries: readonly Pick<DecisionLogEntry, 'at'>[]): string[] {
  const days = new Set<string>();
  for (const { at } of entries) {
    const start = Math.floor(at / DAY_MS) * DAY_MS;
    days.add(utcDay(start));
    days.add(utcDay(start + DAY_MS));
  }
  return [...days].sort();
}

const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
