-- Verified identity on every audit row (README "Identity and access"), as pkg_rollout_events has it:
-- actor_verified is true when the control-plane API verified who acted (a token or OIDC subject),
-- false when the action came straight through Temporal or pkgctl without the API, and null for the
-- pipeline's own rows (the gate, a cancellation) and for rows written before identities existed.
-- Validation runs and decision records also name their actor: the identity that started the
-- rollout (or revert, or abort) they belong to. Outside the decision record's hashed content, so
-- records written before this migration still verify.
-- A verified rollout start is claimed by the run it started (its first run id), so the verification
-- an earlier rollout's input shows in the Temporal UI cannot verify another start on the same lane.
ALTER TABLE pkg_verified_actions ADD COLUMN IF NOT EXISTS claimed_by text;
-- IF NOT EXISTS: safe to run again (e.g. applied by hand before the migration numbering settles).
ALTER TABLE pkg_promotions ADD COLUMN IF NOT EXISTS actor_verified boolean;
ALTER TABLE pkg_validation_runs
  ADD COLUMN IF NOT EXISTS actor text,
  ADD COLUMN IF NOT EXISTS actor_verified boolean;
ALTER TABLE pkg_decision_records
  ADD COLUMN IF NOT EXISTS actor text,
  ADD COLUMN IF NOT EXISTS actor_verified boolean;
