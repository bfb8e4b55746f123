import type { Decision } from '../engine/evaluation';
import { decisionsDiffer } from '../canary/routing';
import { REASONS } from './reasons';

/**
 * Impact analysis: logged inputs replayed on the candidate and on what the lane serves now, tallied
 * into a report, and the replay stage's verdict on it. Pure: the activity feeds it outcomes.
 */

/** One side of a replayed decision: the decision, or why there was none. */
export type ReplayOutcome = { ok: true; decision: Decision } | { ok: false; error: string };

export interface ReplayedDecision {
  decisionId: string;
  /** The logged (masked) input, kept only for the report's examples. */
  input: unknown;
  baseline: ReplayOutcome;
  candidate: ReplayOutcome;
}

export interface ChangeCount {
  name: string;
  /** Decisions where it was matched or emitted by the candidate but not the baseline. */
  added: number;
  /** Decisions where the baseline had it and the candidate does not. */
  removed: number;
}

export interface ImpactExample {
  decisionId: string;
  input: unknown;
  baseline: OutcomeSummary;
  candidate: OutcomeSummary;
}

export type OutcomeSummary = { subtasks: string[]; rules: string[] } | { error: string };

export interface ImpactReport {
  candidateVersion: string;
  baselineVersion: string | null;
  /** Decisions replayed on both sides. */
  decisions: number;
  /** Of those, how many came out differently (subtasks, params or edges; errors count as change). */
  changed: number;
  /** Logged inputs that no longer parse (e.g. a masked field the schema needs): not compared. */
  skipped: number;
  rules: ChangeCount[];
  subtasks: ChangeCount[];
  examples: ImpactExample[];
}

const TOP = 10;

export interface ImpactTally {
  add(replayed: ReplayedDecision): void;
  skip(): void;
  report(): ImpactReport;
}

export function createImpactTally(
  versions: { candidate: string; baseline: string | null },
  maxExamples: number,
): ImpactTally {
  let [decisions, changed, skipped] = [0, 0, 0];
  const rules = new Map<string, ChangeCount>();
  const subtasks = new Map<string, ChangeCount>();
  const examples: ImpactExample[] = [];
  return {
    add({ decisionId, input, baseline, candidate }) {
      decisions += 1;
      if (!outcomesDiffer(baseline, candidate)) return;
      changed += 1;
      countChanges(rules, ruleNames(baseline), ruleNames(candidate));
      countChanges(subtasks, subtaskNames(baseline), subtaskNames(candidate));
      if (examples.length < maxExamples) {
        examples.push({ decisionId, input, baseline: summarize(baseline), candidate: summarize(candidate) });
      }
    },
    skip() {
      skipped += 1;
    },
    report: () => ({
      candidateVersion: versions.candidate,
      baselineVersion: versions.baseline,
      decisions,
      changed,
      skipped,
      rules: top(rules),
      subtasks: top(subtasks),
      examples,
    }),
  };
}

/** Same meaning of "changed" as shadow divergence: what the caller would be told to do. */
function outcomesDiffer(a: ReplayOutcome, b: ReplayOutcome): boolean {
  if (a.ok && b.ok) return decisionsDiffer(a.decision, b.decision);
  return a.ok !== b.ok;
}

// Rule ids hash the version, so rules are compared by name.
const ruleNames = (o: ReplayOutcome) => (o.ok ? new Set(o.decision.rules.map((r) => r.rule_name)) : new Set<string>());
const subtaskNames = (o: ReplayOutcome) => (o.ok ? new Set(o.decision.subtasks.map((s) => s.name)) : new Set<string>());

function countChanges(counts: Map<string, ChangeCount>, before: Set<string>, after: Set<string>): void {
  const bump = (name: string, side: 'added' | 'removed') => {
    let count = counts.get(name);
    if (!count) counts.set(name, (count = { name, added: 0, removed: 0 }));
    count[side] += 1;
  };
  for (const name of after) if (!before.has(name)) bump(name, 'added');
  for (const name of before) if (!after.has(name)) bump(name, 'removed');
}

const top = (counts: Map<string, ChangeCount>) =>
  [...counts.values()]
    .sort((a, b) => b.added + b.removed - (a.added + a.removed) || a.name.localeCompare(b.name))
    .slice(0, TOP);

function summarize(outcome: ReplayOutcome): OutcomeSummary {
  if (!outcome.ok) return { error: outcome.error };
  return {
    subtasks: outcome.decision.subtasks.map((s) => s.name),
    rules: outcome.decision.rules.map((r) => r.rule_name),
  };
}

/** The replay stage's settings after merging (policy/rollout/config.ts): only ever tightened. */
export interface ReplaySettings {
  /** Share of replayed decisions the author declares may change. */
  maxDivergence: number;
  /** Fewer replayed decisions than this is too little evidence. */
  minDecisions: number;
  /** How far back logged decisions are replayed. */
  windowMs: number;
  /** Most decisions replayed (the newest ones in the window). */
  limit: number;
  /** Too little evidence: 'skip' goes on to the canary with a note, 'require' rejects. */
  onInsufficient: 'skip' | 'require';
}

export interface ReplayVerdict {
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** An inconclusive replay the env lets through: the ramp still runs, the verdict says why. */
  skipped: boolean;
  decisions: number;
  changed: number;
  share: number | null;
  limit: number;
  minDecisions: number;
  message: string;
  rules: ChangeCount[];
  subtasks: ChangeCount[];
}

export function judgeReplay(report: ImpactReport, settings: ReplaySettings): ReplayVerdict {
  const { decisions, changed } = report;
  const share = decisions === 0 ? null : changed / decisions;
  const base = {
    decisions,
    changed,
    share,
    limit: settings.maxDivergence,
    minDecisions: settings.minDecisions,
    rules: report.rules,
    subtasks: report.subtasks,
  };
  if (report.baselineVersion === null || share === null || decisions < settings.minDecisions) {
    const skipped = settings.onInsufficient === 'skip';
    const why =
      report.baselineVersion === null
        ? REASONS.replayNoBaseline
        : REASONS.replayTooFew(decisions, settings.minDecisions);
    return { ...base, verdict: 'inconclusive', skipped, message: REASONS.replayInconclusive(why, skipped) };
  }
  const over = share > settings.maxDivergence;
  const message = over
    ? REASONS.replayOver(changed, decisions, share, settings.maxDivergence, report.rules[0]?.name)
    : REASONS.replayOk(changed, decisions, share, settings.maxDivergence);
  return { ...base, verdict: over ? 'fail' : 'pass', skipped: false, message };
}
