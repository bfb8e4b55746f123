-- Identity and access (README "Identity and access"): API tokens of the control-plane API. A token
-- is shown once when created; only its sha256 is stored (tokens are 256 random bits, so a fast hash
-- is enough and lets the API find one with a single index lookup). A token has one role over a set
-- of envs, an expiry, and is revoked by setting revoked_at: rows are never deleted, so the audit
-- trail's token:<name> actors always resolve.
-- IF NOT EXISTS: safe to run again (e.g. applied by hand before the migration numbering settles).
CREATE TABLE IF NOT EXISTS pkg_api_tokens (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
  role         text NOT NULL CHECK (role IN ('viewer', 'author', 'deployer', 'approver', 'operator', 'admin')),
  envs         pkg_env[] NOT NULL CHECK (cardinality(envs) > 0),
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz,
  revoked_by   text
);

-- Operator actions the API verified (README "Identity and access"): the API writes one row before
-- it sends the Update and passes its id; the workflow's activity finds it by id, workflow and
-- action. Only whoever can write this table (the API, the database's owners) can make one, so an
-- Update or signal sent straight through Temporal stays unverified.
CREATE TABLE IF NOT EXISTS pkg_verified_actions (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workflow_id text NOT NULL,
  action      text NOT NULL,
  subject     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Whether an operator event's actor was verified: true through the API, false when the action came
-- straight through Temporal (UI, CLI, pkgctl without the API); null for the workflow's own events
-- and for rows written before identities existed.
ALTER TABLE pkg_rollout_events ADD COLUMN IF NOT EXISTS actor_verified boolean;
