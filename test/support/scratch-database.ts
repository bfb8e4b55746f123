import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { loadConfig } from '../../policy/config';

/**
 * A database of its own on the test server, for tests that need exact ids or a schema older than
 * today's: created empty, dropped when the test is done.
 */
export interface ScratchDatabase {
  url: string;
  pool: Pool;
  drop: () => Promise<void>;
}

export const MIGRATIONS_DIR = path.join(__dirname, '..', '..', 'migrations');

async function onServer<T>(work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: loadConfig().DATABASE_URL });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Pool.end() resolves before the server has seen every connection close; dropping WITH (FORCE)
 * then would terminate connections whose clients no longer listen for errors. Wait them out.
 */
async function dropWhenUnused(admin: Client, name: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 100) {
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
      [name],
    );
    if (rows[0]!.n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
}

export async function createScratchDatabase(purpose: string): Promise<ScratchDatabase> {
  const name = `scratch_${purpose}_${randomUUID().slice(0, 8)}`;
  await onServer((admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(loadConfig().DATABASE_URL);
  url.pathname = `/${name}`;
  const pool = new Pool({ connectionString: url.toString(), max: 2 });
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      await onServer((admin) => dropWhenUnused(admin, name));
    },
  };
}

/** The migration files in order; `before` stops at the first file whose name ends with it. */
export async function migrationFiles(before?: string): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  const stop = before === undefined ? -1 : files.findIndex((f) => f.endsWith(before));
  if (before !== undefined && stop < 0) throw new Error(`no migration named *${before} in ${MIGRATIONS_DIR}`);
  return stop < 0 ? files : files.slice(0, stop);
}

/** Runs migration files as written, each in its own transaction, as the migrator would. */
export async function applyFiles(pool: Pool, files: string[]): Promise<void> {
  for (const file of files) {
    const sql = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
    } finally {
      client.release();
    }
  }
}
