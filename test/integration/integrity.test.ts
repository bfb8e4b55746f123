import { Pool } from 'pg';
import { loadConfig } from '../../policy/config';
import { applyMigrations } from '../../scripts/migrate';
import { readIntegrityChecks } from '../../activities/store/integrity';
import type { Queryable } from '../../activities/store/transaction';
import { inRolledBackTransaction, suffix, type Db } from './schema-fixtures';
import { rewriteWasm, storeExample, tamperRuleCondition } from './evaluator-harness';
import { pkgctl } from '../support/pkgctl';
import { createScratchDatabase } from '../support/scratch-database';

/**
 * pkg_integrity_findings() and `pkgctl integrity check`: each inconsistency is planted inside a
 * transaction that is rolled back (or in a scratch database that is dropped), and must be found
 * and named by its check; the snapshots stored for it are clean when the test ends.
 */
const databaseUrl = loadConfig().DATABASE_URL;
let pool: Pool;
beforeAll(() => {
  pool = new Pool({ connectionString: databaseUrl, max: 3 });
});
afterAll(() => pool.end());

const finding = async (db: Queryable, check: string) => (await readIntegrityChecks(db)).find((c) => c.check === check)!;

/** Planted inside the transaction: `check` names `named` afterwards, and did not before. */
async function expectFound(db: Db, check: string, named: string, plant: () => Promise<unknown>) {
  expect((await finding(db, check)).detail).not.toContain(named);
  await plant();
  const found = await finding(db, check);
  expect(found.ok).toBe(false);
  expect(found.detail).toContain(named);
}

describe('pkg_integrity_findings', () => {
  test("keeps every check pkg_check_integrity() named, adds its own, and is what the seed's (ok, msg) reads", async () => {
    const checks = await readIntegrityChecks(pool);
    const names = checks.map((c) => c.check);
    const { rows } = await pool.query<{ ok: boolean; msg: string }>('SELECT ok, msg FROM pkg_check_integrity()');
    expect(rows.map((r) => r.msg.split(':')[0])).toEqual(names);
    expect(rows.map((r) => r.ok)).toEqual(checks.map((c) => c.ok));
    expect(names).toEqual(
      expect.arrayContaining([
        'artifact_checksums',
        'snapshots_have_wasm',
        'one_active_per_env',
        'deployments_in_env',
        'snapshots_sealed',
        'rule_rows_match_snapshot',
        'artifacts_match_seal',
        'file_checksums_match_checksum',
        'emissions_in_rule_snapshot',
        'lanes_serve_validated',
      ]),
    );
  });

  test('finds changed rule rows, an artifact rewritten with its sha256, a bad file listing, a changed fixture and a missing seal', async () => {
    const snapshot = await storeExample(pool, 'hotel-ops-v1');
    const { snapshotId: id, version } = snapshot;
    // The same changes the evaluator tests make, committed only for the check and put back.
    const restoreRule = await tamperRuleCondition(pool, id);
    try {
      expect((await finding(pool, 'rule_rows_match_snapshot')).detail).toContain(version);
    } finally {
      await restoreRule();
    }
    const restoreWasm = await rewriteWasm(pool, id);
    try {
      const checks = await readIntegrityChecks(pool);
      expect(checks.find((c) => c.check === 'artifacts_match_seal')!.detail).toContain(version);
      // The artifact row agrees with itself: only the chain to the snapshot catches it.
      expect(checks.find((c) => c.check === 'artifact_checksums')!.detail).not.toContain(version);
    } finally {
      await restoreWasm();
    }
    await inRolledBackTransaction(pool, async (db) => {
      await expectFound(db, 'file_checksums_match_checksum', version, () =>
        db.query(`UPDATE pkg_snapshots SET file_checksums = file_checksums || '{"extra.yaml": "00"}' WHERE id = $1`, [
          id,
        ]),
      );
      await db.query('SAVEPOINT fixture');
      await expectFound(db, 'rule_rows_match_snapshot', version, () =>
        db.query(`UPDATE pkg_validation_fixtures SET expect = '{}' WHERE snapshot_uuid = $1`, [id]),
      );
      await db.query('ROLLBACK TO SAVEPOINT fixture');
      await expectFound(db, 'snapshots_sealed', version, () =>
        db.query('UPDATE pkg_snapshots SET seal = NULL WHERE id = $1', [id]),
      );
    });
    expect((await readIntegrityChecks(pool)).filter((c) => !c.ok && c.detail.includes(version))).toEqual([]);
  });

  test('an emission pointing into another snapshot is refused by the schema, and found where it predates the constraint', async () => {
    const [first, second] = [await storeExample(pool, 'hotel-ops-v1'), await storeExample(pool, 'hotel-ops-v1')];
    const move = (db: Db) =>
      db.query(
        `UPDATE pkg_rule_emissions SET snapshot_uuid = $2
          WHERE rule_id = (SELECT id FROM pkg_policy_rules WHERE snapshot_uuid = $1 ORDER BY rule_name LIMIT 1) AND position = 0`,
        [first.snapshotId, second.snapshotId],
      );
    await inRolledBackTransaction(pool, async (db) => {
      await db.query('SAVEPOINT move');
      const error = await move(db).then(
        () => null,
        (caught: { constraint?: string }) => caught,
      );
      expect(error?.constraint).toBe('pkg_rule_emissions_same_snapshot');
      await db.query('ROLLBACK TO SAVEPOINT move');
      // Rows written before the migration were never checked (NOT VALID): as if the constraint were not there.
      await db.query('ALTER TABLE pkg_rule_emissions DROP CONSTRAINT pkg_rule_emissions_same_snapshot');
      await expectFound(db, 'emissions_in_rule_snapshot', `${first.version} rule `, () => move(db));
    });
  });

  test('names a lane serving a snapshot whose fixtures never passed, and not once they have', async () => {
    const snapshot = await storeExample(pool, 'hotel-ops-v1');
    await inRolledBackTransaction(pool, async (db) => {
      const lane = `dev/t-${suffix()}/default`;
      await expectFound(db, 'lanes_serve_validated', `${lane} ${snapshot.version}`, () =>
        db.query(`INSERT INTO pkg_deployments (env, target, stable_snapshot_id) VALUES ('dev', $1, $2)`, [
          lane.split('/')[1],
          snapshot.snapshotId,
        ]),
      );
      await db.query(
        `INSERT INTO pkg_validation_runs (snapshot_uuid, run_key, engine, report)
         VALUES ($1, $2, 'wasm', '{"passed": 3, "failed": 0}')`,
        [snapshot.snapshotId, `integrity-test-${suffix()}`],
      );
      expect((await finding(db, 'lanes_serve_validated')).detail).not.toContain(lane);
    });
  });
});

describe('pkgctl integrity check', () => {
  test('passes on a clean database and exits 3 naming each finding once something is changed', async () => {
    const { url, pool: scratch, drop } = await createScratchDatabase('integrity');
    try {
      await applyMigrations(url);
      const { snapshotId, version } = await storeExample(scratch, 'hotel-ops-v1');
      const clean = await pkgctl(['integrity', 'check', '--json'], { DATABASE_URL: url });
      expect(clean.code).toBe(0);
      expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, findings: [] });

      await tamperRuleCondition(scratch, snapshotId);
      await rewriteWasm(scratch, snapshotId);
      const found = await pkgctl(['integrity', 'check', '--json'], { DATABASE_URL: url });
      expect(found.code).toBe(3);
      const result = JSON.parse(found.stdout) as { ok: boolean; findings: { check: string; detail: string }[] };
      expect(result.ok).toBe(false);
      expect(result.findings.map((f) => f.check).sort()).toEqual(['artifacts_match_seal', 'rule_rows_match_snapshot']);
      for (const f of result.findings) expect(f.detail).toContain(version);
      const human = await pkgctl(['integrity', 'check'], { DATABASE_URL: url });
      expect(human.code).toBe(3);
      expect(human.stdout).toContain(`FAIL rule_rows_match_snapshot: ${version}`);
    } finally {
      await drop();
    }
  });
});
