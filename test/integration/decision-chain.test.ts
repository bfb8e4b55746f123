import { canonicalDecision, decisionId } from '../../policy/rollout/decision-record';
import { decisionRecordOf } from '../support/decision-records';
import { applyMigrations } from '../../scripts/migrate';
import { pkgctl } from '../support/pkgctl';
import { createScratchDatabase } from '../support/scratch-database';

/** `pkgctl decision verify --env` on a scratch database (dropped after): an env's chain walked whole. */

test('an intact chain verifies; a record edited in the database is named as the first broken link', async () => {
  const { url, pool, drop } = await createScratchDatabase('chain');
  try {
    await applyMigrations(url);
    const ids: string[] = [];
    for (const [n, outcome] of [
      [1, 'promoted'],
      [2, 'reverted'],
      [3, 'rolled_back'],
    ] as const) {
      const canonical = canonicalDecision(decisionRecordOf(n, outcome, ids[n - 2] ?? null));
      ids.push(decisionId(canonical));
      await pool.query(
        `INSERT INTO pkg_decision_records (id, env, rollout_id, outcome, previous_id, canonical, narrative)
         VALUES ($1, 'staging', $2, $3, $4, $5, '')`,
        [ids[n - 1], `rollout-${n}`, outcome, ids[n - 2] ?? null, canonical],
      );
    }
    const verify = () => pkgctl(['decision', 'verify', '--env', 'staging', '--json'], { DATABASE_URL: url });
    const intact = await verify();
    expect(intact.code).toBe(0);
    expect(JSON.parse(intact.stdout)).toMatchObject({ ok: true, records: 3, head: ids[2], broken: null });

    await pool.query(
      `UPDATE pkg_decision_records SET canonical = replace(canonical, 'reverted', 'promoted') WHERE id = $1`,
      [ids[1]],
    );
    const broken = await verify();
    expect(broken.code).toBe(3);
    expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false, head: ids[0], broken: { id: ids[1], position: 2 } });
    const human = await pkgctl(['decision', 'verify', '--env', 'staging'], { DATABASE_URL: url });
    expect(human.stdout).toContain(`first broken link ${ids[1]} (link 2 of 3)`);
    expect((await pkgctl(['decision', 'verify', ids[0]!, '--env', 'staging'])).code).toBe(2);
  } finally {
    await drop();
  }
});
