import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../../policy/config';
import { createMaskHasher } from '../../policy/decision-log/masking';
import type { WriterCommand, WriterReport } from './decision-log';
import { createDecisionLogWriter } from './decision-log-writer';
import { createEvaluatorPool } from './pool';

/** The writer thread's entry (started by decision-log.ts): its own config, pool and timer. */
const { flushMs, batch } = workerData as { flushMs: number; batch: number };
const config = loadConfig();
const port = parentPort!;
// One connection: batches are written one at a time. Without waiting for the commit's WAL flush:
// a crash of Postgres may lose the last moments of a log that was never durable in the
// evaluator's memory either, and each batch holds the writer a disk flush less.
const pool = createEvaluatorPool(config, 1);
Object.assign(pool.options, { options: '-c synchronous_commit=off' });
const writer = createDecisionLogWriter({
  db: pool,
  mask: { hash: config.DECISION_LOG_MASK_HASH, drop: config.DECISION_LOG_MASK_DROP },
  hash: createMaskHasher(config.DECISION_LOG_MASK_SALT),
  batch,
  report: (message: WriterReport) => port.postMessage(message),
});
const timer = setInterval(() => void writer.drain(), flushMs);

port.on('message', (command: WriterCommand) => {
  const done = writer.handle(command);
  if (command.kind !== 'stop') return;
  clearInterval(timer);
  void done.then(() => pool.end()).finally(() => port.close());
});
