import { createHash, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { readDesiredLaneState } from '../../activities/store/lane-state';
import { readSnapshot } from '../../activities/store/snapshot-read';
import {
  evaluate,
  randomLane,
  readyz,
  startEvaluator,
  storeExample,
  useEvaluatorServices,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';
import type { Lane } from '../../policy/lane';
import { sealSnapshot } from '../../activities/store/snapshot-seals';
import { PkgError, type ErrorType } from '../../policy/errors';
import { pkgctl } from '../support/pkgctl';
import { createTestToken, startApi } from './api-harness';

/**
 * Rows written the seed's way, by the seed's column names only, are honoured by running
 * evaluators: a canary row in pkg_deployments (snapshot_id, percent, is_active) is the split they
 * serve, and a snapshot whose rules, conditions and emissions were written as seed rows reads as a
 * native snapshot, which evaluators refuse as unsealed until someone seals it (`pkgctl snapshot
 * seal`, pkg_seal_snapshot); sealed, it is served and verified at every load like a compiled one.
 * No hot-swap message is sent: the evaluators find the rows on their own reconcile.
 */
const services = useEvaluatorServices();
const RECONCILE = { EVALUATOR_RECONCILE_MS: '300' };

const numberOf = async (pool: Pool, snapshotId: string) =>
  (await pool.query<{ n: number }>('SELECT snapshot_id AS n FROM pkg_snapshots WHERE id = $1', [snapshotId])).rows[0]!
    .n;

/** Which version answered each of `keys` routing keys, as fractions per version. */
async function split(evaluator: RunningEvaluator, keys: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < keys; i++) {
    const { status, body } = await evaluate(evaluator, {
      input: { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops' } },
      routing_key: randomUUID(),
    });
    if (status !== 200) throw new Error(`${status} ${JSON.stringify(body)}`);
    counts.set(String(body.snapshot), (counts.get(String(body.snapshot)) ?? 0) + 1);
  }
  return new Map([...counts].map(([version, n]) => [version, n / keys]));
}

test('a seed-style deployment row, then the seed canary update, are the split evaluators serve', async () => {
  const { pool } = services;
  const [v1, v2] = [await storeExample(pool, 'hotel-ops-v1'), await storeExample(pool, 'hotel-ops-v2')];
  const lane = randomLane(v1.env);
  await pool.query(
    `INSERT INTO pkg_deployments (snapshot_id, target, region, percent, is_active) VALUES ($1, $2, $3, 100, TRUE)`,
    [await numberOf(pool, v1.snapshotId), lane.target, lane.region],
  );
  const evaluator = await startEvaluator(lane, RECONCILE);
  services.running.push(evaluator);
  expect(await split(evaluator, 200)).toEqual(new Map([[v1.version, 1]]));

  await pool.query(`UPDATE pkg_deployments SET snapshot_id = $1, percent = 10 WHERE target = $2 AND region = $3`, [
    await numberOf(pool, v2.snapshotId),
    lane.target,
    lane.region,
  ]);
  expect(await readDesiredLaneState(pool, lane)).toMatchObject({
    snapshotId: v1.snapshotId,
    candidateSnapshotId: v2.snapshotId,
    canaryPercent: 10,
    source: 'deployment',
  });
  await waitFor(async () => ((await split(evaluator, 50)).has(v2.version) ? true : null), 20_000, 'the canary split');
  const canary = await split(evaluator, 2000);
  expect(canary.get(v2.version)).toBeGreaterThan(0.07);
  expect(canary.get(v2.version)).toBeLessThan(0.13);

  // percent 100: the deployed snapshot becomes the lane's stable.
  await pool.query(`UPDATE pkg_deployments SET percent = 100 WHERE target = $1 AND region = $2`, [
    lane.target,
    lane.region,
  ]);
  await waitFor(async () => ((await split(evaluator, 50)).get(v2.version) === 1 ? true : null), 20_000, 'v2 for all');

  // is_active = FALSE: the row no longer says what the lane serves; it falls back to the env's active snapshot.
  await pool.query(`UPDATE pkg_deployments SET is_active = FALSE WHERE target = $1 AND region = $2`, [
    lane.target,
    lane.region,
  ]);
  expect((await readDesiredLaneState(pool, lane)).source).not.toBe('deployment');
}, 120_000);

/**
 * A native snapshot written as the seed writes one: the snapshot row, subtask types, rules,
 * conditions (text values) and emissions by the seed's column names only, no artifacts. Its
 * high_priority_vip rule emits escalate with `level`.
 */
async function writeSeedSnapshot(pool: Pool, version: string, level = 'high'): Promise<number> {
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    const { rows: snapshot } = await db.query<{ snapshot_id: number }>(
      `INSERT INTO pkg_snapshots (version, env, engine, checksum, notes)
       VALUES ($1, 'dev', 'native', $2, 'rules written as seed rows') RETURNING snapshot_id`,
      [version, createHash('sha256').update(version).digest('hex')],
    );
    const n = snapshot[0]!.snapshot_id;
    const { rows: types } = await db.query<{ id: string }>(
      `INSERT INTO pkg_subtask_types (snapshot_id, name, default_params) VALUES ($1, 'escalate', '{"level":"normal"}'),
         ($1, 'notify', '{}') RETURNING id`,
      [n],
    );
    const { rows: rules } = await db.query<{ id: string }>(
      `INSERT INTO pkg_policy_rules (snapshot_id, rule_name, priority, rule_source, engine, metadata, disabled)
       VALUES ($1, 'high_priority_vip', 10, 'TAG vip AND SIGNAL x2 >= 0.7 EMITS escalate', 'native', '{}', FALSE),
              ($1, 'switched_off', 20, 'TAG vip EMITS notify', 'native', '{}', TRUE)
       RETURNING id`,
      [n],
    );
    await db.query(
      `INSERT INTO pkg_rule_conditions (rule_id, condition_type, condition_key, operator, value, position)
       VALUES ($1, 'TAG', 'vip', 'EXISTS', NULL, 0), ($1, 'SIGNAL', 'x2', '>=', '0.7', 1), ($2, 'TAG', 'vip', 'EXISTS', NULL, 0)`,
      [rules[0]!.id, rules[1]!.id],
    );
    await db.query(
      `INSERT INTO pkg_rule_emissions (rule_id, subtask_type_id, relationship_type, params, position)
       VALUES ($1, $2, 'EMITS', $5, 0), ($3, $4, 'EMITS', '{}', 0)`,
      [rules[0]!.id, types[0]!.id, rules[1]!.id, types[1]!.id, JSON.stringify({ level })],
    );
    await db.query('COMMIT');
    return n;
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  } finally {
    db.release();
  }
}

/** The seed's way to point a lane at a snapshot: its integer id at 100 percent. */
async function deploySeedStyle(pool: Pool, n: number, lane: Lane): Promise<void> {
  await pool.query(
    `INSERT INTO pkg_deployments (snapshot_id, target, region, percent, is_active) VALUES ($1, $2, $3, 100, TRUE)`,
    [n, lane.target, lane.region],
  );
}

/** And to move it to another: the seed's UPDATE. */
async function redeploySeedStyle(pool: Pool, n: number, lane: Lane): Promise<void> {
  await pool.query(`UPDATE pkg_deployments SET snapshot_id = $1, percent = 100 WHERE target = $2 AND region = $3`, [
    n,
    lane.target,
    lane.region,
  ]);
}

const refusalOf = async (evaluator: RunningEvaluator, version: string) =>
  waitFor(
    async () => {
      const { body } = await readyz(evaluator);
      return (body.refused_snapshots as Record<string, { reason: string }>)[version] ?? null;
    },
    15_000,
    `${evaluator.port} to refuse ${version}`,
  );

const VIP = { input: { tags: ['vip'], signals: { x2: 0.8 }, context: { domain: 'hotel_ops', subject: 'guest:Ben' } } };

test('a snapshot whose rules were written as seed rows reads as a native snapshot and, unsealed, is refused at load', async () => {
  const { pool } = services;
  const version = `seed-rules@1.0.0-t${randomUUID().slice(0, 8)}`;
  const lane = randomLane('dev');
  await deploySeedStyle(pool, await writeSeedSnapshot(pool, version), lane);
  // Read back, the rows are the native snapshot the seed wrote...
  const stored = await readSnapshot(pool, { version });
  expect(stored.compiled).toMatchObject({
    engine: 'native',
    rules: [
      {
        name: 'high_priority_vip',
        priority: 10,
        enabled: true,
        conditions: [
          { type: 'TAG', key: 'vip', op: 'EXISTS' },
          { type: 'SIGNAL', key: 'x2', op: '>=', value: 0.7 },
        ],
        emissions: [{ subtask: 'escalate', relationship: 'EMITS', params: { level: 'high' } }],
      },
      { name: 'switched_off', enabled: false },
    ],
  });
  // ...but load = verify: nothing sealed them, so no evaluator serves them.
  const evaluator = await startEvaluator(lane, RECONCILE);
  services.running.push(evaluator);
  expect((await refusalOf(evaluator, version)).reason).toBe('unsealed');
  expect(await evaluate(evaluator, VIP)).toMatchObject({ status: 503, body: { ok: false, snapshot: null } });
}, 120_000);

const ruleIds = 'SELECT id FROM pkg_policy_rules WHERE snapshot_id = $1';

/** Deletes a snapshot's artifacts; the returned function puts them back. */
async function deleteArtifacts(pool: Pool, snapshotId: string): Promise<() => Promise<void>> {
  const { rows } = await pool.query<{ type: string; bytes: Buffer; sha256: string; created_by: string }>(
    `DELETE FROM pkg_snapshot_artifacts WHERE snapshot_uuid = $1
     RETURNING artifact_type AS type, artifact_bytes AS bytes, sha256, created_by`,
    [snapshotId],
  );
  return async () => {
    for (const row of rows)
      await pool.query(
        `INSERT INTO pkg_snapshot_artifacts (snapshot_uuid, artifact_type, artifact_bytes, sha256, created_by)
         VALUES ($1, $2, $3, $4, $5)`,
        [snapshotId, row.type, row.bytes, row.sha256, row.created_by],
      );
  };
}

/** Integrity findings (pkgctl integrity check) that name `version`. */
const findingsNaming = async (pool: Pool, version: string) =>
  (
    await pool.query<{ check_name: string }>(
      `SELECT check_name FROM pkg_integrity_findings() WHERE NOT ok AND detail LIKE '%' || $1 || '%' ORDER BY 1`,
      [version],
    )
  ).rows.map((row) => row.check_name);

test('sealed with pkgctl snapshot seal, a seed snapshot is served by its native engine and verified at every load: a changed condition row, or a compiled snapshot stripped of its artifacts, is refused while the last good one serves', async () => {
  const { pool } = services;
  const tag = randomUUID().slice(0, 8);
  const [good, later] = [`seed-rules@1.0.0-t${tag}`, `seed-rules@1.1.0-t${tag}`];
  const n = await writeSeedSnapshot(pool, good);
  expect(await findingsNaming(pool, good)).toEqual(['snapshots_have_wasm', 'snapshots_sealed']);

  const sealing = await pkgctl(['snapshot', 'seal', String(n), '--env', 'dev', '--actor', 'seed-test', '--json']);
  expect(sealing).toMatchObject({ code: 0, stderr: '' });
  const sealed = JSON.parse(sealing.stdout) as Record<string, unknown>;
  expect(sealed).toMatchObject({ version: good, snapshotNumber: n, env: 'dev', artifacts: false, actor: 'seed-test' });
  const { rows: audit } = await pool.query('SELECT actor, seal FROM pkg_snapshot_seals WHERE snapshot_id = $1', [n]);
  expect(audit).toEqual([{ actor: 'seed-test', seal: sealed.seal }]);
  // Sealed, it is what the integrity checks expect of a native snapshot written as rows.
  expect(await findingsNaming(pool, good)).toEqual([]);

  const lane = randomLane('dev');
  await deploySeedStyle(pool, n, lane);
  const evaluator = await startEvaluator(lane, RECONCILE);
  services.running.push(evaluator);
  const served = await waitFor(
    async () => {
      const reply = await evaluate(evaluator, VIP);
      return reply.status === 200 ? reply : null;
    },
    15_000,
    `${evaluator.port} to serve ${good}`,
  );
  expect(served.body).toMatchObject({
    ok: true,
    snapshot: good,
    subtasks: [{ name: 'escalate', params: { level: 'high' }, rule_name: 'high_priority_vip' }],
    meta: { engine: 'native' },
  });

  // A seal is never rewritten; a snapshot of another env is not found in this one.
  const again = await pkgctl(['snapshot', 'seal', good, '--env', 'dev', '--json']);
  expect(again.code).toBe(4);
  expect(JSON.parse(again.stdout)).toMatchObject({ type: 'ActionRefused', message: expect.stringContaining(good) });
  const elsewhere = await pkgctl(['snapshot', 'seal', good, '--env', 'prod', '--json']);
  expect(elsewhere.code).toBe(4);
  expect(JSON.parse(elsewhere.stdout)).toMatchObject({ type: 'NotFound', message: expect.stringContaining('in dev') });

  // A compiled snapshot whose artifacts were deleted: its seal covers them.
  const compiled = await storeExample(pool, 'hotel-ops-v1', tag, 'native');
  const restoreArtifacts = await deleteArtifacts(pool, compiled.snapshotId);
  await redeploySeedStyle(pool, await numberOf(pool, compiled.snapshotId), lane);
  expect((await refusalOf(evaluator, compiled.version)).reason).toBe('artifact_mismatch');
  expect(await evaluate(evaluator, VIP)).toMatchObject({ status: 200, body: { snapshot: good } });

  // A later seed snapshot, sealed, then one condition row changed the seed's way.
  const m = await writeSeedSnapshot(pool, later, 'urgent');
  // Sealed through the control-plane API this time, by an author of dev: the audit row names the token.
  const api = await startApi();
  try {
    const author = await createTestToken(pool, 'author', ['dev']);
    const viaApi = await pkgctl(['snapshot', 'seal', later, '--env', 'dev', '--json'], {
      PKG_API_URL: api.url,
      PKG_TOKEN: author.token,
    });
    expect(viaApi.code).toBe(0);
    expect(JSON.parse(viaApi.stdout)).toMatchObject({
      version: later,
      actor: `token:${author.name}`,
      artifacts: false,
    });
  } finally {
    await api.stop();
  }
  await pool.query(
    `UPDATE pkg_rule_conditions SET value = '0.1' WHERE condition_key = 'x2' AND rule_id IN (${ruleIds})`,
    [m],
  );
  await redeploySeedStyle(pool, m, lane);
  expect((await refusalOf(evaluator, later)).reason).toBe('rules_mismatch');
  expect(await evaluate(evaluator, VIP)).toMatchObject({ status: 200, body: { snapshot: good } });
  expect(await findingsNaming(pool, later)).toContain('rule_rows_match_snapshot');

  // What this test planted would otherwise stay a finding of pkgctl integrity check.
  await pool.query('DELETE FROM pkg_deployments WHERE target = $1 AND region = $2', [lane.target, lane.region]);
  await restoreArtifacts();
  await pool.query(`UPDATE pkg_rule_conditions SET value = '0.7' WHERE value = '0.1' AND rule_id IN (${ruleIds})`, [m]);
  expect([...(await findingsNaming(pool, later)), ...(await findingsNaming(pool, compiled.version))]).toEqual([]);
}, 180_000);

test('pkg_seal_snapshot refuses, naming the snapshot, what it cannot seal as it stands', async () => {
  const { pool } = services;
  const tag = randomUUID().slice(0, 8);
  const compiled = await storeExample(pool, 'hotel-ops-v1', tag, 'native');
  // The compile sealed it through the same function, audited under the compile's actor.
  const { rows: audit } = await pool.query(
    'SELECT s.actor, s.artifacts, s.seal = p.seal AS current FROM pkg_snapshot_seals s JOIN pkg_snapshots p ON p.id = s.snapshot_uuid WHERE p.id = $1',
    [compiled.snapshotId],
  );
  expect(audit).toEqual([{ actor: 'evaluator-test', artifacts: true, current: true }]);
  const seed = await writeSeedSnapshot(pool, `seed-rules@1.0.0-t${tag}`);
  // The seed's default engine is wasm: a snapshot row alone, no artifacts.
  const wasmVersion = `seed-wasm@1.0.0-t${tag}`;
  const { rows: inserted } = await pool.query<{ n: number }>(
    `INSERT INTO pkg_snapshots (version, env, checksum) VALUES ($1, 'dev', $2) RETURNING snapshot_id AS n`,
    [wasmVersion, createHash('sha256').update(wasmVersion).digest('hex')],
  );
  const wasmOnly = inserted[0]!.n;
  const wasm = Buffer.from('not really wasm');
  const sha256 = createHash('sha256').update(wasm).digest('hex');
  const uuidOf = async (db: PoolClient, n: number) =>
    (await db.query<{ id: string }>('SELECT id FROM pkg_snapshots WHERE snapshot_id = $1', [n])).rows[0]!.id;
  const addWasm = (db: PoolClient, bytes: Buffer) =>
    db.query(
      `INSERT INTO pkg_snapshot_artifacts (snapshot_id, artifact_type, artifact_bytes, sha256) VALUES ($1, 'wasm_pack', $2, $3)`,
      [seed, bytes, sha256],
    );

  /** Each: what it is, the change (in a transaction rolled back after), the snapshot to seal, the refusal. */
  const cases: [string, (db: PoolClient) => Promise<string>, ErrorType, RegExp][] = [
    ['already sealed', async () => compiled.snapshotId, 'ActionRefused', /is already sealed/],
    [
      'a compiled snapshot stripped of its artifacts and its seal',
      async (db) => {
        await db.query('DELETE FROM pkg_snapshot_artifacts WHERE snapshot_uuid = $1', [compiled.snapshotId]);
        await db.query('UPDATE pkg_snapshots SET seal = NULL, content_sha256 = NULL WHERE id = $1', [
          compiled.snapshotId,
        ]);
        return compiled.snapshotId;
      },
      'ActionRefused',
      /compiled from a bundle but has no artifacts/,
    ],
    [
      'an engine built from artifacts, without them',
      (db) => uuidOf(db, wasmOnly),
      'ActionRefused',
      /engine wasm but no artifacts/,
    ],
    [
      'one artifact of two',
      async (db) => (await addWasm(db, wasm), uuidOf(db, seed)),
      'ActionRefused',
      /has only its wasm_pack artifact/,
    ],
    [
      'an artifact whose bytes do not hash to its sha256',
      async (db) => (await addWasm(db, Buffer.from('other bytes')), uuidOf(db, seed)),
      'ChecksumMismatch',
      /wasm_pack do not hash to the recorded sha256/,
    ],
  ];
  for (const [what, change, type, message] of cases) {
    const db = await pool.connect();
    try {
      await db.query('BEGIN');
      const refused = await sealSnapshot(db, await change(db), 'seed-test').then(
        () => null,
        (error: unknown) => error,
      );
      expect({ what, refused }).toEqual({ what, refused: expect.any(PkgError) });
      const { type: actual, message: text } = refused as PkgError;
      expect({ what, type: actual, text }).toEqual({ what, type, text: expect.stringMatching(message) });
    } finally {
      await db.query('ROLLBACK');
      db.release();
    }
  }
  await pool.query('DELETE FROM pkg_snapshots WHERE snapshot_id = $1', [wasmOnly]);
}, 120_000);
