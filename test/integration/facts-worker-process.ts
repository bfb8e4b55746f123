import { NativeConnection, Worker } from '@temporalio/worker';
import { Pool } from 'pg';
import { createFactActivities } from '../../activities/facts';
import { loadConfig } from '../../policy/config';

/**
 * A pipeline worker that runs only the fact activities, in its own process, so a test can SIGKILL
 * it mid-activity: a real crash, no graceful cancellation. Usage: tsx facts-worker-process.ts QUEUE
 */
async function main(taskQueue: string): Promise<void> {
  const config = loadConfig();
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 2 });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue,
    activities: createFactActivities({ pool }),
  });
  process.stdout.write('ready\n');
  await worker.run();
}

main(process.argv[2] ?? '').catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
