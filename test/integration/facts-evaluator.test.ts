import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { loadFactsForSubject } from '../../activities/store/facts';
import { ruleIdOf, type CompiledSnapshot } from '../../policy/engine/compiled-snapshot';
import { loadConfig } from '../../policy/config';
import { createFactCache } from '../../policy/facts/cache';
import { createNativeEngine } from '../../policy/engine/native';

/**
 * The evaluator's path for FACT conditions: pkg_facts → loadFactsForSubject → the bounded fact
 * cache → the engine. Documented bound (policy/fact-cache.ts): an expiring fact stops counting at
 * its valid_to; a fact revoked early is seen at most FACT_CACHE_TTL_MS later.
 */
const version = `facts-eval@1.0.0-${randomUUID().slice(0, 8)}`;
const snapshot: CompiledSnapshot = {
  version,
  engine: 'native',
  entrypoint: 'pkg/result',
  subtaskTypes: [{ name: 'open_lounge', defaultParams: {} }],
  rules: [
    {
      id: ruleIdOf(version, 'lounge_access'),
      name: 'lounge_access',
      priority: 10,
      enabled: true,
      conditions: [{ type: 'FACT', key: 'hasTemporaryAccess', op: 'EXISTS' }],
      emissions: [{ subtask: 'open_lounge', relationship: 'EMITS', params: {} }],
    },
  ],
};
const engine = createNativeEngine(snapshot);

let pool: Pool;
beforeAll(() => {
  pool = new Pool({ connectionString: loadConfig().DATABASE_URL, max: 2 });
});
afterAll(async () => {
  await pool.end();
});

function evaluatorFor(ttlMs: number) {
  const facts = createFactCache({ ttlMs, maxSubjects: 100, load: (subject) => loadFactsForSubject(pool, subject) });
  return async (subject: string) => {
    const decision = engine.evaluate({ context: { subject } }, await facts.factsFor(subject));
    return decision.subtasks.map((subtask) => subtask.name);
  };
}

async function grant(subject: string, validFor: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO pkg_facts (namespace, subject, predicate, object, valid_to)
     VALUES ('facts-eval', $1, 'hasTemporaryAccess', '{"service":"lounge"}', now() + $2::interval) RETURNING id`,
    [subject, validFor],
  );
  return rows[0]!.id;
}

test('an expiring fact stops matching at its valid_to even when the cache bound is far longer', async () => {
  const subject = `guest:${randomUUID()}`;
  const evaluate = evaluatorFor(60_000);
  await grant(subject, '1 second');
  expect(await evaluate(subject)).toEqual(['open_lounge']);
  await pool.query('SELECT pg_sleep(1.1)');
  expect(await evaluate(subject)).toEqual([]);
});

test('a fact revoked early stops matching within the cache bound', async () => {
  const subject = `guest:${randomUUID()}`;
  const boundMs = 300;
  const evaluate = evaluatorFor(boundMs);
  const id = await grant(subject, '1 hour');
  expect(await evaluate(subject)).toEqual(['open_lounge']);
  await pool.query('UPDATE pkg_facts SET valid_to = now() WHERE id = $1', [id]);
  await new Promise((resolve) => setTimeout(resolve, boundMs + 50));
  expect(await evaluate(subject)).toEqual([]);
});
