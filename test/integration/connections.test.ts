import { createPool } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import { createRelay, freePort, waitFor } from './evaluator-harness';

/**
 * The pools every process builds (activities/connections.ts) through a Postgres restart, played by
 * a relay that drops every connection: the idle connection's error must not end the process (it
 * ended the pipeline worker at each restart in the fault benchmark), and the next query connects again.
 */
test('a pool outlives Postgres dropping its idle connections, and the next query connects again', async () => {
  const config = loadConfig();
  const port = await freePort();
  const relay = createRelay(port, new URL(config.DATABASE_URL));
  await relay.open();
  const url = new URL(config.DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const pool = createPool({ ...config, DATABASE_URL: url.toString() }, 2);
  try {
    await pool.query('SELECT 1');
    expect(pool.idleCount).toBe(1);
    await relay.cut();
    // The pool has seen the error and let the connection go: an unlistened error would have thrown by now.
    await waitFor(async () => (pool.idleCount === 0 ? true : null), 10_000, 'the dropped connection to leave the pool');
    await relay.open();
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  } finally {
    await pool.end();
    await relay.cut();
  }
});
