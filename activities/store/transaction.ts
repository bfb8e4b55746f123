import type { ClientBase, Pool, PoolClient } from 'pg';

/** A pool or a client inside a transaction: both answer queries the same way. */
export type Queryable = Pick<Pool, 'query'> | Pick<ClientBase, 'query'>;

/** Runs fn in one transaction: everything it writes commits together or not at all. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
