import { cp, mkdtemp, readdir, rm, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { migrate } from 'postgres-migrations';
import { applyMigrations } from '../../scripts/migrate';
import { loadConfig } from '../../policy/config';
import {
  clearActive,
  inRolledBackTransaction,
  insertSnapshot,
  insertWasmArtifact,
  refusal,
  sha256,
  suffix,
  type Db,
} from './schema-fixtures';

const databaseUrl = loadConfig().DATABASE_URL;
let pool: Pool;
beforeAll(() => {
  pool = new Pool({ connectionString: databaseUrl, max: 2 });
});
afterAll(async () => {
  await pool.end();
});

const tx = (work: (db: Db) => Promise<void>) => inRolledBackTransaction(pool, work);

/** A database of its own, dropped afterwards: the shared `pkg` database is never recreated. */
async function withScratchDatabase(work: (url: string) => Promise<void>): Promise<void> {
  const name = `pkg_schema_test_${suffix()}`;
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  try {
    await work(url.toString());
  } finally {
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function migrateDir(url: string, dir: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await migrate({ client }, dir)).map((m) => m.fileName);
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  test('apply to a fresh database, then a second time without error and without change', async () => {
    await withScratchDatabase(async (url) => {
      const files = (await readdir(path.join(__dirname, '..', '..', 'migrations'))).filter((f) => f.endsWith('.sql'));
      // The library's own bookkeeping table comes first.
      expect(await applyMigrations(url)).toEqual(['0_create-migrations-table.sql', ...files.sort()]);
      expect(await applyMigrations(url)).toEqual([]);
    });
  });

  test('applying to the shared database twice: the second time is a no-op', async () => {
    // The first call applies whatever a teammate's new migration adds, as `npm run up` would.
    await applyMigrations(databaseUrl);
    expect(await applyMigrations(databaseUrl)).toEqual([]);
  });

  test('an edited, already-applied migration is refused', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pkg-migrations-'));
    try {
      const source = path.join(__dirname, '..', '..', 'migrations');
      for (const file of ['001_core.sql', '002_ops.sql', '003_views_functions.sql']) {
        await cp(path.join(source, file), path.join(dir, file));
      }
      await withScratchDatabase(async (url) => {
        expect(await migrateDir(url, dir)).toHaveLength(4);
        await appendFile(path.join(dir, '002_ops.sql'), '\n-- an innocent-looking edit\n');
        await expect(migrateDir(url, dir)).rejects.toThrow(/Hashes don't match for migrations '002_ops.sql'/);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('decision logs move into chunks', () => {
  /** Rows of the old per-decision table, read back through the view that replaced it. */
  const ROWS = `SELECT decision_id, "timestamp", env, target, region, snapshot_version, canary, mode, input, result, error, eval_ns
                  FROM pkg_decision_logs ORDER BY decision_id`;

  test('every decision logged before migration 008 reads back unchanged, in chunks of at most 500 per lane and day', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pkg-migrations-'));
    const source = path.join(__dirname, '..', '..', 'migrations');
    const files = (await readdir(source)).filter((f) => f.endsWith('.sql')).sort();
    const before = files.filter((f) => f < '008');
    try {
      for (const file of before) await cp(path.join(source, file), path.join(dir, file));
      await withScratchDatabase(async (url) => {
        await migrateDir(url, dir);
        const db = new Client({ connectionString: url });
        await db.connect();
        try {
          // 1,203 decisions of one lane over two days (µs timestamps), 7 of another, one failed evaluation.
          for (const day of ['2026-12-01', '2026-12-02'])
            await db.query('SELECT pkg_decision_log_partition($1)', [day]);
          await db.query(
            `INSERT INTO pkg_decision_logs (decision_id, "timestamp", env, target, region, snapshot_version, canary, mode, input, result, error, eval_ns)
             SELECT gen_random_uuid(), timestamptz '2026-12-01 23:00:00.123456+00' + g * interval '3.000001 seconds',
                    'prod', CASE WHEN g <= 7 THEN 'api' ELSE 'web' END, 'eu', 'hotel-ops@1.0.0', g % 3 = 0,
                    CASE WHEN g % 2 = 0 THEN 'advisory' ELSE 'control' END,
                    jsonb_build_object('tags', jsonb_build_array('t' || g), 'context', jsonb_build_object('note', E'line\nbreak')),
                    CASE WHEN g = 9 THEN NULL ELSE '{"ok": true, "subtasks": [], "dag": [], "rules": []}'::jsonb END,
                    CASE WHEN g = 9 THEN 'evaluation failed: boom' END, g * 1000
               FROM generate_series(1, 1210) AS g`,
          );
          const old = (await db.query(ROWS)).rows;
          expect(old).toHaveLength(1210);
          for (const file of files.filter((f) => !before.includes(f)))
            await cp(path.join(source, file), path.join(dir, file));
          await migrateDir(url, dir);
          expect((await db.query(ROWS)).rows).toEqual(old);
          const { rows: chunks } = await db.query<{ target: string; day: string; decisions: number }>(
            `SELECT target, (first_at AT TIME ZONE 'UTC')::date::text AS day, decisions
               FROM pkg_decision_log_chunks ORDER BY target, first_at`,
          );
          // 23:00:03 + 3 s steps: 1,199 of web's 1,203 fall on the first day.
          expect(chunks).toEqual([
            { target: 'api', day: '2026-12-01', decisions: 7 },
            { target: 'web', day: '2026-12-01', decisions: 500 },
            { target: 'web', day: '2026-12-01', decisions: 500 },
            { target: 'web', day: '2026-12-01', decisions: 192 },
            { target: 'web', day: '2026-12-02', decisions: 11 },
          ]);
        } finally {
          await db.end();
        }
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('snapshot constraints', () => {
  test('a checksum of 63 hex characters is refused', () =>
    tx(async (db) => {
      const refused = await refusal(
        db,
        `INSERT INTO pkg_snapshots (version, env, engine, entrypoint, schema_version, checksum, manifest, created_by)
        VALUES ($1, 'dev', 'native', 'pkg/result', '1', $2, '{}', 't')`,
        [`schema-test@1.0.0-${suffix()}`, 'a'.repeat(63)],
      );
      expect(refused).toMatchObject({ code: '23514', constraint: 'pkg_snapshots_checksum_check' });
      await insertSnapshot(db, 'dev', { checksum: 'a'.repeat(64) });
    }));

  test('two active snapshots in one env are refused by the unique index', () =>
    tx(async (db) => {
      await clearActive(db, 'prod');
      await insertSnapshot(db, 'prod', { active: true });
      const refused = await refusal(
        db,
        `INSERT INTO pkg_snapshots (version, env, engine, entrypoint, schema_version, checksum, manifest, is_active, created_by)
        VALUES ($1, 'prod', 'native', 'pkg/result', '1', $2, '{}', true, 't')`,
        [`schema-test@1.0.0-${suffix()}`, sha256(suffix())],
      );
      expect(refused).toMatchObject({ code: '23505', constraint: 'ux_pkg_active_per_env' });
      await insertSnapshot(db, 'staging', { active: false });
    }));
});

describe('pkg_promote_snapshot and pkg_active_snapshot_uuid', () => {
  const promote = (db: Db, id: string, env: string, actor = 'schema-test') =>
    db
      .query<{ id: string }>('SELECT pkg_promote_snapshot($1::uuid, $2, $3, $4) AS id', [id, env, actor, 'test'])
      .then((r) => r.rows[0]!.id);
  const activeId = (db: Db, env: string) =>
    db.query<{ id: string | null }>('SELECT pkg_active_snapshot_uuid($1) AS id', [env]).then((r) => r.rows[0]!.id);

  test('deactivates the old, activates the new and records the promotion, all at once', () =>
    tx(async (db) => {
      await clearActive(db, 'prod');
      const [first, second] = [await insertSnapshot(db, 'prod'), await insertSnapshot(db, 'prod')];
      expect(await activeId(db, 'prod')).toBeNull();
      await promote(db, first.id, 'prod');
      expect(await activeId(db, 'prod')).toBe(first.id);
      const promotionId = await promote(db, second.id, 'prod', 'alice');
      expect(await activeId(db, 'prod')).toBe(second.id);
      const { rows } = await db.query(
        'SELECT id, is_active, activated_at IS NOT NULL AS activated FROM pkg_snapshots WHERE id = ANY($1) ORDER BY created_at, id',
        [[first.id, second.id]],
      );
      expect(rows.find((r) => r.id === first.id)?.is_active).toBe(false);
      expect(rows.find((r) => r.id === second.id)).toMatchObject({ is_active: true, activated: true });
      const promotion = await db.query(
        'SELECT snapshot_uuid AS snapshot_id, previous_snapshot_id, env, action, actor FROM pkg_promotions WHERE id = $1',
        [promotionId],
      );
      expect(promotion.rows[0]).toEqual({
        snapshot_id: second.id,
        previous_snapshot_id: first.id,
        env: 'prod',
        action: 'promote',
        actor: 'alice',
      });
    }));

  test('a snapshot of another env is refused and nothing changes', () =>
    tx(async (db) => {
      await clearActive(db, 'prod');
      const active = await insertSnapshot(db, 'prod');
      await promote(db, active.id, 'prod');
      const staging = await insertSnapshot(db, 'staging');
      const refused = await refusal(db, `SELECT pkg_promote_snapshot($1::uuid, 'prod', 'mallory', 'wrong env')`, [
        staging.id,
      ]);
      expect(refused.code).toBe('22023');
      expect(refused.message).toContain('belongs to env staging, not prod');
      expect(await activeId(db, 'prod')).toBe(active.id);
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM pkg_promotions WHERE actor = 'mallory'`);
      expect(rows[0].n).toBe(0);
    }));

  test('an unknown snapshot and a missing actor are refused', () =>
    tx(async (db) => {
      const snapshot = await insertSnapshot(db, 'dev');
      expect((await refusal(db, `SELECT pkg_promote_snapshot(gen_random_uuid(), 'dev', 'a', null)`)).code).toBe(
        'P0002',
      );
      expect((await refusal(db, `SELECT pkg_promote_snapshot($1::uuid, 'dev', '', null)`, [snapshot.id])).code).toBe(
        '22023',
      );
    }));
});

describe('views', () => {
  test('pkg_active_artifact shows the active snapshot of an env with its wasm', () =>
    tx(async (db) => {
      await clearActive(db, 'prod');
      const snapshot = await insertSnapshot(db, 'prod');
      const digest = await insertWasmArtifact(db, snapshot.id);
      expect((await db.query(`SELECT * FROM pkg_active_artifact WHERE env = 'prod'`)).rows).toEqual([]);
      await db.query(`SELECT pkg_promote_snapshot($1::uuid, 'prod', 'schema-test', null)`, [snapshot.id]);
      const { rows } = await db.query(
        `SELECT snapshot_uuid, version, artifact_type, sha256 FROM pkg_active_artifact WHERE env = 'prod'`,
      );
      expect(rows).toEqual([
        { snapshot_uuid: snapshot.id, version: snapshot.version, artifact_type: 'wasm_pack', sha256: digest },
      ]);
    }));

  test('pkg_rules_expanded lists conditions and emissions in position order', () =>
    tx(async (db) => {
      const snapshot = await insertSnapshot(db, 'dev');
      const ruleId = sha256(snapshot.version).slice(0, 32);
      await db.query(`INSERT INTO pkg_subtask_types (snapshot_uuid, name) VALUES ($1, 'escalate'), ($1, 'notify')`, [
        snapshot.id,
      ]);
      await db.query(
        `INSERT INTO pkg_policy_rules (id, snapshot_uuid, rule_name, priority) VALUES ($1, $2, 'vip', 10)`,
        [ruleId, snapshot.id],
      );
      await db.query(
        `INSERT INTO pkg_rule_conditions (rule_id, position, condition_type, condition_key, operator, value_json) VALUES
           ($1, 2, 'SIGNAL', 'x2', '>=', '0.7'), ($1, 1, 'TAG', 'vip', 'EXISTS', null)`,
        [ruleId],
      );
      await db.query(
        `INSERT INTO pkg_rule_emissions (rule_id, position, snapshot_uuid, subtask, relationship_type, params) VALUES
           ($1, 2, $2, 'notify', 'ORDERS', '{"after":"escalate"}'), ($1, 1, $2, 'escalate', 'EMITS', '{"level":"high"}')`,
        [ruleId, snapshot.id],
      );
      const { rows } = await db.query(
        'SELECT rule_name, priority, conditions, emissions FROM pkg_rules_expanded WHERE snapshot_uuid = $1',
        [snapshot.id],
      );
      expect(rows).toEqual([
        {
          rule_name: 'vip',
          priority: 10,
          conditions: [
            { type: 'TAG', key: 'vip', op: 'EXISTS', value: null },
            { type: 'SIGNAL', key: 'x2', op: '>=', value: 0.7 },
          ],
          emissions: [
            {
              subtask: 'escalate',
              subtask_type_id: expect.any(String),
              relationship: 'EMITS',
              params: { level: 'high' },
            },
            {
              subtask: 'notify',
              subtask_type_id: expect.any(String),
              relationship: 'ORDERS',
              params: { after: 'escalate' },
            },
          ],
        },
      ]);
    }));

  test('pkg_deployment_coverage counts live evaluators serving the lane as intended', () =>
    tx(async (db) => {
      const [serving, other] = [await insertSnapshot(db, 'dev'), await insertSnapshot(db, 'dev')];
      const lane = { target: `t-${suffix()}`, region: `r-${suffix()}` };
      await db.query(
        `INSERT INTO pkg_deployments (env, target, region, stable_snapshot_id) VALUES ('dev', $1, $2, $3)`,
        [lane.target, lane.region, serving.id],
      );
      const beat = (instance: string, snapshotId: string, age: string) =>
        db.query(
          `INSERT INTO pkg_device_versions (device_id, env, target, region, snapshot_uuid, last_seen) VALUES ($1, 'dev', $2, $3, $4, now() - $5::interval)`,
          [`${lane.target}-${instance}`, lane.target, lane.region, snapshotId, age],
        );
      await beat('a', serving.id, '1 second');
      await beat('b', serving.id, '2 seconds');
      await beat('c', other.id, '1 second');
      await beat('stale', serving.id, '1 minute');
      const { rows } = await db.query(
        'SELECT evaluators, serving_intended, coverage FROM pkg_deployment_coverage WHERE target = $1',
        [lane.target],
      );
      expect(rows).toEqual([{ evaluators: '3', serving_intended: '2', coverage: '0.6667' }]);
    }));

  test('an evaluator is stale after three of its own heartbeat periods (pkg_live_evaluators)', () =>
    tx(async (db) => {
      const target = `t-${suffix()}`;
      const beat = (instance: string, heartbeatMs: number, ageMs: number) =>
        db.query(
          `INSERT INTO pkg_device_versions (device_id, env, target, region, heartbeat_ms, last_seen)
           VALUES ($1, 'dev', $2, 'r', $3, now() - $4 * interval '1 millisecond')`,
          [`${target}-${instance}`, target, heartbeatMs, ageMs],
        );
      await beat('fast-fresh', 500, 1000);
      await beat('fast-stale', 500, 2000);
      await beat('slow-fresh', 10_000, 25_000);
      await beat('slow-stale', 10_000, 35_000);
      await beat('floor', 100, 800);
      const { rows } = await db.query<{ instance_id: string }>(
        'SELECT instance_id FROM pkg_live_evaluators WHERE target = $1 ORDER BY instance_id',
        [target],
      );
      expect(rows.map((r) => r.instance_id.slice(target.length + 1))).toEqual(['fast-fresh', 'floor', 'slow-fresh']);
    }));
});

describe('pkg_integrity_findings', () => {
  const check = (db: Db, name: string) =>
    db
      .query<{ ok: boolean; detail: string }>('SELECT ok, detail FROM pkg_integrity_findings() WHERE check_name = $1', [
        name,
      ])
      .then((r) => r.rows[0]!);

  test('detects a tampered artifact, naming its snapshot', () =>
    tx(async (db) => {
      const snapshot = await insertSnapshot(db, 'dev');
      await insertWasmArtifact(db, snapshot.id);
      expect((await check(db, 'artifact_checksums')).detail).not.toContain(snapshot.version);
      await db.query(
        `UPDATE pkg_snapshot_artifacts SET artifact_bytes = artifact_bytes || '\\x00'::bytea WHERE snapshot_uuid = $1`,
        [snapshot.id],
      );
      const tampered = await check(db, 'artifact_checksums');
      expect(tampered.ok).toBe(false);
      expect(tampered.detail).toContain(`${snapshot.version} wasm_pack`);
    }));

  test('detects a snapshot without wasm and a lane serving another env', () =>
    tx(async (db) => {
      const prod = await insertSnapshot(db, 'prod');
      expect((await check(db, 'snapshots_have_wasm')).detail).toContain(prod.version);
      const lane = `t-${suffix()}`;
      await db.query(`INSERT INTO pkg_deployments (env, target, stable_snapshot_id) VALUES ('dev', $1, $2)`, [
        lane,
        prod.id,
      ]);
      const misplaced = await check(db, 'deployments_in_env');
      expect(misplaced.ok).toBe(false);
      expect(misplaced.detail).toContain(`dev/${lane}/default`);
    }));
});
