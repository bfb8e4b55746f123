-- Lane isolation: a promotion, rollback or revert is recorded with the lane it happened on. Rows
-- written before this (and by pkg_promote_snapshot, which only the default lane calls) are the
-- env's default lane.
ALTER TABLE pkg_promotions
  ADD COLUMN target text NOT NULL DEFAULT 'default' CHECK (target <> ''),
  ADD COLUMN region text NOT NULL DEFAULT 'default' CHECK (region <> '');

CREATE INDEX pkg_promotions_lane ON pkg_promotions (env, target, region, snapshot_id);

-- A revert is decided like a rollout: it writes a decision record in the env's chain.
ALTER TABLE pkg_decision_records DROP CONSTRAINT pkg_decision_records_outcome_check;
ALTER TABLE pkg_decision_records
  ADD CONSTRAINT pkg_decision_records_outcome_check CHECK (outcome IN ('promoted', 'rolled_back', 'rejected', 'reverted'));
