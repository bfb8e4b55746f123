import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../../policy/config';
import { createPool } from '../../activities/connections';
import { createEvaluatorActivities } from '../../activities/evaluator';
import { createSnapshotRegistry } from '../../worker/evaluator/registry';
import { buildSnapshot } from '../../worker/evaluator/snapshots';
import { NO_SIGNING } from '../../policy/bundle/signing';
import { storeExample, tamperWasm } from './evaluator-harness';

let pool: Pool;
let activities: ReturnType<typeof createEvaluatorActivities>;
beforeAll(() => {
  pool = createPool(loadConfig());
  activities = createEvaluatorActivities({
    pool,
    snapshots: createSnapshotRegistry((id) => buildSnapshot(pool, id, NO_SIGNING), 4),
  });
});
afterAll(async () => {
  await pool.end();
});

async function failureType(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).nonRetryable).toBe(true);
    return (error as ApplicationFailure).type ?? undefined;
  }
  throw new Error('expected a failure');
}

test.each(['hotel-ops-v1', 'hotel-ops-v2'] as const)(
  '%s fixtures pass on both engines, recorded once per run key',
  async (example) => {
    const snapshot = await storeExample(pool, example);
    const runKey = `validate-${randomUUID()}`;
    const report = await activities.runSnapshotFixtures({ snapshotId: snapshot.snapshotId, runKey });
    const { rows: fixtures } = await pool.query('SELECT name FROM pkg_validation_fixtures WHERE snapshot_uuid = $1', [
      snapshot.snapshotId,
    ]);
    expect(report.results.filter((result) => !result.ok)).toEqual([]);
    expect(report).toMatchObject({ passed: fixtures.length, failed: 0 });
    expect(report.engines).toEqual({
      native: { passed: fixtures.length, failed: 0 },
      wasm: { passed: fixtures.length, failed: 0 },
    });

    const again = await activities.runSnapshotFixtures({ snapshotId: snapshot.snapshotId, runKey });
    expect(again).toEqual(report);
    const { rows } = await pool.query('SELECT passed, failed FROM pkg_validation_runs WHERE run_key = $1', [runKey]);
    expect(rows).toEqual([{ passed: fixtures.length, failed: 0 }]);
  },
);

test('a tampered wasm artifact fails the fixture run, not retried, nothing recorded', async () => {
  const snapshot = await storeExample(pool, 'hotel-ops-v1');
  const restore = await tamperWasm(pool, snapshot.snapshotId, 49);
  try {
    const runKey = `validate-${randomUUID()}`;
    expect(await failureType(activities.runSnapshotFixtures({ snapshotId: snapshot.snapshotId, runKey }))).toBe(
      'ChecksumMismatch',
    );
    const { rows } = await pool.query('SELECT 1 FROM pkg_validation_runs WHERE run_key = $1', [runKey]);
    expect(rows).toEqual([]);
  } finally {
    await restore();
  }
});

test('a batch is evaluated on the named version with supplied or stored facts; a bad input fails alone', async () => {
  const snapshot = await storeExample(pool, 'hotel-ops-v1');
  const withPass = `guest:${randomUUID()}`;
  await pool.query(
    `INSERT INTO pkg_facts (subject, predicate, object) VALUES ($1, 'hasTemporaryAccess', '{"service": "lounge"}')`,
    [withPass],
  );
  const outputs = await activities.evaluateBatch({
    version: snapshot.version,
    inputs: [
      { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops', subject: 'guest:Ben' } },
      { tags: ['vip'], colour: 'red' },
      {
        tags: [],
        context: { request: 'lounge_entry' },
        facts: [{ predicate: 'hasTemporaryAccess', object: { service: 'lounge' } }],
      },
      { tags: [], context: { request: 'lounge_entry', subject: withPass } },
      { tags: [], context: { request: 'lounge_entry', subject: `guest:${randomUUID()}` } },
    ],
  });
  expect(outputs.map((output) => output.ok)).toEqual([true, false, true, true, true]);
  expect(outputs[0]).toMatchObject({
    snapshot: snapshot.version,
    meta: { engine: 'native', mode: 'control', canary: false },
  });
  expect(outputs[0]!.ok && outputs[0]!.subtasks.map((s) => s.name)).toContain('escalate');
  expect(!outputs[1]!.ok && outputs[1]!.reason).toBe('inputs[1]: input: unknown field(s) colour');
  const names = (i: number) => (outputs[i]!.ok ? outputs[i]!.subtasks.map((s) => s.name) : []);
  expect(names(2)).toContain('grant_lounge_access'); // supplied facts
  expect(names(3)).toContain('grant_lounge_access'); // facts valid now in pkg_facts for the subject
  expect(names(4)).not.toContain('grant_lounge_access');
});

test('a batch on an unknown version fails as NotFound, not retried', async () => {
  expect(
    await failureType(activities.evaluateBatch({ version: `nope@0.0.0-${randomUUID().slice(0, 8)}`, inputs: [] })),
  ).toBe('NotFound');
});
