import { randomUUID } from 'node:crypto';
import { importMemories } from '../../activities/store/cortex-memories';
import { loadConfig } from '../../policy/config';
import {
  createRelay,
  evaluate,
  freePort,
  randomLane,
  setLane,
  startEvaluator,
  storeExample,
  useEvaluatorServices,
} from './evaluator-harness';
import { randomUnitVector, similarTo } from '../support/vectors';

/**
 * Semantic hydration in a real evaluator against the real memory and its HNSW index: the example
 * bundle hotel-ops-semantic sends a noise patrol only for a complaint very like a remembered noise
 * complaint (SIGNAL semantic_context.noise_complaint ≥ 0.85); every complaint is escalated.
 */
const services = useEvaluatorServices();
const run = randomUUID().slice(0, 8);
const complaint = { signals: { complaint_score: 0.6 } };
const subtasksOf = (body: Record<string, unknown>) => (body.subtasks as { name: string }[]).map((s) => s.name);

afterEach(() => services.pool.query(`DELETE FROM pkg_cortex_memories WHERE id LIKE $1`, [`${run}:%`]));

/** A lane serving the example, with one noise complaint remembered in its snapshot's world near `query`. */
async function rememberingLane(env: Record<string, string> = {}, databaseUrl?: string) {
  const lane = randomLane();
  const stored = await storeExample(services.pool, 'hotel-ops-semantic');
  await setLane(services.pool, lane, { snapshotId: stored.snapshotId });
  const query = randomUnitVector();
  const memory = {
    id: `${run}:${randomUUID().slice(0, 8)}`,
    tier: 'event_working' as const,
    label: 'noise_complaint',
    textSha256: 'ef'.repeat(32),
    embedding: similarTo(query, 0.95),
    snapshot: stored.version,
  };
  await importMemories(services.pool, [{ memory, where: 'test' }]);
  const evaluator = await startEvaluator(lane, { ...env, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
  services.running.push(evaluator);
  return { stored, query, memory, evaluator };
}

test('ADVISORY: a remembered complaint changes the decision, is returned in meta and cached; CONTROL is unaffected', async () => {
  const { stored, query, memory, evaluator } = await rememberingLane({ CORTEX_HYDRATION_BUDGET_MS: '2000' });
  const hydrated = await evaluate(evaluator, { mode: 'advisory', input: complaint, embedding: query });
  expect(hydrated.status).toBe(200);
  expect(subtasksOf(hydrated.body)).toEqual(['noise_patrol', 'notify_manager', 'escalate']);
  const meta = hydrated.body.meta as Record<string, Record<string, unknown>>;
  expect(meta.hydration).toMatchObject({ status: 'hydrated', matches: 1 });
  expect(meta.semantic_context).toMatchObject({
    count: 1,
    top: { id: memory.id, tier: 'event_working', label: 'noise_complaint' },
  });
  expect((meta.semantic_context!.top as { similarity: number }).similarity).toBeCloseTo(0.95, 3);

  const again = await evaluate(evaluator, { mode: 'advisory', input: complaint, embedding: query });
  expect(subtasksOf(again.body)).toEqual(['noise_patrol', 'notify_manager', 'escalate']);
  expect((again.body.meta as Record<string, unknown>).hydration).toMatchObject({ status: 'cached' });

  // Without an embedding, or with one nothing is remembered near, the complaint is only escalated.
  for (const body of [
    { mode: 'advisory', input: complaint },
    { mode: 'advisory', input: complaint, embedding: randomUnitVector() },
  ]) {
    const plain = await evaluate(evaluator, body);
    expect({ snapshot: plain.body.snapshot, subtasks: subtasksOf(plain.body) }).toEqual({
      snapshot: stored.version,
      subtasks: ['escalate'],
    });
  }
  const control = await evaluate(evaluator, { input: complaint });
  expect({ status: control.status, subtasks: subtasksOf(control.body) }).toEqual({
    status: 200,
    subtasks: ['escalate'],
  });
  expect(control.body.meta).not.toHaveProperty('semantic_context');
  const refused = await evaluate(evaluator, { input: complaint, embedding: query });
  expect(refused.status).toBe(400);
  expect(String(refused.body.reason)).toContain('embedding: CONTROL is closed-world and never hydrates');
});

test('a memory search over its budget is skipped: the decision is made without it and meta says why', async () => {
  const { query, evaluator } = await rememberingLane({ CORTEX_HYDRATION_BUDGET_MS: '100' });
  const locker = await services.pool.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE pkg_cortex_memories IN ACCESS EXCLUSIVE MODE');
    const started = Date.now();
    const late = await evaluate(evaluator, { mode: 'advisory', input: complaint, embedding: query });
    expect(Date.now() - started).toBeLessThan(2000);
    expect({ status: late.status, subtasks: subtasksOf(late.body) }).toEqual({ status: 200, subtasks: ['escalate'] });
    expect((late.body.meta as Record<string, unknown>).hydration).toMatchObject({
      status: 'skipped',
      reason: 'timeout: memory did not answer within 100 ms',
    });
  } finally {
    await locker.query('ROLLBACK');
    locker.release();
  }
});

test('Postgres unreachable: ADVISORY still decides, meta says memory was unavailable', async () => {
  const relayPort = await freePort();
  const relay = createRelay(relayPort, new URL(loadConfig().DATABASE_URL));
  await relay.open();
  const throughRelay = new URL(loadConfig().DATABASE_URL);
  throughRelay.port = String(relayPort);
  try {
    const { query, evaluator } = await rememberingLane({ CORTEX_HYDRATION_BUDGET_MS: '2000' }, throughRelay.toString());
    await relay.cut();
    const down = await evaluate(evaluator, { mode: 'advisory', input: complaint, embedding: query });
    expect({ status: down.status, subtasks: subtasksOf(down.body) }).toEqual({ status: 200, subtasks: ['escalate'] });
    const hydration = (down.body.meta as Record<string, { status: string; reason: string }>).hydration!;
    expect(hydration.status).toBe('skipped');
    expect(hydration.reason).toMatch(/^memory unavailable: /);
  } finally {
    await relay.cut();
  }
});
