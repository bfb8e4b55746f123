import type { DecisionRecord, Outcome } from '../../policy/rollout/decision-record';

/** The n-th decision record of a test chain: a fixed day per link, linked to `previousId`. */
export function decisionRecordOf(
  n: number,
  outcome: Outcome,
  previousId: string | null,
  env = 'staging',
): DecisionRecord {
  return {
    schema: 1,
    env,
    lane: { env: 'staging', target: 'default', region: 'default' },
    rollout_id: `rollout-${n}`,
    outcome,
    reason: `decision ${n}`,
    snapshot: null,
    previous_snapshot: null,
    validation: null,
    verdicts: [],
    events: [],
    actors: ['ci'],
    previous_id: previousId,
    decided_at: `2026-01-0${n}T00:00:00Z`,
  };
}
