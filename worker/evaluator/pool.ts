import { createPool } from '../../activities/connections';
import type { Config } from '../../policy/config';

const PG_CONNECT_TIMEOUT_MS = 3000;
const PG_QUERY_TIMEOUT_MS = 10_000;

/**
 * A pool for the evaluator's own use. A Postgres that stops answering (rather than refusing) must
 * fail a sync, a fact lookup or a log write in seconds, not hang it: a hung sync would hold every
 * later sync of its lane behind it.
 */
export function createEvaluatorPool(config: Config, max: number) {
  const pool = createPool(config, max);
  Object.assign(pool.options, { connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, query_timeout: PG_QUERY_TIMEOUT_MS });
  return pool;
}
