import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../../policy/config';
import type { WriterCommand, WriterReport } from './decision-log';
import { createDecisionLogWriter, writerSetup } from './decision-log-writer';

// Linux's CFS gives a thread at nice 10 about a tenth of a contended core's share at nice 0.
const WRITER_NICE = 10;

/** The writer thread's entry (started by decision-log.ts): its own config, pool and timer. */
const { flushMs, batch } = workerData as { flushMs: number; batch: number };
lowerPriority();
const port = parentPort!;
const { pool, mask, hash } = writerSetup(loadConfig());
const writer = createDecisionLogWriter({
  db: pool,
  mask,
  hash,
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

/**
 * The writer yields to the request path: on a busy host the requests' thread gets the core first,
 * and what the writer cannot keep up with is dropped and counted at the buffer's bound. Linux
 * sets a nice value per thread, by the thread's id; elsewhere the thread keeps its priority.
 */
function lowerPriority(): void {
  if (process.platform !== 'linux') return;
  setPriority(Number(path.basename(readlinkSync('/proc/thread-self'))), WRITER_NICE);
}
