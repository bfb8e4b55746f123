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
  /** `{ok, subtasks, dag, rules}` as JSON text (decisionResultJson); null when the evaluation failed, then `error` says why. */
  result: string | null;
  error: string | null;
  evalNs: number;
}

/**
 * A decision's JSON rendered once and used twice: spliced into the answer's body and stored as the
 * log's result. Serialising the decision is most of what logging costs per request.
 */
export function decisionJson(decision: Decision): string {
  return JSON.stringify(decision);
}

/** `{ok: true, subtasks, dag, rules}` from decisionJson's text. */
export const decisionResultJson = (json: string): string => `{"ok":true,${json.slice(1)}`;

/**
 * The row as JSON text, the form the batch insert sends: the masked input is the only part
 * serialised here. `at` stays epoch milliseconds; the insert turns it into the timestamp.
 */
export function decisionLogRowJson(
  entry: DecisionLogEntry,
  mask: DecisionLogMask,
  hash: (value: string) => string,
): string {
  const input = maskInput({ ...entry.input, facts: entry.facts.map(asInputFact) }, mask, hash);
  const text = JSON.stringify;
  return (
    `{"decision_id":"${entry.decisionId}","at":${entry.at},"env":"${entry.lane.env}",` +
    `"target":${text(entry.lane.target)},"region":${text(entry.lane.region)},` +
    `"snapshot_version":${text(entry.snapshotVersion)},"canary":${entry.canary},"mode":"${entry.mode}",` +
    `"input":${text(input)},"result":${entry.result ?? 'null'},"error":${text(entry.error)},` +
    `"eval_ns":${Math.max(0, Math.round(entry.evalNs))}}`
  );
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
  // Day numbers first: a batch spans one day or two, so only those few become text.
  const days = new Set<number>();
  for (const { at } of entries) days.add(Math.floor(at / DAY_MS));
  const needed = new Set([...days].flatMap((day) => [day, day + 1]));
  return [...needed].sort((a, b) => a - b).map((day) => new Date(day * DAY_MS).toISOString().slice(0, 10));
}
