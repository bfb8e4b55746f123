-- Decision logs: what evaluators decided, sampled per lane and masked before they are stored, so
-- a candidate can be replayed against real traffic before any live request reaches it. Field
-- names follow OPA's decision logs where they fit (decision_id, timestamp, input, result, the
-- bundle revision as snapshot_version, metrics' eval time as eval_ns). Partitioned by day:
-- retention drops whole partitions instead of deleting rows.
CREATE TABLE pkg_decision_logs (
  decision_id      uuid NOT NULL,
  "timestamp"      timestamptz NOT NULL,
  env              pkg_env NOT NULL,
  target           text NOT NULL CHECK (target <> ''),
  region           text NOT NULL CHECK (region <> ''),
  snapshot_version text NOT NULL,
  -- true when the request was routed to the lane's canary candidate.
  canary           boolean NOT NULL,
  mode             text NOT NULL CHECK (mode IN ('control', 'advisory')),
  -- The input as evaluated, facts included (whether sent or read from pkg_facts), after masking.
  input            jsonb NOT NULL,
  -- {ok, subtasks, dag, rules} of the decision; null when evaluation failed (then error says why).
  result           jsonb,
  error            text,
  eval_ns          bigint NOT NULL CHECK (eval_ns >= 0),
  PRIMARY KEY (decision_id, "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE INDEX pkg_decision_logs_lane_time ON pkg_decision_logs (env, target, region, "timestamp");

-- The day partition holding `day` (UTC), created when missing; returns its name. Writers call it
-- for today and tomorrow, so a write never finds no partition at midnight.
CREATE FUNCTION pkg_decision_log_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  name text := format('pkg_decision_logs_%s', to_char(day, 'YYYYMMDD'));
BEGIN
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS %I PARTITION OF pkg_decision_logs FOR VALUES FROM (%L) TO (%L)',
    name, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  RETURN name;
END;
$$;
