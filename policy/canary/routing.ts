import canonicalize from 'canonicalize';
import { routesToCandidate } from './bucketing';
import type { Decision } from '../engine/evaluation';

/**
 * Which version of a lane answers a request, and whether two versions decided alike. Pure: the
 * randomness for shadow sampling is handed in.
 */
export type Arm = 'serving' | 'candidate';

export interface CanarySplit {
  hasCandidate: boolean;
  canaryPercent: number;
  salt: string;
}

/** Without a routing key a request cannot be sticky, so it stays on the serving version. */
export function chooseArm(split: CanarySplit, routingKey: string | undefined): Arm {
  if (!split.hasCandidate || routingKey === undefined) return 'serving';
  return routesToCandidate(routingKey, split.salt, split.canaryPercent) ? 'candidate' : 'serving';
}

/** `draw` is uniform in [0, 1). */
export function shouldShadow(split: CanarySplit, rate: number, draw: number): boolean {
  return split.hasCandidate && rate > 0 && draw < rate;
}

/**
 * The outcome that matters to a caller: which subtasks with which params, in which order. Rule ids
 * hash the version, so they always differ between versions and are left out; rule names too, since
 * renaming a rule that still emits the same work is no change in decision.
 */
export function decisionFingerprint(decision: Decision): string {
  // JSON strings side by side stay unambiguous; canonicalize (the slow part) only for params that exist.
  const subtasks = decision.subtasks
    .map((s) => JSON.stringify(s.name) + JSON.stringify(s.type) + paramsText(s.params))
    .sort();
  const dag = decision.dag.map((e) => `${e.from}>${e.to}:${e.type}`).sort();
  return JSON.stringify([subtasks, dag]);
}

const paramsText = (params: Record<string, unknown>) => {
  for (const _ in params) return canonicalize(params) ?? '';
  return '{}';
};

export function decisionsDiffer(a: Decision, b: Decision): boolean {
  if (a.subtasks.length !== b.subtasks.length || a.dag.length !== b.dag.length) return true;
  return decisionFingerprint(a) !== decisionFingerprint(b);
}
