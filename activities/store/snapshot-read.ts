import type { Pool, PoolClient } from 'pg';
import type { Queryable } from './transaction';
import type { CompiledRule, CompiledSnapshot, Condition, Emission } from '../../policy/engine/compiled-snapshot';
import { PkgError } from '../../policy/errors';
import type { RunnableFixture } from '../../policy/bundle/fixtures';
import type { Env } from '../../policy/lane';
import type { OpaArtifacts, StoredArtifact } from '../../policy/rego/artifacts';
import type { SealedSnapshot } from '../../policy/integrity/seal';

/**
 * A stored snapshot read back: exactly the CompiledSnapshot the compiler produced, and its artifacts.
 * A snapshot written the seed's way (rule rows only) may have no artifacts: see artifactsOf.
 */
export interface SnapshotRecord {
  snapshotId: string;
  version: string;
  checksum: string;
  env: Env;
  compiled: CompiledSnapshot;
  wasm: StoredArtifact | null;
  rego: StoredArtifact | null;
  fixtures: RunnableFixture[];
  manifest: Record<string, unknown>;
  /** What load-time verification checks (policy/integrity/seal.ts). */
  sealed: SealedSnapshot;
}

interface SnapshotRow {
  id: string;
  version: string;
  checksum: string;
  env: Env;
  engine: 'native' | 'wasm';
  entrypoint: string;
  manifest: Record<string, unknown>;
  file_checksums: Record<string, string> | null;
  signature: string | null;
  signature_key_id: string | null;
  content_sha256: string | null;
  content_sha256_now: string;
  seal: string | null;
}

interface ArtifactRow {
  type: 'wasm_pack' | 'rego_bundle';
  bytes: Buffer;
  sha256: string;
}

interface RuleRow {
  id: string;
  name: string;
  priority: number;
  enabled: boolean;
  description: string | null;
  conditions: { type: Condition['type']; key: string; op: Condition['op']; value: Condition['value'] | null }[];
  emissions: Emission[];
}

const RULES_SQL = `
  SELECT r.id, r.rule_name AS name, r.priority, r.enabled, r.description,
    COALESCE((SELECT jsonb_agg(jsonb_build_object('type', c.condition_type, 'key', c.condition_key, 'op', c.operator,
                                                  'value', c.value_json) ORDER BY c.position)
              FROM pkg_rule_conditions c WHERE c.rule_id = r.id), '[]') AS conditions,
    COALESCE((SELECT jsonb_agg(jsonb_build_object('subtask', e.subtask, 'relationship', e.relationship_type,
                                                  'params', e.params) ORDER BY e.position)
              FROM pkg_rule_emissions e WHERE e.rule_id = r.id), '[]') AS emissions
  FROM pkg_policy_rules r WHERE r.snapshot_uuid = $1 ORDER BY r.rule_name`;

const SNAPSHOT_SQL = `
  SELECT id, version, checksum, env, engine, entrypoint, manifest, file_checksums, signature, signature_key_id,
         content_sha256, pkg_snapshot_content_sha256(id) AS content_sha256_now, seal
  FROM pkg_snapshots`;

/**
 * One repeatable-read transaction: the rule hash that load-time verification compares is taken
 * from exactly the rows the engine is then built from.
 */
export async function readSnapshot(pool: Pool, which: { id: string } | { version: string }): Promise<SnapshotRecord> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const record = await readSnapshotIn(client, which);
    await client.query('COMMIT');
    return record;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function readSnapshotIn(
  client: PoolClient,
  which: { id: string } | { version: string },
): Promise<SnapshotRecord> {
  const [column, value] = 'id' in which ? ['id', which.id] : ['version', which.version];
  const found = await client.query<SnapshotRow>(`${SNAPSHOT_SQL} WHERE ${column} = $1`, [value]);
  const row = found.rows[0];
  if (!row) throw new PkgError('NotFound', `no snapshot with ${column} ${value}`);
  const types = await client.query<{ name: string; default_params: Record<string, unknown> }>(
    'SELECT name, default_params FROM pkg_subtask_types WHERE snapshot_uuid = $1 ORDER BY name',
    [row.id],
  );
  const rules = await client.query<RuleRow>(RULES_SQL, [row.id]);
  const fixtures = await client.query<RunnableFixture>(
    'SELECT name, input, expect FROM pkg_validation_fixtures WHERE snapshot_uuid = $1 ORDER BY name',
    [row.id],
  );
  const artifacts = await client.query<ArtifactRow>(
    'SELECT artifact_type AS type, artifact_bytes AS bytes, sha256 FROM pkg_snapshot_artifacts WHERE snapshot_uuid = $1',
    [row.id],
  );
  const artifact = (type: ArtifactRow['type']) => {
    const found = artifacts.rows.find((a) => a.type === type);
    return found ? { bytes: found.bytes, sha256: found.sha256 } : null;
  };
  const [wasm, rego] = [artifact('wasm_pack'), artifact('rego_bundle')];
  return {
    snapshotId: row.id,
    version: row.version,
    checksum: row.checksum,
    env: row.env,
    compiled: {
      version: row.version,
      engine: row.engine,
      entrypoint: row.entrypoint,
      subtaskTypes: types.rows.map((t) => ({ name: t.name, defaultParams: t.default_params })),
      rules: rules.rows.map(ruleOf),
    },
    wasm,
    rego,
    fixtures: fixtures.rows,
    manifest: row.manifest,
    sealed: sealedOf(row, wasm, rego),
  };
}

function sealedOf(row: SnapshotRow, wasm: StoredArtifact | null, rego: StoredArtifact | null): SealedSnapshot {
  const { signature, signature_key_id: keyId } = row;
  return {
    version: row.version,
    env: row.env,
    engine: row.engine,
    checksum: row.checksum,
    fileChecksums: row.file_checksums,
    contentSha256: row.content_sha256,
    contentSha256Now: row.content_sha256_now,
    seal: row.seal,
    wasm,
    rego,
    signature: signature !== null && keyId !== null ? { keyId, signature } : null,
  };
}

/** Both OPA artifacts of a snapshot, which whatever runs or validates its wasm needs. */
export function artifactsOf(record: SnapshotRecord): OpaArtifacts {
  const { wasm, rego } = record;
  if (!wasm) throw new PkgError('NotFound', `snapshot ${record.version} has no wasm_pack artifact`);
  if (!rego) throw new PkgError('NotFound', `snapshot ${record.version} has no rego_bundle artifact`);
  return { wasm, rego };
}

function ruleOf(row: RuleRow): CompiledRule {
  return {
    id: row.id,
    name: row.name,
    priority: row.priority,
    enabled: row.enabled,
    ...(row.description === null ? {} : { description: row.description }),
    conditions: row.conditions.map(({ value, ...rest }) => (value === null ? rest : { ...rest, value })),
    emissions: row.emissions,
  };
}

export async function snapshotIdOfVersion(db: Queryable, version: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM pkg_snapshots WHERE version = $1', [version]);
  if (!rows[0]) throw new PkgError('NotFound', `snapshot ${version} does not exist`);
  return rows[0].id;
}
