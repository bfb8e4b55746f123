-- Integrity end to end (ARCHITECTURE.md §10): what an evaluator loads chains up to the snapshot
-- checksum, signatures are kept and checked again at load, and one function names every
-- inconsistency.

-- The per-file sha256 listing whose hash is the snapshot checksum (what signatures sign), the
-- bundle signature that verified at compile with its key id, the canonical hash of its content
-- (rule rows and the rest, pkg_snapshot_content_sha256) and the seal: sha256 over checksum, content
-- and artifacts, so no part can change alone.
ALTER TABLE pkg_snapshots
  ADD COLUMN file_checksums   jsonb,
  ADD COLUMN signature        text,
  ADD COLUMN signature_key_id text CHECK (signature_key_id ~ '^[0-9a-f]{16}$'),
  ADD COLUMN content_sha256     text CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  ADD COLUMN seal             text CHECK (seal ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT pkg_snapshots_signature_has_key CHECK ((signature IS NULL) = (signature_key_id IS NULL));

-- Emissions name their snapshot (for the subtask type foreign key); it must be their rule's.
-- NOT VALID: rows written before this migration are reported by pkg_integrity_findings(), not
-- refused here; every new row is checked.
ALTER TABLE pkg_policy_rules ADD CONSTRAINT pkg_policy_rules_id_snapshot UNIQUE (id, snapshot_id);
ALTER TABLE pkg_rule_emissions
  ADD CONSTRAINT pkg_rule_emissions_same_snapshot FOREIGN KEY (rule_id, snapshot_id)
  REFERENCES pkg_policy_rules (id, snapshot_id) ON DELETE CASCADE NOT VALID;

-- Everything a snapshot decides and is validated with (its row's identity and manifest, subtask
-- types, rules with conditions and emissions, fixtures) as canonical JSON (jsonb text has one form
-- per value; names ordered by code point), hashed. Emissions keep their snapshot id, so one moved
-- to another snapshot changes the hash too.
CREATE FUNCTION pkg_snapshot_content_sha256(p_snapshot uuid) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(jsonb_build_array(
    s.id, s.version, s.env, s.engine, s.entrypoint, s.schema_version, s.notes, s.manifest,
    COALESCE((SELECT jsonb_agg(jsonb_build_array(t.name, t.default_params) ORDER BY t.name COLLATE "C")
                FROM pkg_subtask_types t WHERE t.snapshot_id = s.id), '[]'),
    COALESCE((SELECT jsonb_agg(jsonb_build_array(
                r.id, r.name, r.priority, r.enabled, r.description,
                COALESCE((SELECT jsonb_agg(jsonb_build_array(c.position, c.type, c.key, c.op, c.value) ORDER BY c.position)
                            FROM pkg_rule_conditions c WHERE c.rule_id = r.id), '[]'),
                COALESCE((SELECT jsonb_agg(jsonb_build_array(e.position, e.snapshot_id, e.subtask, e.relationship, e.params)
                                           ORDER BY e.position)
                            FROM pkg_rule_emissions e WHERE e.rule_id = r.id), '[]'))
              ORDER BY r.id COLLATE "C")
                FROM pkg_policy_rules r WHERE r.snapshot_id = s.id), '[]'),
    COALESCE((SELECT jsonb_agg(jsonb_build_array(f.name, f.input, f.expect) ORDER BY f.name COLLATE "C")
                FROM pkg_validation_fixtures f WHERE f.snapshot_id = s.id), '[]')
  )::text, 'UTF8')), 'hex')
  FROM pkg_snapshots s WHERE s.id = p_snapshot
$$;

-- The seal's text, byte for byte the one policy/integrity/seal.ts hashes.
CREATE FUNCTION pkg_seal_of(p_checksum text, p_content text, p_wasm text, p_rego text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(
    format(E'pkg-seal/1\nchecksum %s\ncontent %s\nwasm %s\nrego %s\n', p_checksum, p_content, p_wasm, p_rego),
    'UTF8')), 'hex')
$$;

-- The seal of a snapshot as it stands: its content hashed now, its artifacts' recorded sha256.
CREATE FUNCTION pkg_snapshot_seal(p_snapshot uuid) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT pkg_seal_of(s.checksum, pkg_snapshot_content_sha256(s.id),
           (SELECT a.sha256 FROM pkg_snapshot_artifacts a WHERE a.snapshot_id = s.id AND a.type = 'wasm'),
           (SELECT a.sha256 FROM pkg_snapshot_artifacts a WHERE a.snapshot_id = s.id AND a.type = 'rego'))
  FROM pkg_snapshots s WHERE s.id = p_snapshot
$$;

-- Snapshots compiled before this migration are sealed as they stand now: run pkg_check_integrity()
-- first, since whatever was already changed in them is sealed with them. An artifact whose bytes
-- no longer match its recorded sha256 stays detectable (the seal takes the recorded value).
UPDATE pkg_snapshots s
   SET content_sha256 = pkg_snapshot_content_sha256(s.id), seal = pkg_snapshot_seal(s.id)
 WHERE EXISTS (SELECT 1 FROM pkg_snapshot_artifacts a WHERE a.snapshot_id = s.id AND a.type = 'wasm')
   AND EXISTS (SELECT 1 FROM pkg_snapshot_artifacts a WHERE a.snapshot_id = s.id AND a.type = 'rego');

-- Every check, each named, with what it found: pkg_check_integrity()'s checks, then the chain
-- from rule rows and artifacts up to the snapshot checksum, emissions across snapshots and lanes
-- serving snapshots whose fixtures never passed.
CREATE FUNCTION pkg_integrity_findings()
RETURNS TABLE (check_name text, ok boolean, detail text) LANGUAGE sql STABLE AS $$
  SELECT * FROM pkg_check_integrity()
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
           (SELECT encode(sha256(a.bytes), 'hex') FROM pkg_snapshot_artifacts a WHERE a.snapshot_id = s.id AND a.type = 'wasm'),
           (SELECT encode(sha256(a.bytes), 'hex') FROM pkg_snapshot_artifacts a WHERE a.snapshot_id = s.id AND a.type = 'rego'))
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
         coalesce(string_agg(DISTINCT s.version || ' rule ' || r.name, ', '), 'every emission is in its rule''s snapshot')
    FROM pkg_rule_emissions e JOIN pkg_policy_rules r ON r.id = e.rule_id JOIN pkg_snapshots s ON s.id = r.snapshot_id
   WHERE e.snapshot_id <> r.snapshot_id
  UNION ALL
  SELECT 'lanes_serve_validated', count(*) = 0,
         coalesce(string_agg(d.env || '/' || d.target || '/' || d.region || ' ' || s.version, ', '
                             ORDER BY d.env, d.target, d.region, s.version),
                  'every lane serves snapshots whose fixtures passed')
    FROM pkg_deployments d JOIN pkg_snapshots s ON s.id IN (d.snapshot_id, d.candidate_snapshot_id)
   WHERE NOT EXISTS (SELECT 1 FROM pkg_validation_runs v WHERE v.snapshot_id = s.id)
      OR EXISTS (SELECT 1 FROM pkg_validation_runs v WHERE v.snapshot_id = s.id AND v.failed > 0)
$$;

-- An abort (a dead rollout's candidate withdrawn by hand) is a decision in the env's chain too.
ALTER TABLE pkg_decision_records DROP CONSTRAINT pkg_decision_records_outcome_check;
ALTER TABLE pkg_decision_records
  ADD CONSTRAINT pkg_decision_records_outcome_check
  CHECK (outcome IN ('promoted', 'rolled_back', 'rejected', 'reverted', 'aborted'));
