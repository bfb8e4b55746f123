-- Operations (seed 014): lanes, facts, validation, audit, fleet, plus outbox and decision records.

-- One row per lane. snapshot_id is what the lane serves; a canary adds a candidate and a share.
CREATE TABLE pkg_deployments (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  env                   pkg_env NOT NULL,
  target                text NOT NULL DEFAULT 'default' CHECK (target <> ''),
  region                text NOT NULL DEFAULT 'default' CHECK (region <> ''),
  snapshot_id           uuid REFERENCES pkg_snapshots (id),
  candidate_snapshot_id uuid REFERENCES pkg_snapshots (id),
  canary_percent        numeric(5, 2) NOT NULL DEFAULT 0 CHECK (canary_percent BETWEEN 0 AND 100),
  salt                  text NOT NULL DEFAULT '',
  rollout_id            text,
  updated_by            text NOT NULL DEFAULT 'system',
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (env, target, region),
  CHECK (candidate_snapshot_id IS NOT NULL OR canary_percent = 0)
);

CREATE TABLE pkg_facts (
  id         bigserial PRIMARY KEY,
  namespace  text NOT NULL DEFAULT 'default' CHECK (namespace <> ''),
  subject    text NOT NULL CHECK (subject <> ''),
  predicate  text NOT NULL CHECK (predicate <> ''),
  object     jsonb NOT NULL DEFAULT '{}',
  valid_from timestamptz NOT NULL DEFAULT now(),
  valid_to   timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pkg_facts_valid_range CHECK (valid_to IS NULL OR valid_from <= valid_to)
);
CREATE INDEX pkg_facts_subject ON pkg_facts (subject, predicate);
CREATE INDEX pkg_facts_expiry ON pkg_facts (namespace, valid_to) WHERE valid_to IS NOT NULL;

-- Archived rows keep their id, so archiving the same fact twice is a no-op, never a duplicate.
CREATE TABLE pkg_facts_archive (
  id          bigint PRIMARY KEY,
  namespace   text NOT NULL,
  subject     text NOT NULL,
  predicate   text NOT NULL,
  object      jsonb NOT NULL,
  valid_from  timestamptz NOT NULL,
  valid_to    timestamptz,
  created_at  timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pkg_validation_fixtures (
  snapshot_id uuid NOT NULL REFERENCES pkg_snapshots (id) ON DELETE CASCADE,
  name        text NOT NULL,
  input       jsonb NOT NULL,
  expect      jsonb NOT NULL,
  PRIMARY KEY (snapshot_id, name)
);

CREATE TABLE pkg_validation_runs (
  id          bigserial PRIMARY KEY,
  snapshot_id uuid NOT NULL REFERENCES pkg_snapshots (id),
  run_key     text NOT NULL UNIQUE, -- idempotency: a retried activity finds its run
  engine      pkg_engine NOT NULL,
  passed      integer NOT NULL,
  failed      integer NOT NULL,
  report      jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pkg_promotions (
  id                   bigserial PRIMARY KEY,
  snapshot_id          uuid NOT NULL REFERENCES pkg_snapshots (id),
  previous_snapshot_id uuid REFERENCES pkg_snapshots (id),
  env                  pkg_env NOT NULL,
  action               text NOT NULL CHECK (action IN ('promote', 'rollback', 'revert')),
  actor                text NOT NULL,
  reason               text,
  idempotency_key      text UNIQUE,
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- Fleet registry: each evaluator heartbeats what it serves for its lane.
CREATE TABLE pkg_device_versions (
  instance_id           text PRIMARY KEY,
  device_type           text NOT NULL DEFAULT 'evaluator',
  env                   pkg_env NOT NULL,
  target                text NOT NULL DEFAULT 'default',
  region                text NOT NULL DEFAULT 'default',
  snapshot_id           uuid,
  candidate_snapshot_id uuid,
  canary_percent        numeric(5, 2) NOT NULL DEFAULT 0,
  loaded_versions       text[] NOT NULL DEFAULT '{}',
  last_seen             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pkg_device_versions_lane ON pkg_device_versions (env, target, region);

CREATE TABLE pkg_rollout_events (
  id          bigserial PRIMARY KEY,
  rollout_id  text NOT NULL,
  event_key   text NOT NULL UNIQUE, -- idempotency: rollout id + transition, so replays write once
  env         pkg_env NOT NULL,
  target      text NOT NULL,
  region      text NOT NULL,
  snapshot_id uuid REFERENCES pkg_snapshots (id),
  event       text NOT NULL,
  step        integer,
  percent     numeric(5, 2),
  is_rollback boolean NOT NULL DEFAULT false,
  actor       text NOT NULL DEFAULT 'system',
  reason      text,
  details     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pkg_rollout_events_rollout ON pkg_rollout_events (rollout_id, id);

-- Transactional outbox: written with each state change, relayed to Redis in seq order.
CREATE TABLE pkg_outbox (
  seq          bigserial PRIMARY KEY,
  channel      text NOT NULL DEFAULT 'pkg_updates',
  dedupe_key   text UNIQUE,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX pkg_outbox_pending ON pkg_outbox (seq) WHERE published_at IS NULL;

-- Tamper-evident chain per env: id = sha256 of the canonical record, which names its predecessor.
CREATE TABLE pkg_decision_records (
  id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
  env         pkg_env NOT NULL,
  rollout_id  text NOT NULL UNIQUE,
  snapshot_id uuid REFERENCES pkg_snapshots (id),
  outcome     text NOT NULL CHECK (outcome IN ('promoted', 'rolled_back', 'rejected')),
  previous_id text REFERENCES pkg_decision_records (id),
  canonical   text NOT NULL,
  signature   text,
  narrative   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pkg_decision_records_linear UNIQUE NULLS NOT DISTINCT (env, previous_id)
);
