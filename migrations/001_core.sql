-- Core snapshot model (seed 013): a snapshot is an immutable, checksummed set of rules.
CREATE TYPE pkg_env AS ENUM ('prod', 'staging', 'dev');
CREATE TYPE pkg_engine AS ENUM ('native', 'wasm');
CREATE TYPE pkg_condition_type AS ENUM ('TAG', 'SIGNAL', 'VALUE', 'FACT');
CREATE TYPE pkg_operator AS ENUM ('=', '!=', '>=', '<=', '>', '<', 'EXISTS', 'IN', 'MATCHES');
CREATE TYPE pkg_relation AS ENUM ('EMITS', 'ORDERS', 'GATE');
CREATE TYPE pkg_artifact_type AS ENUM ('wasm', 'rego');

-- Content-addressed bundle store: the client uploads bytes, the workflow carries only the digest.
CREATE TABLE pkg_bundles (
  digest      text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
  bytes       bytea NOT NULL,
  size        integer NOT NULL CHECK (size = octet_length(bytes)),
  uploaded_by text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pkg_snapshots (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version        text NOT NULL UNIQUE
                 CHECK (version ~ '^[a-z0-9][a-z0-9_.-]*@[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'),
  env            pkg_env NOT NULL,
  engine         pkg_engine NOT NULL,
  entrypoint     text NOT NULL,
  schema_version text NOT NULL,
  notes          text,
  -- sha256 over the bundle's file checksums: same content, same checksum.
  checksum       text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  bundle_digest  text REFERENCES pkg_bundles (digest),
  manifest       jsonb NOT NULL,
  is_active      boolean NOT NULL DEFAULT false,
  activated_at   timestamptz,
  created_by     text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX pkg_snapshots_one_active_per_env ON pkg_snapshots (env) WHERE is_active;

CREATE TABLE pkg_subtask_types (
  snapshot_id    uuid NOT NULL REFERENCES pkg_snapshots (id) ON DELETE CASCADE,
  name           text NOT NULL CHECK (name <> ''),
  default_params jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (snapshot_id, name)
);

CREATE TABLE pkg_policy_rules (
  id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16,64}$'), -- hash(version, rule name)
  snapshot_id uuid NOT NULL REFERENCES pkg_snapshots (id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (name <> ''),
  priority    integer NOT NULL DEFAULT 0,
  enabled     boolean NOT NULL DEFAULT true,
  description text,
  UNIQUE (snapshot_id, name)
);

CREATE TABLE pkg_rule_conditions (
  rule_id  text NOT NULL REFERENCES pkg_policy_rules (id) ON DELETE CASCADE,
  position integer NOT NULL,
  type     pkg_condition_type NOT NULL,
  key      text NOT NULL CHECK (key <> ''),
  op       pkg_operator NOT NULL DEFAULT 'EXISTS',
  value    jsonb,
  PRIMARY KEY (rule_id, position)
);

CREATE TABLE pkg_rule_emissions (
  rule_id      text NOT NULL REFERENCES pkg_policy_rules (id) ON DELETE CASCADE,
  position     integer NOT NULL,
  snapshot_id  uuid NOT NULL,
  subtask      text NOT NULL,
  relationship pkg_relation NOT NULL DEFAULT 'EMITS',
  params       jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (rule_id, position),
  FOREIGN KEY (snapshot_id, subtask) REFERENCES pkg_subtask_types (snapshot_id, name)
);

CREATE TABLE pkg_snapshot_artifacts (
  snapshot_id uuid NOT NULL REFERENCES pkg_snapshots (id) ON DELETE CASCADE,
  type        pkg_artifact_type NOT NULL,
  bytes       bytea NOT NULL,
  sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size        integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (snapshot_id, type)
);
