-- Rollout safety: an evaluator's staleness follows its own heartbeat period, and one view says
-- which evaluators are live, for coverage and for refusing a lane nobody serves.

ALTER TABLE pkg_device_versions
  ADD COLUMN heartbeat_ms integer NOT NULL DEFAULT 3000 CHECK (heartbeat_ms > 0);

DROP VIEW pkg_deployment_coverage;
DROP FUNCTION pkg_evaluator_stale_after();

-- Three missed heartbeats of the instance's own period (at least one second) and it no longer counts.
CREATE FUNCTION pkg_evaluator_stale_after(p_heartbeat_ms integer) RETURNS interval LANGUAGE sql IMMUTABLE AS $$
  SELECT greatest(3 * p_heartbeat_ms, 1000) * interval '1 millisecond'
$$;

CREATE VIEW pkg_live_evaluators AS
SELECT instance_id, env, target, region, snapshot_id, candidate_snapshot_id, canary_percent, loaded_versions,
       heartbeat_ms, last_seen
  FROM pkg_device_versions
 WHERE device_type = 'evaluator' AND last_seen > now() - pkg_evaluator_stale_after(heartbeat_ms);

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
  LEFT JOIN pkg_live_evaluators v ON v.env = d.env AND v.target = d.target AND v.region = d.region
 GROUP BY d.id;
