-- Evaluator keys (README "Evaluator keys"): who may call POST /v1/evaluate, on which lanes, how fast.
-- Only a SHA-256 digest of each key is stored; the key itself is shown once, when it is created.
-- Evaluators cache the live rows and reread them every few seconds; a revocation is also announced
-- on Redis, so it reaches every process within seconds.
-- IF NOT EXISTS: safe to run again (e.g. applied by hand before the migration numbering settles).
CREATE TABLE IF NOT EXISTS pkg_evaluator_keys (
  -- The public part of the key (it appears in the key's text), so a key is looked up without its secret.
  id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
  name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$'),
  -- sha256 of the whole key text: the secret has 256 random bits, so no salt or slow hash is needed.
  key_sha256  bytea NOT NULL CHECK (length(key_sha256) = 32),
  -- Lane patterns env/target/region with * globs in any part, e.g. {prod/web/*, staging/*/*}.
  scope       text[] NOT NULL CHECK (cardinality(scope) > 0),
  -- Token bucket: refilled at rate_per_s, holding at most burst.
  rate_per_s  double precision NOT NULL CHECK (rate_per_s > 0),
  burst       integer NOT NULL CHECK (burst >= 1),
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  revoked_at  timestamptz,
  revoked_by  text
);
-- A name names one live key; a revoked key's name may be given to its replacement.
CREATE UNIQUE INDEX IF NOT EXISTS pkg_evaluator_keys_live_name ON pkg_evaluator_keys (name) WHERE revoked_at IS NULL;
