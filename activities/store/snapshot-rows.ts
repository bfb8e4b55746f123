import type { PoolClient } from 'pg';
import type { CompiledSnapshot } from '../../policy/engine/compiled-snapshot';
import type { RunnableFixture } from '../../policy/bundle/fixtures';
import type { OpaArtifacts } from '../../policy/rego/artifacts';

/** What a snapshot is made of besides its own row. */
export interface SnapshotParts {
  compiled: CompiledSnapshot;
  fixtures: readonly RunnableFixture[];
  artifacts: OpaArtifacts;
}

/**
 * The child rows of a snapshot, each table in one statement (jsonb_to_recordset), so a 500-rule
 * snapshot is a handful of round trips inside its transaction rather than thousands.
 */
export async function insertSnapshotRows(client: PoolClient, snapshotId: string, parts: SnapshotParts): Promise<void> {
  const { compiled, fixtures, artifacts } = parts;
  const insert = (sql: string, rows: unknown[]) =>
    rows.length ? client.query(sql, [snapshotId, JSON.stringify(rows)]) : Promise.resolve();
  await insert(
    `INSERT INTO pkg_subtask_types (snapshot_uuid, name, default_params)
     SELECT $1, name, default_params FROM jsonb_to_recordset($2::jsonb) AS t(name text, default_params jsonb)`,
    compiled.subtaskTypes.map((type) => ({ name: type.name, default_params: type.defaultParams })),
  );
  await insert(
    `INSERT INTO pkg_policy_rules (id, snapshot_uuid, rule_name, priority, disabled, description, rule_source)
     SELECT id, $1, name, priority, NOT enabled, description, rule_source
     FROM jsonb_to_recordset($2::jsonb)
       AS t(id text, name text, priority integer, enabled boolean, description text, rule_source text)`,
    compiled.rules.map(({ id, ...rule }) => ({
      id,
      name: rule.name,
      priority: rule.priority,
      enabled: rule.enabled,
      description: rule.description ?? null,
      rule_source: JSON.stringify(rule),
    })),
  );
  await client.query(
    `INSERT INTO pkg_rule_conditions (rule_id, position, condition_type, condition_key, operator, value_json)
     SELECT rule_id, position, type::pkg_condition_type, key, op::pkg_operator, value
     FROM jsonb_to_recordset($1::jsonb) AS t(rule_id text, position integer, type text, key text, op text, value jsonb)`,
    [
      JSON.stringify(
        compiled.rules.flatMap((rule) =>
          rule.conditions.map((c, position) => ({
            rule_id: rule.id,
            position,
            type: c.type,
            key: c.key,
            op: c.op,
            value: c.value ?? null,
          })),
        ),
      ),
    ],
  );
  await insert(
    `INSERT INTO pkg_rule_emissions (rule_id, position, snapshot_uuid, subtask, relationship_type, params)
     SELECT rule_id, position, $1, subtask, relationship::pkg_relation, params
     FROM jsonb_to_recordset($2::jsonb) AS t(rule_id text, position integer, subtask text, relationship text, params jsonb)`,
    compiled.rules.flatMap((rule) => rule.emissions.map((e, position) => ({ rule_id: rule.id, position, ...e }))),
  );
  await insert(
    `INSERT INTO pkg_validation_fixtures (snapshot_uuid, name, input, expect)
     SELECT $1, name, input, expect FROM jsonb_to_recordset($2::jsonb) AS t(name text, input jsonb, expect jsonb)`,
    fixtures.map((f) => ({ name: f.name, input: f.input, expect: f.expect })),
  );
  for (const [type, artifact] of [
    ['wasm_pack', artifacts.wasm],
    ['rego_bundle', artifacts.rego],
  ] as const) {
    await client.query(
      'INSERT INTO pkg_snapshot_artifacts (snapshot_uuid, artifact_type, artifact_bytes, sha256) VALUES ($1, $2, $3, $4)',
      [snapshotId, type, artifact.bytes, artifact.sha256],
    );
  }
  await client.query(
    `UPDATE pkg_snapshots SET size_bytes = (SELECT sum(size_bytes) FROM pkg_snapshot_artifacts WHERE snapshot_uuid = $1)
      WHERE id = $1`,
    [snapshotId],
  );
}
