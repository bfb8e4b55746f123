-- Decision logs stored in chunks: one row per lane and batch, its decisions as JSON lines, the way
-- OPA's decision log plugin ships them. A row per decision cost Postgres ~20 µs of CPU to parse
-- and index on the evaluators' cores; a chunk costs ~3 µs per decision. pkg_decision_logs stays as
-- a view with one row per decision and the same columns, so SQL readers and writers see no change.
CREATE TABLE pkg_decision_log_chunks (
  chunk_id   uuid NOT NULL,
  env        pkg_env NOT NULL,
  target     text NOT NULL CHECK (target <> ''),
  region     text NOT NULL CHECK (region <> ''),
  -- The first and last decision's time; a chunk never spans two UTC days, so it lives in one day's
  -- partition and retention drops whole days exactly.
  first_at   timestamptz NOT NULL,
  last_at    timestamptz NOT NULL CHECK (last_at >= first_at),
  decisions  integer NOT NULL CHECK (decisions > 0),
  -- One JSON object per line, in time order: decision_id, at (epoch ms), snapshot_version, canary,
  -- mode, input (masked), result, error, eval_ns.
  body       text NOT NULL,
  PRIMARY KEY (chunk_id, first_at),
  CHECK (first_at >= date_trunc('day', last_at, 'UTC'))
) PARTITION BY RANGE (first_at);

-- Already unique per decision: compressing it again would cost CPU for little.
ALTER TABLE pkg_decision_log_chunks ALTER COLUMN body SET STORAGE EXTERNAL;

CREATE INDEX pkg_decision_log_chunks_lane_time ON pkg_decision_log_chunks (env, target, region, first_at);

-- Existing decisions move into chunks of at most 500, per lane and day, in time order.
DO $$
DECLARE
  day date;
BEGIN
  FOR day IN SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date FROM pkg_decision_logs LOOP
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF pkg_decision_log_chunks FOR VALUES FROM (%L) TO (%L)',
      format('pkg_decision_log_chunks_%s', to_char(day, 'YYYYMMDD')),
      (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  END LOOP;
END;
$$;

INSERT INTO pkg_decision_log_chunks (chunk_id, env, target, region, first_at, last_at, decisions, body)
SELECT gen_random_uuid(), env, target, region, min("timestamp"), max("timestamp"), count(*),
       string_agg(line, E'\n' ORDER BY "timestamp", decision_id)
  FROM (
    SELECT l.env, l.target, l.region, l."timestamp", l.decision_id,
           (row_number() OVER w - 1) / 500 AS chunk,
           json_build_object(
             'decision_id', l.decision_id,
             'at', extract(epoch FROM l."timestamp") * 1000,
             'snapshot_version', l.snapshot_version, 'canary', l.canary, 'mode', l.mode,
             'input', l.input, 'result', l.result, 'error', l.error, 'eval_ns', l.eval_ns)::text AS line
      FROM pkg_decision_logs l
    WINDOW w AS (PARTITION BY l.env, l.target, l.region, (l."timestamp" AT TIME ZONE 'UTC')::date
                 ORDER BY l."timestamp", l.decision_id)
  ) rows
 GROUP BY env, target, region, ("timestamp" AT TIME ZONE 'UTC')::date, chunk;

DROP TABLE pkg_decision_logs;
DROP FUNCTION pkg_decision_log_partition(date);

-- The chunk partition holding `day` (UTC), created when missing; returns its name. Writers call it
-- for today and tomorrow, so a write never finds no partition at midnight.
CREATE FUNCTION pkg_decision_log_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  name text := format('pkg_decision_log_chunks_%s', to_char(day, 'YYYYMMDD'));
BEGIN
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS %I PARTITION OF pkg_decision_log_chunks FOR VALUES FROM (%L) TO (%L)',
    name, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  RETURN name;
END;
$$;

-- One row per decision, with the columns (and OPA's field names) of the table it replaces.
CREATE VIEW pkg_decision_logs AS
SELECT (l ->> 'decision_id')::uuid AS decision_id,
       to_timestamp((l ->> 'at')::double precision / 1000) AS "timestamp",
       c.env, c.target, c.region,
       l ->> 'snapshot_version' AS snapshot_version,
       (l ->> 'canary')::boolean AS canary,
       l ->> 'mode' AS mode,
       l -> 'input' AS input,
       nullif(l -> 'result', 'null'::jsonb) AS result,
       l ->> 'error' AS error,
       (l ->> 'eval_ns')::bigint AS eval_ns
  FROM pkg_decision_log_chunks c
 CROSS JOIN LATERAL (SELECT line::jsonb AS l FROM string_to_table(c.body, E'\n') AS line) lines;

-- A decision inserted through the view (by hand, or by a tool that knows only the table) becomes a
-- chunk of its own, checked as the table checked it.
CREATE FUNCTION pkg_decision_logs_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.mode IS NULL OR NEW.mode NOT IN ('control', 'advisory') THEN
    RAISE EXCEPTION 'pkg_decision_logs.mode must be control or advisory, not %', coalesce(NEW.mode, 'null');
  END IF;
  IF NEW.decision_id IS NULL OR NEW."timestamp" IS NULL OR NEW.snapshot_version IS NULL
     OR NEW.canary IS NULL OR NEW.input IS NULL OR NEW.eval_ns IS NULL OR NEW.eval_ns < 0 THEN
    RAISE EXCEPTION 'pkg_decision_logs: decision_id, timestamp, snapshot_version, canary, input and a non-negative eval_ns are required';
  END IF;
  PERFORM pkg_decision_log_partition((NEW."timestamp" AT TIME ZONE 'UTC')::date);
  INSERT INTO pkg_decision_log_chunks (chunk_id, env, target, region, first_at, last_at, decisions, body)
  VALUES (gen_random_uuid(), NEW.env, NEW.target, NEW.region, NEW."timestamp", NEW."timestamp", 1,
          json_build_object(
            'decision_id', NEW.decision_id,
            'at', extract(epoch FROM NEW."timestamp") * 1000,
            'snapshot_version', NEW.snapshot_version, 'canary', NEW.canary, 'mode', NEW.mode,
            'input', NEW.input, 'result', NEW.result, 'error', NEW.error, 'eval_ns', NEW.eval_ns)::text);
  RETURN NEW;
END;
$$;

CREATE TRIGGER pkg_decision_logs_insert INSTEAD OF INSERT ON pkg_decision_logs
  FOR EACH ROW EXECUTE FUNCTION pkg_decision_logs_insert();
