import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { applyMigrations } from '../../scripts/migrate';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database';

/**
 * The seed document's SQL (shared/seeds/000, "Key Features" §4-§6 and the functions of 015/016),
 * run as written against a database migrated by the real migrator, in the seed's order. The
 * seed's examples name snapshot 5 by number: the scratch database holds exactly the snapshots
 * below, so number 5 is rules@1.5.0 and the active prod snapshot is number 4, rules@1.4.0.
 * Statements the seed shows only as Python DAO calls (validation runs, promotions) are written
 * with the seed's columns and say which call they stand for.
 */

// Migration 015: "pkg_active_artifact - Active artifact per environment".
const ACTIVE_ARTIFACT = `SELECT env, snapshot_id, version, artifact_type, size_bytes, sha256
FROM pkg_active_artifact
WHERE env = 'prod'`;

// Key Features §4, Temporal Facts.
const TEMPORAL_FACT = `-- Create temporal fact
INSERT INTO pkg_facts (subject, predicate, object, valid_from, valid_to)
VALUES (
    'guest:Ben',
    'hasTemporaryAccess',
    '{"service":"lounge"}'::jsonb,
    NOW(),
    NOW() + INTERVAL '2 hours'
);

-- Query active temporal facts
SELECT * FROM active_temporal_facts
WHERE subject = 'guest:Ben';`;

// Key Features §5, Canary Deployments.
const CANARY = `-- Deploy to 10% of routers
INSERT INTO pkg_deployments (snapshot_id, target, percent, is_active)
VALUES (5, 'router', 10, TRUE);

-- Check deployment coverage
SELECT * FROM pkg_deployment_coverage
WHERE target = 'router';`;

// Migration 016's functions with the seed's parameters (p_subject, p_namespace, p_include_expired).
const FACTS_BY_SUBJECT = `SELECT * FROM get_facts_by_subject('guest:Ben', 'default', false)`;
const CLEANUP_DRY_RUN = `SELECT * FROM cleanup_expired_facts('default', true)`;
const FACT_STATISTICS = `SELECT * FROM get_fact_statistics('default')`;

// Migration 015's helpers.
const ACTIVE_SNAPSHOT_ID = `SELECT pkg_active_snapshot_id('prod')`;
const PROMOTE_SNAPSHOT = `SELECT pkg_promote_snapshot(5, 'prod', 'admin', 'All validation tests passed')`;

// Key Features §6: client.create_validation_run(snapshot_id=5) …
const CREATE_VALIDATION_RUN = `INSERT INTO pkg_validation_runs (snapshot_id) VALUES (5) RETURNING id`;
// … client.finish_validation_run(run_id=run_id, success=True, report={"passed": 10, "failed": 0}) …
const FINISH_VALIDATION_RUN = `UPDATE pkg_validation_runs
   SET finished_at = now(), success = TRUE, report = '{"passed": 10, "failed": 0}'::jsonb
 WHERE id = $1`;
// … client.create_promotion(snapshot_id=5, actor="admin", action="promote", reason="All validation tests passed").
const CREATE_PROMOTION = `INSERT INTO pkg_promotions (snapshot_id, actor, action, reason)
VALUES (5, 'admin', 'promote', 'All validation tests passed') RETURNING id`;

// Migration 015: pkg_check_integrity() returns (ok BOOLEAN, msg TEXT).
const CHECK_INTEGRITY = `SELECT * FROM pkg_check_integrity()`;

const WASM = Buffer.from('\0asm seed-sql test');
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

let scratch: ScratchDatabase;
let pool: Pool;

/** Snapshots 1-5 written the seed's way (only the seed's columns); number 4 active with its wasm. */
async function seedSnapshots(db: Pool): Promise<void> {
  for (const minor of [1, 2, 3, 4, 5]) {
    await db.query(
      `INSERT INTO pkg_snapshots (version, env, checksum, is_active, notes) VALUES ($1, 'prod', $2, $3, 'seed-sql')`,
      [`rules@1.${minor}.0`, sha256(`rules@1.${minor}.0`), minor === 4],
    );
    await db.query(
      `INSERT INTO pkg_snapshot_artifacts (snapshot_id, artifact_type, artifact_bytes, sha256)
       SELECT snapshot_id, 'wasm_pack', $2, $3 FROM pkg_snapshots WHERE version = $1`,
      [`rules@1.${minor}.0`, WASM, sha256(WASM)],
    );
  }
}

beforeAll(async () => {
  scratch = await createScratchDatabase('seed_sql');
  pool = scratch.pool;
  await applyMigrations(scratch.url);
  await seedSnapshots(pool);
});

afterAll(async () => {
  await scratch.drop();
});

const uuidOf = async (number: number) =>
  (await pool.query<{ id: string }>('SELECT id FROM pkg_snapshots WHERE snapshot_id = $1', [number])).rows[0]!.id;

test('the active-artifact query returns the active prod snapshot by number with its wasm_pack', async () => {
  const { rows } = await pool.query(ACTIVE_ARTIFACT);
  expect(rows).toEqual([
    {
      env: 'prod',
      snapshot_id: 4,
      version: 'rules@1.4.0',
      artifact_type: 'wasm_pack',
      size_bytes: String(WASM.length),
      sha256: sha256(WASM),
    },
  ]);
});

test('a temporal fact inserted the seed way is in active_temporal_facts with status active', async () => {
  const [, selected] = (await pool.query(TEMPORAL_FACT)) as unknown as { rows: Record<string, unknown>[] }[];
  expect(selected!.rows).toEqual([
    expect.objectContaining({
      namespace: 'default',
      subject: 'guest:Ben',
      predicate: 'hasTemporaryAccess',
      object: { service: 'lounge' },
      object_data: { service: 'lounge' },
      created_by: 'system',
      snapshot_id: null,
      status: 'active',
    }),
  ]);
  const row = selected!.rows[0]!;
  expect((row.valid_to as Date).getTime() - (row.valid_from as Date).getTime()).toBe(2 * 3600 * 1000);
});

test('the canary insert makes snapshot 5 the router lane candidate at 10% over the active snapshot', async () => {
  const [, coverage] = (await pool.query(CANARY)) as unknown as { rows: Record<string, unknown>[] }[];
  expect(coverage!.rows).toEqual([
    expect.objectContaining({
      env: 'prod',
      target: 'router',
      region: 'default',
      snapshot_id: 5,
      version: 'rules@1.5.0',
      percent: 10,
      is_active: true,
      devices_total: '0',
      devices_on_snapshot: '0',
    }),
  ]);
  const lane = await pool.query(
    `SELECT env, stable_snapshot_id, candidate_snapshot_id, canary_percent::text, activated_by
       FROM pkg_deployments WHERE target = 'router'`,
  );
  expect(lane.rows).toEqual([
    {
      env: 'prod',
      stable_snapshot_id: await uuidOf(4),
      candidate_snapshot_id: await uuidOf(5),
      canary_percent: '10.00',
      activated_by: 'system',
    },
  ]);
});

test('get_facts_by_subject returns the fact with is_temporal and is_expired', async () => {
  const { rows } = await pool.query(FACTS_BY_SUBJECT);
  expect(rows).toEqual([
    expect.objectContaining({
      subject: 'guest:Ben',
      predicate: 'hasTemporaryAccess',
      is_temporal: true,
      is_expired: false,
    }),
  ]);
});

test('cleanup_expired_facts(ns, dry_run) counts the expired facts and deletes nothing', async () => {
  await pool.query(
    `INSERT INTO pkg_facts (subject, predicate, valid_from, valid_to)
     VALUES ('guest:Ben', 'hadBreakfast', now() - interval '1 day', now() - interval '1 hour')`,
  );
  expect((await pool.query(CLEANUP_DRY_RUN)).rows).toEqual([{ namespace: 'default', expired: '1', archived: '0' }]);
  expect((await pool.query(`SELECT count(*)::int AS n FROM pkg_facts`)).rows[0].n).toBe(2);
});

test('get_fact_statistics counts total, temporal, PKG-governed, expired and active facts', async () => {
  expect((await pool.query(FACT_STATISTICS)).rows).toEqual([
    { namespace: 'default', total: '2', temporal: '2', expired: '1', active: '1', pkg_governed: '0' },
  ]);
});

test('pkg_active_snapshot_id returns the active snapshot number', async () => {
  expect((await pool.query(ACTIVE_SNAPSHOT_ID)).rows).toEqual([{ pkg_active_snapshot_id: 4 }]);
});

test('pkg_promote_snapshot(INT, …) activates snapshot 5 and records from_version and to_version', async () => {
  const { rows } = await pool.query<{ pkg_promote_snapshot: string }>(PROMOTE_SNAPSHOT);
  expect((await pool.query(ACTIVE_SNAPSHOT_ID)).rows).toEqual([{ pkg_active_snapshot_id: 5 }]);
  const promotion = await pool.query(
    `SELECT snapshot_id, snapshot_uuid, from_version, to_version, actor, action, reason, env, success
       FROM pkg_promotions WHERE id = $1`,
    [rows[0]!.pkg_promote_snapshot],
  );
  expect(promotion.rows).toEqual([
    {
      snapshot_id: 5,
      snapshot_uuid: await uuidOf(5),
      from_version: 'rules@1.4.0',
      to_version: 'rules@1.5.0',
      actor: 'admin',
      action: 'promote',
      reason: 'All validation tests passed',
      env: 'prod',
      success: true,
    },
  ]);
});

test('a validation run is created with the snapshot number and finished with success and report', async () => {
  const created = await pool.query<{ id: string }>(CREATE_VALIDATION_RUN);
  const runId = created.rows[0]!.id;
  const open = await pool.query(
    'SELECT started_at IS NOT NULL AS started, finished_at, success FROM pkg_validation_runs WHERE id = $1',
    [runId],
  );
  expect(open.rows).toEqual([{ started: true, finished_at: null, success: null }]);
  await pool.query(FINISH_VALIDATION_RUN, [runId]);
  const finished = await pool.query(
    `SELECT snapshot_id, snapshot_uuid, success, report, passed, failed, finished_at >= started_at AS ordered
       FROM pkg_validation_runs WHERE id = $1`,
    [runId],
  );
  expect(finished.rows).toEqual([
    {
      snapshot_id: 5,
      snapshot_uuid: await uuidOf(5),
      success: true,
      report: { passed: 10, failed: 0 },
      passed: 10,
      failed: 0,
      ordered: true,
    },
  ]);
});

test('a promotion written with the seed columns gets its env and to_version from the snapshot', async () => {
  const created = await pool.query<{ id: string }>(CREATE_PROMOTION);
  const { rows } = await pool.query(
    'SELECT snapshot_uuid, env, from_version, to_version, actor, action, reason, success FROM pkg_promotions WHERE id = $1',
    [created.rows[0]!.id],
  );
  expect(rows).toEqual([
    {
      snapshot_uuid: await uuidOf(5),
      env: 'prod',
      from_version: null,
      to_version: 'rules@1.5.0',
      actor: 'admin',
      action: 'promote',
      reason: 'All validation tests passed',
      success: true,
    },
  ]);
});

test('pkg_check_integrity returns (ok, msg) rows, all ok for this catalogue but what SQL-written snapshots lack', async () => {
  const { rows, fields } = await pool.query(CHECK_INTEGRITY);
  expect(fields.map((f) => f.name)).toEqual(['ok', 'msg']);
  expect(rows.length).toBeGreaterThan(0);
  // Snapshots written by the seed's SQL have no seal (only a compile writes one), and the lane the
  // seed deploys serves a snapshot no validation run passed.
  expect(rows.filter((r) => !r.ok)).toEqual([
    { ok: false, msg: 'snapshots_sealed: rules@1.1.0, rules@1.2.0, rules@1.3.0, rules@1.4.0, rules@1.5.0' },
    { ok: false, msg: 'lanes_serve_validated: prod/router/default rules@1.4.0' },
  ]);
  expect(rows.map((r) => r.msg)).toContain('artifact_checksums: all artifacts match their sha256');
});
