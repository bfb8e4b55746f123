import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { createPool } from '../activities/connections';
import { searchMemories } from '../activities/store/cortex-memories';
import { vectorLiteral } from '../policy/cortex/embedding';
import { createSemanticHydrator } from '../policy/cortex/hydration';
import { loadConfig } from '../policy/config';
import { postEvaluation } from '../client/traffic';
import {
  randomLane,
  removeTestLanes,
  setLane,
  startEvaluator,
  storeExample,
} from '../test/integration/evaluator-harness';
import { randomUnitVector, similarTo } from '../test/support/vectors';
import { quantile } from './statistics';

/**
 * `npm run bench -- cortex [--memories 100000] [--queries 1000] [--recall-queries 100] [--seconds 10]`
 *
 * The Unified Cortex at size: memories of 1024 dimensions in clusters (as a model's embeddings of
 * related tasks are), written as JSONL and loaded by `pkgctl memory import`; hydration latency
 * through the evaluator's hydrator (no cache hits: every query is new), recall@10 of the HNSW index
 * against an exact scan, and one evaluator's throughput on the same complaints with and without an
 * embedding (each request a new vector, so each one searches). Its memories are deleted afterwards.
 */
const ROOT = path.join(__dirname, '..');
const CLUSTERS = 1000;
const ID_PREFIX = 'bench-cortex:';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      memories: { type: 'string', default: '100000' },
      queries: { type: 'string', default: '1000' },
      'recall-queries': { type: 'string', default: '100' },
      seconds: { type: 'string', default: '10' },
    },
  });
  const config = loadConfig();
  const pool = createPool(config, 4);
  const work = await mkdtemp(path.join(tmpdir(), 'pkg-bench-cortex-'));
  const centroids = Array.from({ length: CLUSTERS }, () => randomUnitVector());
  const centroid = () => centroids[Math.floor(Math.random() * CLUSTERS)]!;
  const near = () => similarTo(centroid(), 0.8 + Math.random() * 0.15);
  // A new task close to its cluster's centre: about 0.85 similar to the cluster's memories.
  const query = () => similarTo(centroid(), 0.98);
  try {
    const file = path.join(work, 'memories.jsonl');
    const written = await writeMemories(file, Number(values.memories), near);
    print(`wrote ${written} memories to JSONL`);
    const { stdout } = await promisify(execFile)(
      'node',
      [path.join(ROOT, 'bin', 'pkgctl'), 'memory', 'import', file, '--json'],
      {
        maxBuffer: 1 << 20,
      },
    );
    const imported = JSON.parse(stdout) as { rows: number; rowsPerSecond: number; copyMs: number; indexMs: number };
    const copyRate = Math.round(imported.rows / ((imported.copyMs || 1) / 1000));
    print(
      `import: ${imported.rows} rows, ${imported.rowsPerSecond} rows/s end to end; parse+COPY ${copyRate} rows/s (${(imported.copyMs / 1000).toFixed(1)} s), HNSW build ${(imported.indexMs / 1000).toFixed(1)} s`,
    );
    await pool.query('ANALYZE pkg_cortex_memories');

    const hydrator = createSemanticHydrator({
      // Every memory here is unscoped; the per-query name below only keeps the cache from answering.
      search: (search) => searchMemories(pool, { ...search, snapshotId: null }),
      budgetMs: 10_000,
      topK: 10,
      minSimilarity: 0.8,
      cacheTtlMs: 1,
      cacheMax: 1,
    });
    const latencies: number[] = [];
    let found = 0;
    for (let i = 0; i < Number(values.queries); i++) {
      const hydration = await hydrator.hydrate(`query-${i}`, query());
      if (hydration.meta.status === 'skipped') throw new Error(`hydration skipped: ${hydration.meta.reason}`);
      latencies.push(hydration.meta.ms);
      found += hydration.context?.count ?? 0;
    }
    latencies.sort((a, b) => a - b);
    print(
      `hydration (top 10, similarity ≥ 0.8, ${latencies.length} new queries): p50 ${quantile(latencies, 0.5).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms, ${(found / latencies.length).toFixed(1)} matches a query`,
    );

    print(
      `recall@10: ${(await recallAt10(pool, Number(values['recall-queries']), near)).toFixed(3)} (HNSW vs exact scan)`,
    );
    await throughput(pool, Number(values.seconds), centroids);
  } finally {
    await pool.query(`DELETE FROM pkg_cortex_memories WHERE id LIKE $1`, [`${ID_PREFIX}%`]);
    await removeTestLanes(pool);
    await pool.end();
    await rm(work, { recursive: true, force: true });
  }
}

async function writeMemories(file: string, count: number, near: () => number[]): Promise<number> {
  const out = createWriteStream(file);
  const tiers = ['event_working', 'knowledge_base', 'world_memory'];
  for (let i = 0; i < count; i++) {
    const line = JSON.stringify({
      id: `${ID_PREFIX}${i}`,
      tier: tiers[i % 3],
      label: `label_${i % 50}`,
      text_sha256: 'ab'.repeat(32),
      embedding: near().map((x) => Math.round(x * 1e6) / 1e6),
    });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return count;
}

/** Share of the exact top 10 (a sequential scan, no index) that the index's top 10 finds. */
async function recallAt10(pool: ReturnType<typeof createPool>, queries: number, near: () => number[]): Promise<number> {
  let hits = 0;
  const client = await pool.connect();
  try {
    for (let i = 0; i < queries; i++) {
      const query = near();
      const approx = await searchMemories(client, { embedding: query, snapshotId: null, minSimilarity: -1, limit: 10 });
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_indexscan = off');
      const { rows } = await client.query<{ id: string }>(
        `SELECT id FROM pkg_cortex_memories ORDER BY embedding <=> $1::vector LIMIT 10`,
        [vectorLiteral(query)],
      );
      await client.query('COMMIT');
      const exact = new Set(rows.map((row) => row.id));
      hits += approx.filter((match) => exact.has(match.id)).length;
    }
  } finally {
    client.release();
  }
  return hits / (queries * 10);
}

/** Requests a second from 16 concurrent callers, first without an embedding, then each with a new one. */
async function throughput(pool: ReturnType<typeof createPool>, seconds: number, centroids: number[][]) {
  const lane = randomLane();
  const stored = await storeExample(pool, 'hotel-ops-semantic');
  await setLane(pool, lane, { snapshotId: stored.snapshotId });
  const evaluator = await startEvaluator(lane, { CORTEX_HYDRATION_BUDGET_MS: '20' });
  try {
    const input = { signals: { complaint_score: 0.6 } };
    const vectors = Array.from({ length: 2000 }, (_, i) => similarTo(centroids[i % centroids.length]!, 0.9));
    for (const [name, body] of [
      ['without hydration', () => ({ mode: 'advisory', input })],
      ['with hydration', (i: number) => ({ mode: 'advisory', input, embedding: vectors[i % vectors.length] })],
    ] as const) {
      const deadline = Date.now() + seconds * 1000;
      let done = 0;
      let skipped = 0;
      const caller = async () => {
        while (Date.now() < deadline) {
          const reply = await postEvaluation(evaluator.url, body(done + skipped));
          const hydration = (reply.body.meta as { hydration?: { status: string } }).hydration;
          if (hydration?.status === 'skipped') skipped += 1;
          else done += 1;
        }
      };
      await Promise.all(Array.from({ length: 16 }, caller));
      const rate = Math.round((done + skipped) / seconds);
      print(
        `evaluator ${name}: ${rate} req/s${skipped ? ` (${skipped} hydrations skipped over the 20 ms budget)` : ''}`,
      );
    }
  } finally {
    await evaluator.stop();
  }
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
