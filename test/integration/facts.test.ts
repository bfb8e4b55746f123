import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { addFact, getFactStatistics, listFacts, loadFactsForSubject } from '../../activities/store/facts';
import { runFactCleanup, type FactCleanupProgress } from '../../activities/store/fact-cleanup';
import { loadConfig } from '../../policy/config';
import { PkgError } from '../../policy/errors';
import { factCleanupRequestSchema, factInputSchema, parseInput, type FactInput } from '../../policy/facts/input';

let pool: Pool;
beforeAll(() => {
  pool = new Pool({ connectionString: loadConfig().DATABASE_URL, max: 4 });
});
afterAll(async () => {
  await pool.end();
});

const unique = () => `facts-${randomUUID().slice(0, 8)}`;
const add = (input: FactInput) => addFact(pool, parseInput(factInputSchema, input, 'invalid fact'));
const cleanup = (request: Record<string, unknown>) => parseInput(factCleanupRequestSchema, request, 'invalid cleanup');

/** Expired facts with ties on valid_to, so the keyset cursor must order by id within a timestamp. */
async function seedExpired(namespace: string, count: number, base = '2020-01-01T00:00:00Z'): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO pkg_facts (namespace, subject, predicate, object, valid_from, valid_to)
     SELECT $1, 'subject:' || i, 'expired', jsonb_build_object('i', i), $3::timestamptz - interval '1 day',
            $3::timestamptz + (i / 3) * interval '1 minute'
       FROM generate_series(1, $2) i RETURNING id`,
    [namespace, count, base],
  );
  return rows.map((row) => row.id).sort();
}

async function archivedIds(namespace: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM pkg_facts_archive WHERE namespace = $1', [
    namespace,
  ]);
  return rows.map((row) => row.id).sort();
}

async function liveCount(namespace: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM pkg_facts WHERE namespace = $1', [
    namespace,
  ]);
  return Number(rows[0]?.n);
}

test('list shows facts valid now unless expired ones are asked for; stats count per namespace', async () => {
  const namespace = unique();
  const subject = `guest:${namespace}`;
  await add({ namespace, subject, predicate: 'hasTemporaryAccess', object: '{"service":"lounge"}', ttl: '2h' });
  await add({
    namespace,
    subject,
    predicate: 'hadAccess',
    validFrom: '2020-01-01T00:00:00Z',
    validTo: '2020-01-02T00:00:00Z',
  });
  await add({ namespace, subject, predicate: 'willHaveAccess', validFrom: '2999-01-01T00:00:00Z' });

  expect((await listFacts(pool, { subject })).map((f) => f.predicate)).toEqual(['hasTemporaryAccess']);
  const all = await listFacts(pool, { subject, includeExpired: true });
  expect(all.map((f) => f.predicate)).toEqual(['hadAccess', 'hasTemporaryAccess', 'willHaveAccess']);
  expect(all.find((f) => f.predicate === 'hasTemporaryAccess')?.object).toEqual({ service: 'lounge' });
  expect(await getFactStatistics(pool, namespace)).toEqual([
    { namespace, total: 3, temporal: 2, expired: 1, active: 1 },
  ]);
});

test('a ttl counts from valid_from', async () => {
  const namespace = unique();
  const fact = await add({ namespace, subject: 's', predicate: 'p', validFrom: '2030-01-01T00:00:00Z', ttl: '1h30m' });
  expect(fact.validTo?.toISOString()).toBe('2030-01-01T01:30:00.000Z');
});

test('a valid_to already past with valid_from defaulting to now is refused and nothing is written', async () => {
  const namespace = unique();
  const error = await add({ namespace, subject: 's', predicate: 'p', validTo: '2020-01-01T00:00:00Z' }).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PkgError);
  expect((error as PkgError).type).toBe('InputInvalid');
  expect(await liveCount(namespace)).toBe(0);
});

test('dry run counts expired facts past the grace period and changes nothing', async () => {
  const namespace = unique();
  await seedExpired(namespace, 7);
  await add({
    namespace,
    subject: 's',
    predicate: 'recent',
    validFrom: '2020-01-01T00:00:00Z',
    validTo: new Date(Date.now() - 60_000).toISOString(),
  });
  const result = await runFactCleanup(pool, cleanup({ namespace, dryRun: true, grace: '1h' }));
  expect(result.namespaces).toEqual([{ namespace, expired: 7, archived: 0 }]);
  expect(await liveCount(namespace)).toBe(8);
  expect(await archivedIds(namespace)).toEqual([]);
});

test('cleanup archives exactly the expired rows, in batches, keeping live and in-grace ones', async () => {
  const namespace = unique();
  const expired = await seedExpired(namespace, 25);
  await add({ namespace, subject: 's', predicate: 'live', ttl: '1h' });
  await add({
    namespace,
    subject: 's',
    predicate: 'recent',
    validFrom: '2020-01-01T00:00:00Z',
    validTo: new Date(Date.now() - 60_000).toISOString(),
  });

  const result = await runFactCleanup(pool, cleanup({ namespace, grace: '1h', batchSize: 4 }));

  expect(result.namespaces).toEqual([{ namespace, expired: 25, archived: 25 }]);
  expect(result.batches).toBe(7);
  expect(await archivedIds(namespace)).toEqual(expired);
  expect(await liveCount(namespace)).toBe(2);
  const { rows } = await pool.query(
    'SELECT subject, object FROM pkg_facts_archive WHERE namespace = $1 ORDER BY id LIMIT 1',
    [namespace],
  );
  expect(rows[0]).toEqual({ subject: 'subject:1', object: { i: 1 } });
});

test('a run resumed from stale progress catches up: every row archived once, counts exact', async () => {
  const namespace = unique();
  const expired = await seedExpired(namespace, 30);
  const request = cleanup({ namespace, grace: '0s', batchSize: 4 });
  const seen: FactCleanupProgress[] = [];
  const crash = new Error('worker died');
  await expect(
    runFactCleanup(pool, request, {
      onBatch: (progress) => {
        seen.push(structuredClone(progress));
        if (progress.batches === 3) throw crash;
      },
    }),
  ).rejects.toBe(crash);
  // The server only received the heartbeat of batch 1; batches 2 and 3 committed after it.
  const stale = seen.find((progress) => progress.batches === 1) as FactCleanupProgress;

  const result = await runFactCleanup(pool, request, { resumeFrom: stale });

  expect(result.namespaces).toEqual([{ namespace, expired: 30, archived: 30 }]);
  expect(await archivedIds(namespace)).toEqual(expired);
  expect(await liveCount(namespace)).toBe(0);
});

test('without a namespace every namespace is cleaned and counted on its own', async () => {
  // Far in the past with a century of grace: no other test's facts are this old.
  const [first, second] = [unique(), unique()];
  await seedExpired(first, 5, '1900-01-01T00:00:00Z');
  await seedExpired(second, 3, '1900-01-01T00:00:00Z');
  const result = await runFactCleanup(pool, cleanup({ grace: '36500d', batchSize: 2 }));
  const mine = result.namespaces.filter((n) => n.namespace === first || n.namespace === second);
  expect(mine).toEqual(
    [
      { namespace: first, expired: 5, archived: 5 },
      { namespace: second, expired: 3, archived: 3 },
    ].sort((a, b) => (a.namespace < b.namespace ? -1 : 1)),
  );
  expect((await archivedIds(first)).length + (await archivedIds(second)).length).toBe(8);
});

test('a fact stops being loaded for its subject once its valid_to passes', async () => {
  const namespace = unique();
  const subject = `guest:${namespace}`;
  await pool.query(
    `INSERT INTO pkg_facts (namespace, subject, predicate, valid_to) VALUES ($1, $2, 'hasTemporaryAccess', now() + interval '1 second')`,
    [namespace, subject],
  );
  expect((await loadFactsForSubject(pool, subject)).map((f) => f.predicate)).toEqual(['hasTemporaryAccess']);
  await pool.query('SELECT pg_sleep(1.2)');
  expect(await loadFactsForSubject(pool, subject)).toEqual([]);
});
