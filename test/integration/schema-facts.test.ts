import { Pool } from 'pg';
import { loadConfig } from '../../policy/config';
import { inRolledBackTransaction, insertFact, refusal, suffix, type Db } from './schema-fixtures';

/** The seed's fact objects (migration 003), each test in its own rolled-back transaction and namespace. */
let pool: Pool;
beforeAll(() => {
  pool = new Pool({ connectionString: loadConfig().DATABASE_URL, max: 2 });
});
afterAll(async () => {
  await pool.end();
});

const tx = (work: (db: Db) => Promise<void>) => inRolledBackTransaction(pool, work);

/** One active, one expired two hours ago, one expired ten minutes ago, one not yet valid. */
async function seed(db: Db) {
  const namespace = `schema-facts-${suffix()}`;
  const subject = `guest:${namespace}`;
  const fact = (predicate: string, validFrom: string, validTo: string | null) =>
    insertFact(db, { namespace, subject, predicate, validFrom, validTo });
  const ids = {
    active: await fact('b_active', '-1 hour', '1 hour'),
    oldExpired: await fact('a_old', '-1 day', '-2 hours'),
    recentExpired: await fact('c_recent', '-1 day', '-10 minutes'),
    future: await fact('d_future', '1 hour', null),
  };
  return { namespace, subject, ids };
}

test('pkg_facts refuses valid_from after valid_to and an empty namespace', () =>
  tx(async (db) => {
    const backwards = await refusal(
      db,
      `INSERT INTO pkg_facts (subject, predicate, valid_from, valid_to) VALUES ('s', 'p', now(), now() - interval '1 second')`,
    );
    expect(backwards).toMatchObject({ code: '23514', constraint: 'chk_facts_temporal' });
    const empty = await refusal(db, `INSERT INTO pkg_facts (namespace, subject, predicate) VALUES ('', 's', 'p')`);
    expect(empty).toMatchObject({ code: '23514', constraint: 'chk_facts_namespace_not_empty' });
  }));

test('active_temporal_facts holds exactly the facts valid now', () =>
  tx(async (db) => {
    const { namespace, ids } = await seed(db);
    const { rows } = await db.query('SELECT id FROM active_temporal_facts WHERE namespace = $1', [namespace]);
    expect(rows).toEqual([{ id: ids.active }]);
  }));

test('get_facts_by_subject: valid now by default, everything with include_expired, filtered by namespace', () =>
  tx(async (db) => {
    const { namespace, subject } = await seed(db);
    await insertFact(db, {
      namespace: `${namespace}-other`,
      subject,
      predicate: 'e_elsewhere',
      validFrom: '-1 hour',
      validTo: null,
    });
    const predicates = (sql: string, params: unknown[]) =>
      db.query(sql, params).then((r) => r.rows.map((row) => row.predicate));
    expect(await predicates('SELECT predicate FROM get_facts_by_subject($1)', [subject])).toEqual([
      'b_active',
      'e_elsewhere',
    ]);
    expect(await predicates('SELECT predicate FROM get_facts_by_subject($1, $2)', [subject, namespace])).toEqual([
      'b_active',
    ]);
    expect(await predicates('SELECT predicate FROM get_facts_by_subject($1, $2, true)', [subject, namespace])).toEqual([
      'a_old',
      'b_active',
      'c_recent',
      'd_future',
    ]);
  }));

test('get_fact_statistics counts total, temporal, expired and active per namespace', () =>
  tx(async (db) => {
    const { namespace } = await seed(db);
    const { rows } = await db.query('SELECT * FROM get_fact_statistics($1)', [namespace]);
    expect(rows).toEqual([{ namespace, total: '4', temporal: '3', expired: '2', active: '1', pkg_governed: '0' }]);
    const all = await db.query('SELECT namespace FROM get_fact_statistics()');
    expect(all.rows.map((row) => row.namespace)).toContain(namespace);
  }));

test('cleanup_expired_facts dry run counts past the grace period and changes nothing', () =>
  tx(async (db) => {
    const { namespace } = await seed(db);
    const counts = (grace: string) =>
      db.query('SELECT * FROM cleanup_expired_facts($1, true, $2::interval)', [namespace, grace]).then((r) => r.rows);
    expect(await counts('0')).toEqual([{ namespace, expired: '2', archived: '0' }]);
    expect(await counts('1 hour')).toEqual([{ namespace, expired: '1', archived: '0' }]);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM pkg_facts WHERE namespace = $1', [namespace]);
    expect(rows[0].n).toBe(4);
  }));

test('cleanup_expired_facts archives before deleting, one bounded batch at a time', () =>
  tx(async (db) => {
    const { namespace, ids } = await seed(db);
    const before = await db.query('SELECT * FROM pkg_facts WHERE id = $1', [ids.oldExpired]);
    const first = await db.query('SELECT * FROM cleanup_expired_facts($1, false, $2::interval, 1)', [namespace, '0']);
    expect(first.rows).toEqual([{ namespace, expired: '1', archived: '1' }]);
    // Oldest expiry first: the batch took the fact that expired two hours ago.
    const archived = await db.query('SELECT * FROM pkg_facts_archive WHERE namespace = $1', [namespace]);
    const { archived_at: archivedAt, ...copy } = archived.rows[0];
    expect(archived.rows).toHaveLength(1);
    expect(copy).toEqual(before.rows[0]);
    expect(archivedAt).toBeInstanceOf(Date);
    await db.query('SELECT * FROM cleanup_expired_facts($1, false, $2::interval, 10)', [namespace, '0']);
    const left = await db.query('SELECT id FROM pkg_facts WHERE namespace = $1 ORDER BY id', [namespace]);
    expect(left.rows.map((row) => row.id)).toEqual([ids.active, ids.future]);
    const kept = await db.query('SELECT id FROM pkg_facts_archive WHERE namespace = $1 ORDER BY id', [namespace]);
    expect(kept.rows.map((row) => row.id)).toEqual([ids.oldExpired, ids.recentExpired]);
  }));

test('cleanup_expired_facts keeps facts inside the grace period and refuses a batch below 1', () =>
  tx(async (db) => {
    const { namespace, ids } = await seed(db);
    await db.query('SELECT * FROM cleanup_expired_facts($1, false, $2::interval)', [namespace, '1 hour']);
    const left = await db.query('SELECT id FROM pkg_facts WHERE namespace = $1 ORDER BY id', [namespace]);
    expect(left.rows.map((row) => row.id)).toEqual([ids.active, ids.recentExpired, ids.future]);
    const refused = await refusal(db, `SELECT * FROM cleanup_expired_facts($1, false, '0', 0)`, [namespace]);
    expect(refused.code).toBe('22023');
  }));
