import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { createPool } from '../../activities/connections';
import { importMemories, searchMemories, type LocatedMemory } from '../../activities/store/cortex-memories';
import type { MemoryRecord } from '../../policy/cortex/memory';
import { vectorLiteral, type MemoryTier } from '../../policy/cortex/embedding';
import { loadConfig } from '../../policy/config';
import { pkgctl } from '../support/pkgctl';
import { storeExample } from './evaluator-harness';
import { createTestToken, startApi } from './api-harness';
import { EXIT } from '../../client/exit-codes';
import type { Role } from '../../policy/identity/access';
import { ENVS, type Env } from '../../policy/lane';
import { similarTo, randomUnitVector } from '../support/vectors';

/**
 * The Unified Cortex on the real PostgreSQL 16 with pgvector: the seed's search through the HNSW
 * index, snapshot scoping, the threshold, and imports that are whole or not at all. Every test
 * searches around its own random direction: random 1024-dimension vectors are nearly orthogonal
 * (similarity about 0 ± 0.1), so other tests' memories never pass the thresholds used here.
 */
let pool: Pool;
const dir = mkdtempSync(path.join(tmpdir(), 'pkg-cortex-'));
const run = randomUUID().slice(0, 8);

beforeAll(() => {
  pool = createPool(loadConfig());
});
afterAll(async () => {
  await pool.query(`DELETE FROM pkg_cortex_memories WHERE id LIKE $1`, [`${run}:%`]);
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
});

function memory(id: string, tier: MemoryTier, embedding: number[], snapshot: string | null = null): MemoryRecord {
  return { id: `${run}:${id}`, tier, label: id.split('-')[0]!, textSha256: 'ab'.repeat(32), embedding, snapshot };
}

const located = (memories: MemoryRecord[]): LocatedMemory[] =>
  memories.map((m, i) => ({ memory: m, where: `test:${i + 1}` }));

test('nearest neighbours come from every tier, highest similarity first, scoped to the snapshot and above the threshold', async () => {
  const [a, b] = [await storeExample(pool, 'hotel-ops-v1'), await storeExample(pool, 'hotel-ops-v1')];
  const query = randomUnitVector();
  await importMemories(
    pool,
    located([
      memory('noise-event', 'event_working', similarTo(query, 0.97), a.version),
      memory('noise-kb', 'knowledge_base', similarTo(query, 0.93), null),
      memory('noise-world', 'world_memory', similarTo(query, 0.88), a.version),
      memory('noise-faint', 'knowledge_base', similarTo(query, 0.7), a.version),
      memory('other-world', 'event_working', similarTo(query, 0.99), b.version),
    ]),
  );
  const search = (snapshotId: string | null, minSimilarity = 0.8, tier?: MemoryTier) =>
    searchMemories(pool, { embedding: query, snapshotId, minSimilarity, limit: 10, tier });

  const inA = await search(a.snapshotId);
  expect(inA.map((m) => [m.id, m.tier])).toEqual([
    [`${run}:noise-event`, 'event_working'],
    [`${run}:noise-kb`, 'knowledge_base'],
    [`${run}:noise-world`, 'world_memory'],
  ]);
  inA.forEach((m, i) => expect(m.similarity).toBeCloseTo([0.97, 0.93, 0.88][i]!, 3));
  // B's world has its own memory and the unscoped one, none of A's.
  expect((await search(b.snapshotId)).map((m) => m.id)).toEqual([`${run}:other-world`, `${run}:noise-kb`]);
  // Without a snapshot every world is searched; a lower threshold lets the faint memory in.
  expect((await search(null, 0.65)).map((m) => m.id)).toEqual(
    ['other-world', 'noise-event', 'noise-kb', 'noise-world', 'noise-faint'].map((id) => `${run}:${id}`),
  );
  expect((await search(a.snapshotId, 0.8, 'world_memory')).map((m) => m.id)).toEqual([`${run}:noise-world`]);
  expect(await search(a.snapshotId, 0.98)).toEqual([]);
});

test('the seed function answers through the HNSW cosine index', async () => {
  const client = await pool.connect();
  try {
    // On a small table a sequential scan is cheaper; with it off the plan shows the index serves the query's shape.
    await client.query('BEGIN');
    await client.query('SET LOCAL enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT id FROM v_unified_cortex_memory ORDER BY embedding <=> $1::vector LIMIT 10`,
      [vectorLiteral(randomUnitVector())],
    );
    expect(rows.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/Index Scan using pkg_cortex_memories_embedding/);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  const { rows } = await pool.query<{ def: string }>(
    `SELECT pg_get_indexdef('pkg_cortex_memories_embedding'::regclass) AS def`,
  );
  expect(rows[0]!.def).toMatch(/USING hnsw \(embedding vector_cosine_ops\)/);
});

function jsonl(name: string, lines: unknown[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n'));
  return file;
}

const line = (id: string, embedding: unknown = randomUnitVector(), extra: Record<string, unknown> = {}) => ({
  id: `${run}:${id}`,
  tier: 'knowledge_base',
  label: 'imported',
  text_sha256: 'cd'.repeat(32),
  embedding,
  ...extra,
});

async function stored(prefix: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM pkg_cortex_memories WHERE id LIKE $1`, [
    `${run}:${prefix}%`,
  ]);
  return Number(rows[0]!.n);
}

test.each([
  ['a wrong dimension', line('bad-3', [1, 2, 3]), 'embedding must have 1024 dimensions, got 3'],
  ['a non-number', line('bad-3', [...randomUnitVector().slice(1), 'x']), 'embedding [1023] must be a finite number'],
  ['an unknown tier', line('bad-3', undefined, { tier: 'dreams' }), 'tier must be one of'],
  ['broken JSON', '{"id": "x", ', 'not JSON'],
  ['an id given twice', line('bad-1'), `id "${run}:bad-1" already given at`],
  [
    'an unknown snapshot',
    line('bad-3', undefined, { snapshot: 'nowhere@9.9.9' }),
    'snapshot nowhere@9.9.9 does not exist',
  ],
])('a bad line (%s) names its line and nothing of the batch is written', async (_, bad, message) => {
  const file = jsonl(`bad-${randomUUID()}.jsonl`, [line('bad-1'), '', line('bad-2'), bad, line('bad-4')]);
  const result = await pkgctl(['memory', 'import', file]);
  // InputInvalid is a usage error (2), an unknown snapshot NotFound (4: refused).
  expect(result.code).toBe(message.includes('does not exist') ? 4 : 2);
  expect(result.stderr).toContain(`${file}:4: `);
  expect(result.stderr).toContain(message);
  expect(await stored('bad-')).toBe(0);
});

test('import, stats and prune through the CLI; importing the same file again changes nothing', async () => {
  const lines = Array.from({ length: 50 }, (_, i) => line(`ok-${i}`, randomUnitVector(), { tier: 'event_working' }));
  const file = jsonl('ok.jsonl', lines);
  for (let round = 0; round < 2; round++) {
    const imported = await pkgctl(['memory', 'import', file, '--json']);
    expect({ code: imported.code, stderr: imported.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(imported.stdout)).toMatchObject({ rows: 50, rebuiltIndex: false });
    expect(await stored('ok-')).toBe(50);
  }
  const stats = JSON.parse((await pkgctl(['memory', 'stats', '--json'])).stdout);
  expect(stats.total).toBeGreaterThanOrEqual(50);
  expect(stats.indexBytes).toBeGreaterThan(0);
  await pool.query(`UPDATE pkg_cortex_memories SET created_at = now() - interval '2 days' WHERE id = $1`, [
    `${run}:ok-7`,
  ]);
  const prune = ['memory', 'prune', '--older-than', '1d', '--tier', 'event_working', '--json'];
  expect(JSON.parse((await pkgctl([...prune, '--dry-run'])).stdout)).toMatchObject({ dryRun: true, count: 1 });
  expect(await stored('ok-')).toBe(50);
  expect(JSON.parse((await pkgctl(prune)).stdout)).toMatchObject({ dryRun: false, count: 1 });
  expect(await stored('ok-')).toBe(49);
});

test('memory add stores one memory the demo embedder embeds, and refuses a bad embedding by name', async () => {
  const added = await pkgctl([
    'memory',
    'add',
    '--id',
    `${run}:added`,
    '--tier',
    'world_memory',
    '--label',
    'noise_complaint',
    '--text',
    'guest in 412 complained about noise from the bar',
    '--embed-text',
  ]);
  expect({ code: added.code, stderr: added.stderr }).toEqual({ code: 0, stderr: '' });
  expect(await stored('added')).toBe(1);
  const bad = await pkgctl([
    'memory',
    'add',
    '--id',
    `${run}:x`,
    '--tier',
    'world_memory',
    '--label',
    'l',
    '--text',
    't',
  ]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('give either --embedding or --embed-text');
});

test("through the control-plane API: an author adds a memory of a snapshot of its env but not one of every env's; stats for a viewer; pruning is an admin's", async () => {
  const api = await startApi();
  try {
    const snapshot = await storeExample(pool, 'hotel-ops-v1');
    const { rows } = await pool.query<{ env: Env }>('SELECT env FROM pkg_snapshots WHERE id = $1', [
      snapshot.snapshotId,
    ]);
    const env = rows[0]!.env;
    const as = async (role: Role, envs: readonly Env[] = ENVS) => ({
      PKG_API_URL: api.url,
      PKG_TOKEN: (await createTestToken(pool, role, envs)).token,
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    const author = await as('author', [env]);
    const add = (id: string, extra: string[]) => [
      'memory',
      'add',
      '--id',
      `${run}:${id}`,
      '--tier',
      'event_working',
      '--label',
      'noise_complaint',
      '--text',
      'music from the next room at night',
      '--embed-text',
      '--json',
      ...extra,
    ];

    const added = await pkgctl(add('api-scoped', ['--snapshot', snapshot.version]), author);
    expect({ code: added.code, stderr: added.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(added.stdout)).toMatchObject({ id: `${run}:api-scoped`, rows: 1 });
    expect(await stored('api-scoped')).toBe(1);
    const everywhere = await pkgctl(add('api-everywhere', []), author);
    expect(everywhere.code).toBe(EXIT.refused);
    expect(JSON.parse(everywhere.stdout)).toMatchObject({
      type: 'Forbidden',
      message: `memory.add needs role author in ${ENVS.filter((e) => e !== env).join(', ')}`,
    });
    expect(await stored('api-everywhere')).toBe(0);
    const nowhere = await pkgctl(add('api-nowhere', ['--snapshot', 'nowhere@9.9.9']), author);
    expect(JSON.parse(nowhere.stdout)).toMatchObject({
      type: 'NotFound',
      message: 'memory: snapshot nowhere@9.9.9 does not exist',
    });

    const stats = await pkgctl(['memory', 'stats', '--json'], await as('viewer'));
    expect(JSON.parse(stats.stdout)).toMatchObject({ total: expect.any(Number), indexBytes: expect.any(Number) });

    await pool.query(`UPDATE pkg_cortex_memories SET created_at = now() - interval '2 days' WHERE id = $1`, [
      `${run}:api-scoped`,
    ]);
    const prune = ['memory', 'prune', '--older-than', '1d', '--snapshot', snapshot.version, '--json'];
    expect(JSON.parse((await pkgctl(prune, author)).stdout)).toMatchObject({
      type: 'Forbidden',
      message: 'memory.prune needs role admin in prod, staging, dev',
    });
    expect(JSON.parse((await pkgctl(prune, await as('admin'))).stdout)).toMatchObject({ dryRun: false, count: 1 });
    expect(await stored('api-scoped')).toBe(0);
    const bad = await pkgctl(['memory', 'prune', '--older-than', 'soon', '--tier', 'dreams'], await as('admin'));
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--older-than: "soon" is not a duration');
    expect(bad.stderr).toContain('--tier: expected one of');
  } finally {
    await api.stop();
  }
}, 120_000);
