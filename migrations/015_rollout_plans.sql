-- The plan each rollout ran with and its merge receipt (policy/rollout/merge-receipt.ts), stored
-- by the activity that merged it, keyed by the rollout id: the rollout's decision record copies
-- them from here, so the workflow carries nothing new. One row per rollout; a retried plan finds
-- its row. A rollout planned before this table (or refused while planning) has none, and its
-- record no plan.
CREATE TABLE pkg_rollout_plans (
  rollout_id    text PRIMARY KEY,
  env           pkg_env NOT NULL,
  plan          jsonb NOT NULL,
  merge_receipt jsonb NOT NULL CHECK (merge_receipt->>'merged_hash' ~ '^[0-9a-f]{64}$'),
  created_at    timestamptz NOT NULL DEFAULT now()
);
