-- Views and functions (seed 015/016).

CREATE VIEW pkg_active_artifact AS
SELECT s.env, s.id AS snapshot_id, s.version, s.engine, s.entrypoint, s.checksum,
       a.type AS artifact_type, a.sha256, a.size, a.bytes
  FROM pkg_snapshots s
  JOIN pkg_snapshot_artifacts a ON a.snapshot_id = s.id AND a.type = 'wasm'
 WHERE s.is_active;

CREATE VIEW pkg_rules_expanded AS
SELECT r.snapshot_id, s.version, r.id AS rule_id, r.name AS rule_name, r.priority, r.enabled,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('type', c.type, 'key', c.key, 'op', c.op, 'value', c.value)
                                  ORDER BY c.position)
                   FROM pkg_rule_conditions c WHERE c.rule_id = r.id), '[]') AS conditions,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('subtask', e.subtask, 'relationship', e.relationship,
                                                     'params', e.params) ORDER BY e.position)
                   FROM pkg_rule_emissions e WHERE e.rule_id = r.id), '[]') AS emissions
  FROM pkg_policy_rules r
  JOIN pkg_snapshots s ON s.id = r.snapshot_id;

-- Evaluators whose heartbeat is older than this no longer count for a lane.
CREATE FUNCTION pkg_evaluator_stale_after() RETURNS interval LANGUAGE sql IMMUTABLE AS $$ SELECT interval '15 seconds' $$;

-- How many live evaluators of each lane serve exactly the lane's intended state.
CREATE VIEW pkg_deployment_coverage AS
SELECT d.env, d.target, d.region, d.snapshot_id, d.candidate_snapshot_id, d.canary_percent,
       count(v.instance_id) AS evaluators,
       count(v.instance_id) FILTER (
         WHERE v.snapshot_id IS NOT DISTINCT FROM d.snapshot_id
           AND v.candidate_snapshot_id IS NOT DISTINCT FROM d.candidate_snapshot_id
           AND v.canary_percent = d.canary_percent) AS serving_intended,
       CASE WHEN count(v.instance_id) = 0 THEN 0
            ELSE round(count(v.instance_id) FILTER (
                   WHERE v.snapshot_id IS NOT DISTINCT FROM d.snapshot_id
                     AND v.candidate_snapshot_id IS NOT DISTINCT FROM d.candidate_snapshot_id
                     AND v.canary_percent = d.canary_percent)::numeric / count(v.instance_id), 4)
       END AS coverage
  FROM pkg_deployments d
  LEFT JOIN pkg_device_versions v
         ON v.env = d.env AND v.target = d.target AND v.region = d.region
        AND v.device_type = 'evaluator' AND v.last_seen > now() - pkg_evaluator_stale_after()
 GROUP BY d.id;

CREATE VIEW active_temporal_facts AS
SELECT * FROM pkg_facts
 WHERE valid_from <= now() AND (valid_to IS NULL OR valid_to > now());

CREATE FUNCTION pkg_active_snapshot_id(p_env pkg_env) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT id FROM pkg_snapshots WHERE env = p_env AND is_active
$$;

-- Deactivates the env's current snapshot and activates p_snapshot in one statement sequence;
-- the caller's transaction makes it atomic, the row lock serialises concurrent promotions.
CREATE FUNCTION pkg_promote_snapshot(p_snapshot uuid, p_env pkg_env, p_actor text, p_reason text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_env pkg_env;
  v_previous uuid;
  v_promotion bigint;
BEGIN
  IF p_actor IS NULL OR p_actor = '' THEN
    RAISE EXCEPTION 'pkg_promote_snapshot: actor is required' USING ERRCODE = '22023';
  END IF;
  SELECT env INTO v_env FROM pkg_snapshots WHERE id = p_snapshot FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pkg_promote_snapshot: snapshot % does not exist', p_snapshot USING ERRCODE = 'P0002';
  END IF;
  IF v_env <> p_env THEN
    RAISE EXCEPTION 'pkg_promote_snapshot: snapshot % belongs to env %, not %', p_snapshot, v_env, p_env
      USING ERRCODE = '22023';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('pkg_promote:' || p_env::text));
  SELECT id INTO v_previous FROM pkg_snapshots WHERE env = p_env AND is_active FOR UPDATE;
  IF v_previous IS DISTINCT FROM p_snapshot THEN
    UPDATE pkg_snapshots SET is_active = false WHERE id = v_previous;
    UPDATE pkg_snapshots SET is_active = true, activated_at = now() WHERE id = p_snapshot;
  END IF;
  INSERT INTO pkg_promotions (snapshot_id, previous_snapshot_id, env, action, actor, reason)
  VALUES (p_snapshot, v_previous, p_env, 'promote', p_actor, p_reason)
  RETURNING id INTO v_promotion;
  RETURN v_promotion;
END $$;

CREATE FUNCTION pkg_check_integrity()
RETURNS TABLE (check_name text, ok boolean, detail text) LANGUAGE sql STABLE AS $$
  SELECT 'artifact_checksums', count(*) = 0,
         coalesce(string_agg(s.version || ' ' || a.type, ', '), 'all artifacts match their sha256')
    FROM pkg_snapshot_artifacts a JOIN pkg_snapshots s ON s.id = a.snapshot_id
   WHERE encode(sha256(a.bytes), 'hex') <> a.sha256
  UNION ALL
  SELECT 'snapshots_have_wasm', count(*) = 0,
         coalesce(string_agg(s.version, ', '), 'every snapshot has a wasm artifact')
    FROM pkg_snapshots s
   WHERE NOT EXISTS (SELECT 1 FROM pkg_snapshot_artifacts a WHERE a.snapshot_id = s.id AND a.type = 'wasm')
  UNION ALL
  SELECT 'one_active_per_env', count(*) = 0, coalesce(string_agg(env::text, ', '), 'at most one active per env')
    FROM (SELECT env FROM pkg_snapshots WHERE is_active GROUP BY env HAVING count(*) > 1) dup
  UNION ALL
  SELECT 'deployments_in_env', count(*) = 0,
         coalesce(string_agg(d.env || '/' || d.target || '/' || d.region, ', '), 'lanes serve snapshots of their env')
    FROM pkg_deployments d JOIN pkg_snapshots s ON s.id IN (d.snapshot_id, d.candidate_snapshot_id)
   WHERE s.env <> d.env
$$;

CREATE FUNCTION get_facts_by_subject(p_subject text, p_namespace text DEFAULT NULL, p_include_expired boolean DEFAULT false)
RETURNS SETOF pkg_facts LANGUAGE sql STABLE AS $$
  SELECT * FROM pkg_facts
   WHERE subject = p_subject
     AND (p_namespace IS NULL OR namespace = p_namespace)
     AND (p_include_expired OR (valid_from <= now() AND (valid_to IS NULL OR valid_to > now())))
   ORDER BY predicate, valid_from
$$;

CREATE FUNCTION get_fact_statistics(p_namespace text DEFAULT NULL)
RETURNS TABLE (namespace text, total bigint, temporal bigint, expired bigint, active bigint)
LANGUAGE sql STABLE AS $$
  SELECT f.namespace, count(*),
         count(*) FILTER (WHERE f.valid_to IS NOT NULL),
         count(*) FILTER (WHERE f.valid_to <= now()),
         count(*) FILTER (WHERE f.valid_from <= now() AND (f.valid_to IS NULL OR f.valid_to > now()))
    FROM pkg_facts f
   WHERE p_namespace IS NULL OR f.namespace = p_namespace
   GROUP BY f.namespace
   ORDER BY f.namespace
$$;

-- Moves up to p_batch expired facts to the archive and deletes them in one statement, so a row is
-- never deleted without its archive copy. SKIP LOCKED keeps concurrent writers and cleanups apart.
CREATE FUNCTION cleanup_expired_facts(p_namespace text DEFAULT NULL, p_dry_run boolean DEFAULT false,
                                      p_grace interval DEFAULT interval '0', p_batch integer DEFAULT 10000)
RETURNS TABLE (namespace text, expired bigint, archived bigint) LANGUAGE plpgsql AS $$
BEGIN
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'cleanup_expired_facts: batch must be at least 1, got %', p_batch USING ERRCODE = '22023';
  END IF;
  IF p_dry_run THEN
    RETURN QUERY
      SELECT f.namespace, count(*), 0::bigint FROM pkg_facts f
       WHERE f.valid_to <= now() - p_grace AND (p_namespace IS NULL OR f.namespace = p_namespace)
       GROUP BY f.namespace ORDER BY f.namespace;
    RETURN;
  END IF;
  RETURN QUERY
    WITH doomed AS (
      SELECT f.id FROM pkg_facts f
       WHERE f.valid_to <= now() - p_grace AND (p_namespace IS NULL OR f.namespace = p_namespace)
       ORDER BY f.valid_to LIMIT p_batch FOR UPDATE SKIP LOCKED
    ), moved AS (
      DELETE FROM pkg_facts f USING doomed WHERE f.id = doomed.id RETURNING f.*
    ), archived AS (
      INSERT INTO pkg_facts_archive (id, namespace, subject, predicate, object, valid_from, valid_to, created_at)
      SELECT m.id, m.namespace, m.subject, m.predicate, m.object, m.valid_from, m.valid_to, m.created_at FROM moved m
      ON CONFLICT (id) DO NOTHING
      RETURNING pkg_facts_archive.namespace
    )
    SELECT m.namespace, count(*), (SELECT count(*) FROM archived a WHERE a.namespace = m.namespace)
      FROM moved m GROUP BY m.namespace ORDER BY m.namespace;
END $$;
