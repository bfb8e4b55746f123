import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { runFactCleanup } from '../activities/store/fact-cleanup';
import { loadConfigOrExit } from '../policy/config';
import { DEFAULT_CLEANUP_BATCH } from '../policy/facts/input';
import { quantile } from './statistics';

/**
 * `npx tsx bench/fact-cleanup.ts [--facts N] [--batch N] [--pause MS] [--same-expiry]`: archives and deletes N
 * (default 1,000,000) expired facts in a namespace of its own (with --same-expiry all share one
 * valid_to, as after a bulk load with one ttl) while a writer inserts single rows into the same
 * namespace, and reports the cleanup's wall time and the writer's longest wait during it.
 * Targets (issue 6): ≤ 60 s for 1,000,000 facts; longest concurrent insert ≤ 100 ms.
 */
const SEED_CHUNK = 100_000;
const BASELINE_MS = 5000;

type Flags = ReturnType<typeof parseFlags>;

function parseFlags() {
  return parseArgs({
    options: {
      facts: { type: 'string' },
      batch: { type: 'string' },
      pause: { type: 'string' },
      'same-expiry': { type: 'boolean', default: false },
    },
  }).values;
}

function option(flags: Flags, name: 'facts' | 'batch' | 'pause', fallback: number, min = 1): number {
  const value = flags[name] === undefined ? fallback : Number(flags[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return value;
}

async function seed(pool: Pool, namespace: string, total: number, sameExpiry: boolean): Promise<void> {
  const step = sameExpiry ? '0' : '100 microseconds';
  for (let from = 1; from <= total; from += SEED_CHUNK) {
    await pool.query(
      `INSERT INTO pkg_facts (namespace, subject, predicate, object, valid_from, valid_to)
       SELECT $1, 'guest:' || (i % 50000), 'hadAccess', jsonb_build_object('room', i % 500),
              now() - interval '30 days', now() - interval '2 days' + i * $4::interval
         FROM generate_series($2::int, $3::int) i`,
      [namespace, from, Math.min(from + SEED_CHUNK - 1, total), step],
    );
  }
}

/** Single-row inserts, one after another, timing each; runs until stopped. */
function startWriter(pool: Pool, namespace: string) {
  const waits: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      await pool.query(
        `INSERT INTO pkg_facts (namespace, subject, predicate, valid_to) VALUES ($1, 'writer', 'live', now() + interval '1 day')`,
        [namespace],
      );
      waits.push(performance.now() - started);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return waits;
    },
  };
}

async function count(pool: Pool, table: string, namespace: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE namespace = $1`, [
    namespace,
  ]);
  return Number(rows[0]?.n);
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const total = option(flags, 'facts', 1_000_000);
  const batchSize = option(flags, 'batch', DEFAULT_CLEANUP_BATCH);
  const batchPauseMs = option(flags, 'pause', 0, 0);
  const config = loadConfigOrExit();
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 2 });
  const writerPool = new Pool({
    connectionString: config.DATABASE_URL,
    max: 1,
    application_name: 'fact-cleanup-bench-writer',
  });
  const namespace = `bench-cleanup-${randomUUID().slice(0, 8)}`;
  try {
    const seeding = performance.now();
    await seed(pool, namespace, total, flags['same-expiry']);
    await pool.query('ANALYZE pkg_facts');
    process.stderr.write(`seeded ${total} expired facts in ${((performance.now() - seeding) / 1000).toFixed(1)} s\n`);

    // The same writer alone first: on a busy machine its tail is scheduling noise, not the cleanup.
    const baseline = startWriter(writerPool, `${namespace}-baseline`);
    await new Promise((resolve) => setTimeout(resolve, BASELINE_MS));
    const quiet = (await baseline.stop()).sort((a, b) => a - b);

    const writer = startWriter(writerPool, namespace);
    const started = performance.now();
    const result = await runFactCleanup(pool, { namespace, dryRun: false, grace: 0, batchSize, batchPauseMs });
    const seconds = (performance.now() - started) / 1000;
    const waits = (await writer.stop()).sort((a, b) => a - b);

    const [archived, left] = [
      await count(pool, 'pkg_facts_archive', namespace),
      await count(pool, 'pkg_facts', namespace),
    ];
    const p99 = quantile(waits, 0.99);
    const lines = [
      `cleanup: ${result.totalArchived} facts archived and deleted in ${seconds.toFixed(1)} s (${Math.round(result.totalArchived / seconds)}/s, ${result.batches} batches of ${batchSize}, pause ${batchPauseMs} ms) — target ≤ 60 s`,
      `concurrent single-row inserts: ${waits.length}, longest wait ${waits.at(-1)?.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms — target ≤ 100 ms`,
      `baseline (writer alone, ${BASELINE_MS / 1000} s): ${quiet.length} inserts, longest wait ${quiet.at(-1)?.toFixed(1)} ms, p99 ${quantile(quiet, 0.99).toFixed(1)} ms`,
      `check: archive holds ${archived}, live table holds ${left} (the writer's ${waits.length} rows)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (archived !== total || left !== waits.length) process.exitCode = 1;
  } finally {
    await pool.query('DELETE FROM pkg_facts WHERE namespace = ANY($1)', [[namespace, `${namespace}-baseline`]]);
    await pool.query('DELETE FROM pkg_facts_archive WHERE namespace = $1', [namespace]);
    await pool.query('VACUUM (ANALYZE) pkg_facts, pkg_facts_archive');
    await Promise.all([pool.end(), writerPool.end()]);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
