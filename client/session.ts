import type { Pool } from 'pg';
import type { Client } from '@temporalio/client';
import { connectTemporalClient, createPool } from '../activities/connections';
import { loadConfig, type Config } from '../policy/config';

/**
 * The connections of one pkgctl command. Each opens on first use, so a command that only needs
 * Postgres never waits on Temporal (and the reverse), and all are closed when the command ends so
 * the process exits promptly.
 */
export interface Session {
  config: Config;
  pool: () => Pool;
  temporal: () => Promise<Client>;
}

/** A service pkgctl needs could not be reached; the exit-code table knows it by this class. */
export class ServiceUnavailable extends Error {
  constructor(service: string, cause: unknown) {
    super(`cannot reach ${service}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }

  /** One the control-plane API met and reported (503, type Unavailable), with its message as it came. */
  static relayed(message: string): ServiceUnavailable {
    return Object.assign(new ServiceUnavailable('', null), { message });
  }
}

export async function withSession<T>(work: (session: Session) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let pool: Pool | undefined;
  let temporal: Promise<Client> | undefined;
  const session: Session = {
    config,
    pool: () => (pool ??= createPool(config, 2)),
    temporal: () =>
      (temporal ??= connectTemporalClient(config).catch((cause: unknown) => {
        throw new ServiceUnavailable(`Temporal at ${config.TEMPORAL_ADDRESS}`, cause);
      })),
  };
  try {
    return await work(session);
  } finally {
    // A connection that failed to open has nothing to close; its error already reached the command.
    const client = await temporal?.catch(() => undefined);
    await client?.connection.close();
    await pool?.end();
  }
}
