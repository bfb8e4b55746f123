import { readFileSync } from 'node:fs';
import { Pool } from 'pg';
import { Redis } from 'ioredis';
import type { Client } from '@temporalio/client';
import type { Config } from '../policy/config';

/**
 * Real clients built from config, passed into activity factories and the evaluator. An idle
 * connection that Postgres drops (a restart, a failover) is reported on the pool and leaves it; the
 * next query opens a new one. Unlistened, that report would end the process (seen in the fault
 * benchmark: the pipeline worker exited at every Postgres restart).
 */
export function createPool(config: Config, max = 10): Pool {
  const pool = new Pool({ connectionString: config.DATABASE_URL, max });
  pool.on('error', () => undefined);
  return pool;
}

export function createRedis(config: Config): Redis {
  return new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
}

/** TLS client certs for a production cluster come from the TEMPORAL_TLS_* variables. */
export function temporalTls(config: Config) {
  if (!config.TEMPORAL_TLS_CERT || !config.TEMPORAL_TLS_KEY) return undefined;
  return {
    clientCertPair: { crt: readFileSync(config.TEMPORAL_TLS_CERT), key: readFileSync(config.TEMPORAL_TLS_KEY) },
    serverRootCACertificate: config.TEMPORAL_TLS_CA ? readFileSync(config.TEMPORAL_TLS_CA) : undefined,
  };
}

/**
 * Temporal's client is loaded on the first call rather than with this module: the decision log's
 * writer thread takes its pool from here and would otherwise hold ~260 modules it never calls
 * (about 14 MB of its heap, 18 MB of each evaluator's resident memory).
 */
export async function connectTemporalClient(config: Config): Promise<Client> {
  const temporal = await import('@temporalio/client');
  const connection = await temporal.Connection.connect({ address: config.TEMPORAL_ADDRESS, tls: temporalTls(config) });
  return new temporal.Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}
