-- Sealing, audited (ARCHITECTURE.md §10 and "Seed rows honoured"). A snapshot written the seed's way
-- (rule rows, native, no artifacts) has no seal, and evaluators refuse it as unsealed. One function
-- now writes every seal computed in this database: pkg_seal_snapshot hashes the snapshot's content
-- and seals it with the functions a compile used (pkg_snapshot_content_sha256, pkg_snapshot_seal),
-- refuses a snapshot already sealed or whose artifacts do not hold, and records who sealed it. The
-- compile calls it too; `pkgctl snapshot seal` calls it for rows written the seed's way.

-- An absent artifact is named `none` in the seal's text. A recorded sha256 is 64 hex, so a seal over
-- no artifacts differs from every seal over artifacts: deleting a compiled snapshot's artifacts
-- breaks its seal. Every seal written so far covers both artifacts and hashes as before.
CREATE OR REPLACE FUNCTION pkg_seal_of(p_checksum text, p_content text, p_wasm text, p_rego text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(
    format(E'pkg-seal/1\nchecksum %s\ncontent %s\nwasm %s\nrego %s\n', p_checksum, p_content,
           coalesce(p_wasm, 'none'), coalesce(p_rego, 'none')),
    'UTF8')), 'hex')
$$;

-- Who sealed which snapshot, to what: one row per seal (a compile's actor, or whoever vouched for
-- rows written the seed's way).
CREATE TABLE pkg_snapshot_seals (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  snapshot_id    integer NOT NULL,
  snapshot_uuid  uuid NOT NULL,
  version        text NOT NULL,
  content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  seal           text NOT NULL CHECK (seal ~ '^[0-9a-f]{64}$'),
  artifacts      boolean NOT NULL,
  actor          text NOT NULL CHECK (btrim(actor) <> ''),
  created_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (snapshot_id, snapshot_uuid) REFERENCES pkg_snapshots (snapshot_id, id) ON DELETE CASCADE
);
CREATE INDEX pkg_snapshot_seals_snapshot ON pkg_snapshot_seals (snapshot_uuid);

-- Errors: P0002 no such snapshot, 55000 it cannot be sealed as it stands (already sealed, an
-- artifact missing), XX001 an artifact's bytes do not hash to its recorded sha256, 22023 no actor.
CREATE FUNCTION pkg_seal_snapshot(p_snapshot uuid, p_actor text) RETURNS pkg_snapshot_seals
LANGUAGE plpgsql AS $$
DECLARE
  s pkg_snapshots%ROWTYPE;
  v_types text[];
  v_corrupt text;
  v_row pkg_snapshot_seals%ROWTYPE;
BEGIN
  IF p_actor IS NULL OR btrim(p_actor) = '' THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: an actor is required (it is audited)' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO s FROM pkg_snapshots WHERE id = p_snapshot FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: snapshot % does not exist', p_snapshot USING ERRCODE = 'P0002';
  END IF;
  IF s.seal IS NOT NULL OR s.content_sha256 IS NOT NULL THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: snapshot % (%) is already sealed (seal %); a seal is never rewritten',
      s.version, s.snapshot_id, s.seal USING ERRCODE = '55000';
  END IF;
  PERFORM 1 FROM pkg_snapshot_artifacts WHERE snapshot_uuid = s.id FOR UPDATE;
  SELECT array_agg(artifact_type::text ORDER BY artifact_type),
         string_agg(artifact_type::text, ', ' ORDER BY artifact_type)
           FILTER (WHERE encode(sha256(artifact_bytes), 'hex') <> sha256)
    INTO v_types, v_corrupt
    FROM pkg_snapshot_artifacts WHERE snapshot_uuid = s.id;
  IF v_corrupt IS NOT NULL THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: snapshot % (%): the bytes of its % do not hash to the recorded sha256',
      s.version, s.snapshot_id, v_corrupt USING ERRCODE = 'XX001';
  END IF;
  IF v_types IS NULL AND s.engine <> 'native' THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: snapshot % (%) has engine % but no artifacts; only a native snapshot is sealed without them',
      s.version, s.snapshot_id, s.engine USING ERRCODE = '55000';
  END IF;
  -- A snapshot compiled from a bundle (it has a file listing) always had its artifacts.
  IF v_types IS NULL AND s.file_checksums IS NOT NULL THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: snapshot % (%) was compiled from a bundle but has no artifacts; compile it again',
      s.version, s.snapshot_id USING ERRCODE = '55000';
  END IF;
  IF cardinality(v_types) = 1 THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: snapshot % (%) has only its % artifact; a seal covers both artifacts or none',
      s.version, s.snapshot_id, v_types[1] USING ERRCODE = '55000';
  END IF;
  UPDATE pkg_snapshots SET content_sha256 = pkg_snapshot_content_sha256(id), seal = pkg_snapshot_seal(id)
   WHERE id = s.id RETURNING * INTO s;
  INSERT INTO pkg_snapshot_seals (snapshot_id, snapshot_uuid, version, content_sha256, seal, artifacts, actor)
  VALUES (s.snapshot_id, s.id, s.version, s.content_sha256, s.seal, v_types IS NOT NULL, p_actor)
  RETURNING * INTO v_row;
  RETURN v_row;
END $$;

-- The seed's integer form.
CREATE FUNCTION pkg_seal_snapshot(p_snapshot_id integer, p_actor text) RETURNS pkg_snapshot_seals
LANGUAGE plpgsql AS $$
DECLARE
  v_uuid uuid;
BEGIN
  SELECT id INTO v_uuid FROM pkg_snapshots WHERE snapshot_id = p_snapshot_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pkg_seal_snapshot: snapshot % does not exist', p_snapshot_id USING ERRCODE = 'P0002';
  END IF;
  RETURN pkg_seal_snapshot(v_uuid, p_actor);
END $$;

-- pkg_integrity_findings as migration seed schema left it, but a native snapshot sealed without
-- artifacts (rows written the seed's way, then sealed) needs no wasm: its seal says it has none.
CREATE OR REPLACE FUNCTION pkg_integrity_findings()
RETURNS TABLE (check_name text, ok boolean, detail text) LANGUAGE sql STABLE AS $$
  SELECT 'artifact_checksums', count(*) = 0,
         coalesce(string_agg(s.version || ' ' || a.artifact_type, ', '), 'all artifacts match their sha256')
    FROM pkg_snapshot_artifacts a JOIN pkg_snapshots s ON s.id = a.snapshot_uuid
   WHERE encode(sha256(a.artifact_bytes), 'hex') <> a.sha256
  UNION ALL
  SELECT 'snapshots_have_wasm', count(*) = 0,
         coalesce(string_agg(s.version, ', '), 'every snapshot has a wasm artifact, or is native and sealed without artifacts')
    FROM pkg_snapshots s
   WHERE NOT EXISTS (SELECT 1 FROM pkg_snapshot_artifacts a WHERE a.snapshot_uuid = s.id AND a.artifact_type = 'wasm_pack')
     AND NOT coalesce(s.engine = 'native' AND s.seal = pkg_seal_of(s.checksum, s.content_sha256, NULL, NULL), false)
  UNION ALL
  SELECT 'one_active_per_env', count(*) = 0, coalesce(string_agg(env::text, ', '), 'at most one active per env')
    FROM (SELECT env FROM pkg_snapshots WHERE is_active GROUP BY env HAVING count(*) > 1) dup
  UNION ALL
  SELECT 'deployments_in_env', count(*) = 0,
         coalesce(string_agg(d.env || '/' || d.target || '/' || d.region, ', '), 'lanes serve snapshots of their env')
    FROM pkg_deployments d JOIN pkg_snapshots s ON s.id IN (d.stable_snapshot_id, d.candidate_snapshot_id)
   WHERE s.env <> d.env
  UNION ALL
  SELECT 'snapshots_sealed', count(*) = 0,
         coalesce(string_agg(s.version, ', ' ORDER BY s.version), 'every snapshot is sealed')
    FROM pkg_snapshots s WHERE s.seal IS NULL OR s.content_sha256 IS NULL
  UNION ALL
  SELECT 'rule_rows_match_snapshot', count(*) = 0,
         coalesce(string_agg(s.version, ', ' ORDER BY s.version), 'rule rows, fixtures and manifests hash as they did when compiled')
    FROM pkg_snapshots s WHERE s.content_sha256 IS NOT NULL AND pkg_snapshot_content_sha256(s.id) <> s.content_sha256
  UNION ALL
  SELECT 'artifacts_match_seal', count(*) = 0,
         coalesce(string_agg(s.version, ', ' ORDER BY s.version), 'artifacts chain up to their snapshot checksum')
    FROM pkg_snapshots s
   WHERE s.seal IS NOT NULL
     AND s.seal IS DISTINCT FROM pkg_seal_of(s.checksum, s.content_sha256,
           (SELECT encode(sha256(a.artifact_bytes), 'hex') FROM pkg_snapshot_artifacts a
             WHERE a.snapshot_uuid = s.id AND a.artifact_type = 'wasm_pack'),
           (SELECT encode(sha256(a.artifact_bytes), 'hex') FROM pkg_snapshot_artifacts a
             WHERE a.snapshot_uuid = s.id AND a.artifact_type = 'rego_bundle'))
  UNION ALL
  SELECT 'file_checksums_match_checksum', count(*) = 0,
         coalesce(string_agg(s.version, ', ' ORDER BY s.version), 'file listings hash to their snapshot checksum')
    FROM pkg_snapshots s
   WHERE s.file_checksums IS NOT NULL
     AND encode(sha256(convert_to(
           (SELECT coalesce(string_agg(f.value || '  ' || f.key || E'\n', '' ORDER BY f.key COLLATE "C"), '')
              FROM jsonb_each_text(s.file_checksums) f), 'UTF8')), 'hex') <> s.checksum
  UNION ALL
  SELECT 'emissions_in_rule_snapshot', count(*) = 0,
         coalesce(string_agg(DISTINCT s.version || ' rule ' || r.rule_name, ', '), 'every emission is in its rule''s snapshot')
    FROM pkg_rule_emissions e JOIN pkg_policy_rules r ON r.id = e.rule_id JOIN pkg_snapshots s ON s.id = r.snapshot_uuid
   WHERE e.snapshot_uuid <> r.snapshot_uuid
  UNION ALL
  -- A seed-style run still open (no report, no success yet) has not passed.
  SELECT 'lanes_serve_validated', count(*) = 0,
         coalesce(string_agg(d.env || '/' || d.target || '/' || d.region || ' ' || s.version, ', '
                             ORDER BY d.env, d.target, d.region, s.version),
                  'every lane serves snapshots whose fixtures passed')
    FROM pkg_deployments d JOIN pkg_snapshots s ON s.id IN (d.stable_snapshot_id, d.candidate_snapshot_id)
   WHERE NOT EXISTS (SELECT 1 FROM pkg_validation_runs v WHERE v.snapshot_uuid = s.id AND (v.failed = 0 OR v.success))
      OR EXISTS (SELECT 1 FROM pkg_validation_runs v WHERE v.snapshot_uuid = s.id AND (v.failed > 0 OR NOT v.success))
$$;
