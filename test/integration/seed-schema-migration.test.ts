import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { applyFiles, createScratchDatabase, migrationFiles, type ScratchDatabase } from '../support/scratch-database';
import { NO_SIGNING } from '../../policy/bundle/signing';
import { SnapshotRefused } from '../../policy/integrity/seal';
import { buildSnapshot } from '../../worker/evaluator/snapshots';

/**
 * The seed schema migration applied to a database holding rows of every kind written before it
 * (the schema of the migrations that precede it, with its own column names): every row is still
 * there with what it said, and now also says it under the seed's names.
 */
const SEED_SCHEMA = '_seed_schema.sql';

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const A = uuid(1); // prod, older, active
const B = uuid(2); // prod, newer, the canary candidate
const D = uuid(3); // dev, wasm engine
const RULE_VIP = 'a'.repeat(32);
const RULE_OFF = 'b'.repeat(32);
const WASM = Buffer.from('\0asm A');
const REGO = Buffer.from('rego bundle A');

let scratch: ScratchDatabase;
let pool: Pool;
let counts: Record<string, number>;
let sealedBefore: { content_sha256: string; seal: string };

const TABLES = [
  'pkg_snapshots',
  'pkg_subtask_types',
  'pkg_policy_rules',
  'pkg_rule_conditions',
  'pkg_rule_emissions',
  'pkg_snapshot_artifacts',
  'pkg_validation_fixtures',
  'pkg_deployments',
  'pkg_facts',
  'pkg_facts_archive',
  'pkg_validation_runs',
  'pkg_promotions',
  'pkg_device_versions',
  'pkg_rollout_events',
  'pkg_decision_records',
];

async function countRows(db: Pool): Promise<Record<string, number>> {
  const entries = await Promise.all(
    TABLES.map(async (t) => [t, (await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n] as const),
  );
  return Object.fromEntries(entries);
}

/** Rows as the code before the seed schema wrote them, in its column names. */
async function writeTodaysRows(db: Pool): Promise<void> {
  await db.query(
    `INSERT INTO pkg_snapshots (id, version, env, engine, entrypoint, schema_version, notes, checksum, manifest,
                                is_active, activated_at, created_by, created_at)
     VALUES ($1, 'hotel@1.0.0', 'prod', 'native', 'pkg/result', '1', 'first', $4, '{"name":"hotel"}', true, now(), 'alice', now() - interval '3 days'),
            ($2, 'hotel@1.1.0', 'prod', 'native', 'pkg/result', '1', NULL, $5, '{"name":"hotel"}', false, NULL, 'bob', now() - interval '2 days'),
            ($3, 'door@2.0.0', 'dev', 'wasm', 'pkg/result', '1', NULL, $6, '{}', true, now(), 'carol', now() - interval '1 day')`,
    [A, B, D, sha256('A'), sha256('B'), sha256('D')],
  );
  await db.query(
    `INSERT INTO pkg_subtask_types (snapshot_id, name, default_params) VALUES
    ($1, 'escalate', '{"level":"low"}'), ($1, 'notify', '{}')`,
    [A],
  );
  await db.query(
    `INSERT INTO pkg_policy_rules (id, snapshot_id, name, priority, enabled, description) VALUES
       ($1, $3, 'vip', 10, true, 'VIPs are escalated'), ($2, $3, 'off', 1, false, NULL)`,
    [RULE_VIP, RULE_OFF, A],
  );
  await db.query(
    `INSERT INTO pkg_rule_conditions (rule_id, position, type, key, op, value) VALUES
       ($1, 0, 'TAG', 'vip', 'EXISTS', NULL), ($1, 1, 'SIGNAL', 'x2', '>=', '0.7'), ($1, 2, 'VALUE', 'tier', '=', '"gold"'),
       ($2, 0, 'TAG', 'never', 'EXISTS', NULL)`,
    [RULE_VIP, RULE_OFF],
  );
  await db.query(
    `INSERT INTO pkg_rule_emissions (rule_id, position, snapshot_id, subtask, relationship, params) VALUES
       ($1, 0, $2, 'escalate', 'EMITS', '{"level":"high"}'), ($1, 1, $2, 'notify', 'ORDERS', '{"after":"escalate"}')`,
    [RULE_VIP, A],
  );
  await db.query(
    `INSERT INTO pkg_snapshot_artifacts (snapshot_id, type, bytes, sha256, size) VALUES
       ($1, 'wasm', $2, $3, $4), ($1, 'rego', $5, $6, $7)`,
    [A, WASM, sha256(WASM), WASM.length, REGO, sha256(REGO), REGO.length],
  );
  await db.query(
    `INSERT INTO pkg_validation_fixtures (snapshot_id, name, input, expect) VALUES ($1, 'vip', '{"tags":["vip"]}', '{"ok":true}')`,
    [A],
  );
  await db.query(
    `INSERT INTO pkg_deployments (env, target, region, snapshot_id, candidate_snapshot_id, canary_percent, salt, rollout_id, updated_by)
     VALUES ('prod', 'default', 'default', $1, $2, 12.5, 'salt-1', 'rollout-1', 'pipeline'),
            ('prod', 'router', 'default', $1, NULL, 0, '', NULL, 'pinned')`,
    [A, B],
  );
  await db.query(
    `INSERT INTO pkg_facts (namespace, subject, predicate, object, valid_from, valid_to) VALUES
       ('hotel', 'guest:Ben', 'hasTemporaryAccess', '{"service":"lounge"}', now() - interval '1 hour', now() + interval '1 hour'),
       ('hotel', 'guest:Ann', 'isVip', '{}', now() - interval '1 day', NULL)`,
  );
  await db.query(
    `INSERT INTO pkg_facts_archive (id, namespace, subject, predicate, object, valid_from, valid_to, created_at)
     VALUES (1000, 'hotel', 'guest:Old', 'stayed', '{}', now() - interval '9 days', now() - interval '8 days', now() - interval '9 days')`,
  );
  await db.query(
    `INSERT INTO pkg_validation_runs (snapshot_id, run_key, engine, passed, failed, report, created_at) VALUES
       ($1, 'rollout-1:fixtures', 'native', 3, 0, '{"results":[]}', now() - interval '2 hours'),
       ($1, 'rollout-0:fixtures', 'native', 1, 2, '{"results":[{"name":"x","ok":false}]}', now() - interval '3 hours')`,
    [B],
  );
  await db.query(
    `INSERT INTO pkg_promotions (snapshot_id, previous_snapshot_id, env, action, actor, reason, idempotency_key, target, region) VALUES
       ($1, NULL, 'prod', 'promote', 'alice', 'first', 'p-1', 'default', 'default'),
       ($2, $1, 'prod', 'rollback', 'pipeline', 'p99 too high', 'rollout-0:rollback', 'default', 'default')`,
    [A, B],
  );
  await db.query(
    `INSERT INTO pkg_device_versions (instance_id, env, target, region, snapshot_id, candidate_snapshot_id, canary_percent,
                                      loaded_versions, heartbeat_ms)
     VALUES ('evaluator-1#0', 'prod', 'default', 'default', $1, $2, 12.5, '{hotel@1.0.0,hotel@1.1.0}', 2000)`,
    [A, B],
  );
  await db.query(
    `INSERT INTO pkg_rollout_events (rollout_id, event_key, env, target, region, snapshot_id, event, step, percent, actor, details)
     VALUES ('rollout-1', 'rollout-1:step:1', 'prod', 'default', 'default', $1, 'step', 1, 5, 'pipeline', '{}'),
            ('rollout-1', 'rollout-1:step:2', 'prod', 'default', 'default', $1, 'step', 2, 12.5, 'pipeline', '{"gate":"ok"}')`,
    [B],
  );
  await db.query(
    `INSERT INTO pkg_decision_records (id, env, rollout_id, snapshot_id, outcome, canonical, narrative)
     VALUES ($1, 'prod', 'rollout-0', $2, 'rolled_back', '{}', 'rolled back')`,
    [sha256('record'), B],
  );
}

/** Seals a snapshot with the statement a compile ran before the seed schema (migration integrity's functions). */
async function sealAsCompiled(db: Pool, id: string): Promise<{ content_sha256: string; seal: string }> {
  const { rows: sealed } = await db.query(
    `UPDATE pkg_snapshots SET content_sha256 = pkg_snapshot_content_sha256(id), seal = pkg_snapshot_seal(id)
      WHERE id = $1 RETURNING content_sha256, seal`,
    [id],
  );
  return sealed[0];
}

beforeAll(async () => {
  scratch = await createScratchDatabase('seed_migration');
  pool = scratch.pool;
  await applyFiles(pool, await migrationFiles(SEED_SCHEMA));
  await writeTodaysRows(pool);
  sealedBefore = await sealAsCompiled(pool, A);
  counts = await countRows(pool);
  const all = await migrationFiles();
  await applyFiles(pool, all.slice((await migrationFiles(SEED_SCHEMA)).length));
});

afterAll(async () => {
  await scratch.drop();
});

const rows = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows;

test('no row is lost', async () => {
  expect(counts.pkg_snapshots).toBe(3);
  expect(await countRows(pool)).toEqual(counts);
});

test('snapshots are numbered in creation order and keep their uuid, with size_bytes from their artifacts', async () => {
  expect(
    await rows(
      `SELECT snapshot_id, id, version, env, engine, notes, created_by, is_active, size_bytes, signature,
              manifest FROM pkg_snapshots ORDER BY snapshot_id`,
    ),
  ).toEqual([
    {
      snapshot_id: 1,
      id: A,
      version: 'hotel@1.0.0',
      env: 'prod',
      engine: 'native',
      notes: 'first',
      created_by: 'alice',
      is_active: true,
      size_bytes: String(WASM.length + REGO.length),
      signature: null,
      manifest: { name: 'hotel' },
    },
    expect.objectContaining({ snapshot_id: 2, id: B, version: 'hotel@1.1.0', size_bytes: null }),
    expect.objectContaining({ snapshot_id: 3, id: D, version: 'door@2.0.0', env: 'dev', engine: 'wasm' }),
  ]);
  const [{ n }] = await rows(
    `INSERT INTO pkg_snapshots (version, checksum) VALUES ('next@1.0.0', $1) RETURNING snapshot_id AS n`,
    [sha256('next')],
  );
  expect(n).toBe(4);
  await pool.query(`DELETE FROM pkg_snapshots WHERE version = 'next@1.0.0'`);
});

test('rules keep name, priority, description and enabled, and read as the seed rule', async () => {
  const found = await rows(
    `SELECT id, snapshot_id, snapshot_uuid, rule_name, priority, description, enabled, disabled, engine,
            rule_source::jsonb AS source, rule_hash = encode(sha256(convert_to(rule_source, 'UTF8')), 'hex') AS hashed,
            metadata FROM pkg_policy_rules ORDER BY rule_name`,
  );
  expect(found).toEqual([
    {
      id: RULE_OFF,
      snapshot_id: 1,
      snapshot_uuid: A,
      rule_name: 'off',
      priority: 1,
      description: null,
      enabled: false,
      disabled: true,
      engine: 'native',
      source: expect.objectContaining({ name: 'off', enabled: false }),
      hashed: true,
      metadata: {},
    },
    {
      id: RULE_VIP,
      snapshot_id: 1,
      snapshot_uuid: A,
      rule_name: 'vip',
      priority: 10,
      description: 'VIPs are escalated',
      enabled: true,
      disabled: false,
      engine: 'native',
      source: {
        name: 'vip',
        priority: 10,
        enabled: true,
        description: 'VIPs are escalated',
        conditions: [
          { type: 'TAG', key: 'vip', op: 'EXISTS', value: null },
          { type: 'SIGNAL', key: 'x2', op: '>=', value: 0.7 },
          { type: 'VALUE', key: 'tier', op: '=', value: 'gold' },
        ],
        emissions: [
          { subtask: 'escalate', relationship: 'EMITS', params: { level: 'high' } },
          { subtask: 'notify', relationship: 'ORDERS', params: { after: 'escalate' } },
        ],
      },
      hashed: true,
      metadata: {},
    },
  ]);
});

test('conditions keep their typed value and show it as the seed text', async () => {
  expect(
    await rows(
      `SELECT rule_id, position, condition_type, condition_key, operator, value, value_json
         FROM pkg_rule_conditions ORDER BY rule_id DESC, position`,
    ),
  ).toEqual([
    {
      rule_id: RULE_OFF,
      position: 0,
      condition_type: 'TAG',
      condition_key: 'never',
      operator: 'EXISTS',
      value: null,
      value_json: null,
    },
    {
      rule_id: RULE_VIP,
      position: 0,
      condition_type: 'TAG',
      condition_key: 'vip',
      operator: 'EXISTS',
      value: null,
      value_json: null,
    },
    {
      rule_id: RULE_VIP,
      position: 1,
      condition_type: 'SIGNAL',
      condition_key: 'x2',
      operator: '>=',
      value: '0.7',
      value_json: 0.7,
    },
    {
      rule_id: RULE_VIP,
      position: 2,
      condition_type: 'VALUE',
      condition_key: 'tier',
      operator: '=',
      value: 'gold',
      value_json: 'gold',
    },
  ]);
});

test('emissions name their subtask type by id, and subtask types carry the seed id', async () => {
  const emitted = await rows(
    `SELECT e.position, e.subtask, e.relationship_type, e.params, t.name AS type_name, t.snapshot_id, t.default_params
       FROM pkg_rule_emissions e JOIN pkg_subtask_types t ON t.id = e.subtask_type_id ORDER BY e.position`,
  );
  expect(emitted).toEqual([
    {
      position: 0,
      subtask: 'escalate',
      relationship_type: 'EMITS',
      params: { level: 'high' },
      type_name: 'escalate',
      snapshot_id: 1,
      default_params: { level: 'low' },
    },
    {
      position: 1,
      subtask: 'notify',
      relationship_type: 'ORDERS',
      params: { after: 'escalate' },
      type_name: 'notify',
      snapshot_id: 1,
      default_params: {},
    },
  ]);
});

test('artifacts keep their bytes and digests under the seed names and enum values', async () => {
  expect(
    await rows(
      `SELECT snapshot_id, snapshot_uuid, artifact_type, artifact_bytes, sha256, size_bytes, created_by
         FROM pkg_snapshot_artifacts ORDER BY artifact_type::text`,
    ),
  ).toEqual([
    {
      snapshot_id: 1,
      snapshot_uuid: A,
      artifact_type: 'rego_bundle',
      artifact_bytes: REGO,
      sha256: sha256(REGO),
      size_bytes: String(REGO.length),
      created_by: 'system',
    },
    {
      snapshot_id: 1,
      snapshot_uuid: A,
      artifact_type: 'wasm_pack',
      artifact_bytes: WASM,
      sha256: sha256(WASM),
      size_bytes: String(WASM.length),
      created_by: 'system',
    },
  ]);
  expect(await rows(`SELECT snapshot_id, name, input, expect FROM pkg_validation_fixtures`)).toEqual([
    { snapshot_id: 1, name: 'vip', input: { tags: ['vip'] }, expect: { ok: true } },
  ]);
});

test('lanes keep stable, candidate, share, salt and who set them; the seed columns describe the canary', async () => {
  expect(
    await rows(
      `SELECT target, stable_snapshot_id, candidate_snapshot_id, canary_percent::text, salt, rollout_id, activated_by,
              snapshot_id, percent, is_active, lane_id IS NOT NULL AS kept_lane_id
         FROM pkg_deployments ORDER BY target`,
    ),
  ).toEqual([
    {
      target: 'default',
      stable_snapshot_id: A,
      candidate_snapshot_id: B,
      canary_percent: '12.50',
      salt: 'salt-1',
      rollout_id: 'rollout-1',
      activated_by: 'pipeline',
      snapshot_id: 2,
      percent: 13,
      is_active: true,
      kept_lane_id: true,
    },
    {
      target: 'router',
      stable_snapshot_id: A,
      candidate_snapshot_id: null,
      canary_percent: '0.00',
      salt: '',
      rollout_id: null,
      activated_by: 'pinned',
      snapshot_id: 1,
      percent: 100,
      is_active: true,
      kept_lane_id: true,
    },
  ]);
});

test('facts and archived facts keep every column and gain the seed defaults', async () => {
  expect(
    await rows(
      `SELECT subject, object, valid_to IS NULL AS indefinite, snapshot_id, created_by, pkg_rule_id, validation_status
         FROM pkg_facts ORDER BY subject`,
    ),
  ).toEqual([
    {
      subject: 'guest:Ann',
      object: {},
      indefinite: true,
      snapshot_id: null,
      created_by: 'system',
      pkg_rule_id: null,
      validation_status: null,
    },
    {
      subject: 'guest:Ben',
      object: { service: 'lounge' },
      indefinite: false,
      snapshot_id: null,
      created_by: 'system',
      pkg_rule_id: null,
      validation_status: null,
    },
  ]);
  expect(await rows(`SELECT id, subject, created_by FROM pkg_facts_archive`)).toEqual([
    { id: '1000', subject: 'guest:Old', created_by: 'system' },
  ]);
  expect(await rows(`SELECT subject, object_data FROM facts WHERE subject = 'guest:Ben'`)).toEqual([
    { subject: 'guest:Ben', object_data: { service: 'lounge' } },
  ]);
});

test('validation runs keep counts and report; success and finished_at follow what they recorded', async () => {
  expect(
    await rows(
      `SELECT run_key, snapshot_id, engine, passed, failed, success, finished_at = started_at AS finished_when_recorded,
              report FROM pkg_validation_runs ORDER BY run_key`,
    ),
  ).toEqual([
    {
      run_key: 'rollout-0:fixtures',
      snapshot_id: 2,
      engine: 'native',
      passed: 1,
      failed: 2,
      success: false,
      finished_when_recorded: true,
      report: { results: [{ name: 'x', ok: false }], passed: 1, failed: 2 },
    },
    {
      run_key: 'rollout-1:fixtures',
      snapshot_id: 2,
      engine: 'native',
      passed: 3,
      failed: 0,
      success: true,
      finished_when_recorded: true,
      report: { results: [], passed: 3, failed: 0 },
    },
  ]);
});

test('promotions keep their lane and keys, and read from_version and to_version', async () => {
  expect(
    await rows(
      `SELECT idempotency_key, snapshot_id, snapshot_uuid, previous_snapshot_id, from_version, to_version, action, actor,
              reason, target, region, metrics, success
         FROM pkg_promotions ORDER BY id`,
    ),
  ).toEqual([
    {
      idempotency_key: 'p-1',
      snapshot_id: 1,
      snapshot_uuid: A,
      previous_snapshot_id: null,
      from_version: null,
      to_version: 'hotel@1.0.0',
      action: 'promote',
      actor: 'alice',
      reason: 'first',
      target: 'default',
      region: 'default',
      metrics: {},
      success: true,
    },
    {
      idempotency_key: 'rollout-0:rollback',
      snapshot_id: 2,
      snapshot_uuid: B,
      previous_snapshot_id: A,
      from_version: 'hotel@1.0.0',
      to_version: 'hotel@1.1.0',
      action: 'rollback',
      actor: 'pipeline',
      reason: 'p99 too high',
      target: 'default',
      region: 'default',
      metrics: {},
      success: true,
    },
  ]);
});

test('devices keep their evaluator state and read as the seed device (device_id, version)', async () => {
  expect(
    await rows(
      `SELECT device_id, device_type, env, target, snapshot_id, snapshot_uuid, version, candidate_snapshot_id,
              canary_percent::text, loaded_versions, heartbeat_ms FROM pkg_device_versions`,
    ),
  ).toEqual([
    {
      device_id: 'evaluator-1#0',
      device_type: 'evaluator',
      env: 'prod',
      target: 'default',
      snapshot_id: 1,
      snapshot_uuid: A,
      version: 'hotel@1.0.0',
      candidate_snapshot_id: B,
      canary_percent: '12.50',
      loaded_versions: ['hotel@1.0.0', 'hotel@1.1.0'],
      heartbeat_ms: 2000,
    },
  ]);
});

test('rollout events keep their keys and details; to_percent is the old percent, from_percent the step before', async () => {
  expect(
    await rows(
      `SELECT event_key, rollout_id, event, step, snapshot_id, from_percent::text, to_percent::text, details, validation_run_id
         FROM pkg_rollout_events ORDER BY id`,
    ),
  ).toEqual([
    {
      event_key: 'rollout-1:step:1',
      rollout_id: 'rollout-1',
      event: 'step',
      step: 1,
      snapshot_id: 2,
      from_percent: null,
      to_percent: '5.00',
      details: {},
      validation_run_id: null,
    },
    {
      event_key: 'rollout-1:step:2',
      rollout_id: 'rollout-1',
      event: 'step',
      step: 2,
      snapshot_id: 2,
      from_percent: '5.00',
      to_percent: '12.50',
      details: { gate: 'ok' },
      validation_run_id: null,
    },
  ]);
  expect(await rows(`SELECT snapshot_id FROM pkg_decision_records`)).toEqual([{ snapshot_id: B }]);
});

test('the integrity findings over the migrated rows are all ok except the snapshots without wasm, seal or validation', async () => {
  expect(await rows(`SELECT check_name, ok, detail FROM pkg_integrity_findings() ORDER BY check_name`)).toEqual([
    { check_name: 'artifact_checksums', ok: true, detail: 'all artifacts match their sha256' },
    { check_name: 'artifacts_match_seal', ok: true, detail: 'artifacts chain up to their snapshot checksum' },
    { check_name: 'deployments_in_env', ok: true, detail: 'lanes serve snapshots of their env' },
    { check_name: 'emissions_in_rule_snapshot', ok: true, detail: "every emission is in its rule's snapshot" },
    { check_name: 'file_checksums_match_checksum', ok: true, detail: 'file listings hash to their snapshot checksum' },
    // A is a lane's stable and was never validated here; B's rollout-0 run failed.
    {
      check_name: 'lanes_serve_validated',
      ok: false,
      detail: 'prod/default/default hotel@1.0.0, prod/default/default hotel@1.1.0, prod/router/default hotel@1.0.0',
    },
    { check_name: 'one_active_per_env', ok: true, detail: 'at most one active per env' },
    {
      check_name: 'rule_rows_match_snapshot',
      ok: true,
      detail: 'rule rows, fixtures and manifests hash as they did when compiled',
    },
    { check_name: 'snapshots_have_wasm', ok: false, detail: expect.stringContaining('hotel@1.1.0') },
    { check_name: 'snapshots_sealed', ok: false, detail: 'door@2.0.0, hotel@1.1.0' },
  ]);
  // The seed's (ok, msg): one row per finding, named.
  expect(await rows(`SELECT ok, msg FROM pkg_check_integrity() WHERE NOT ok ORDER BY msg`)).toEqual([
    { ok: false, msg: expect.stringMatching(/^lanes_serve_validated: /) },
    { ok: false, msg: expect.stringMatching(/^snapshots_have_wasm: /) },
    { ok: false, msg: 'snapshots_sealed: door@2.0.0, hotel@1.1.0' },
  ]);
});

test('a snapshot sealed before the migration hashes as it did and still loads verified; a changed rule row is still refused', async () => {
  expect(
    await rows(`SELECT pkg_snapshot_content_sha256($1) AS content_sha256, pkg_snapshot_seal($1) AS seal`, [A]),
  ).toEqual([sealedBefore]);
  const loaded = await buildSnapshot(pool, A, NO_SIGNING);
  expect({ version: loaded.version, checksum: loaded.checksum }).toEqual({
    version: 'hotel@1.0.0',
    checksum: sha256('A'),
  });
  await pool.query(`UPDATE pkg_rule_conditions SET value_json = '0.8' WHERE rule_id = $1 AND position = 1`, [RULE_VIP]);
  try {
    const refusal = await buildSnapshot(pool, A, NO_SIGNING).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(SnapshotRefused);
    expect((refusal as SnapshotRefused).reason).toBe('rules_mismatch');
  } finally {
    await pool.query(`UPDATE pkg_rule_conditions SET value_json = '0.7' WHERE rule_id = $1 AND position = 1`, [
      RULE_VIP,
    ]);
  }
});
