import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { oneLine } from './service';

/**
 * EVALUATOR_WORKERS evaluator processes behind one port (node:cluster): one Node process decides on
 * one core, so a host's throughput needs one per core. Each worker is a whole evaluator — its own
 * lane sync, hot-swap subscription, heartbeat (as its own fleet instance) and Redis counters, which
 * sum across processes as they do across hosts. Canary routing hashes the routing key, so every
 * process sends a key to the same arm. The primary only forks, restarts and aggregates metrics.
 */
const WORKER_INDEX_ENV = 'EVALUATOR_WORKER_INDEX';
const METRICS_REQUEST = 'pkg:evaluator-metrics-request';
const METRICS_REPLY = 'pkg:evaluator-metrics-reply';
const RESTART_DELAY_MS = 1000;
const STOP_GRACE_MS = 15_000;
const METRICS_TIMEOUT_MS = 5000;

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
}

const isMetricsMessage = (message: unknown, type: string): message is MetricsMessage =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

/** Null in a process that is not a cluster worker. */
export function workerIndex(): number | null {
  return cluster.isWorker ? Number(process.env[WORKER_INDEX_ENV]) : null;
}

/** Forks `count` workers, replaces one that dies, and on SIGTERM/SIGINT stops them all before exiting. */
export function runPrimary(count: number, log: (line: string) => void): void {
  const aggregator = new AggregatorRegistry();
  let stopping = false;

  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    worker.on('message', (message: unknown) => {
      if (!isMetricsMessage(message, METRICS_REQUEST)) return;
      const reply = (fields: Partial<MetricsMessage>) =>
        worker.isConnected() && worker.send({ type: METRICS_REPLY, id: message.id, ...fields });
      aggregator.clusterMetrics().then(
        (text) => reply({ text }),
        (error: unknown) => reply({ error: oneLine(error) }),
      );
    });
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      log(`worker ${index} exited (${signal ?? `code ${code}`}); starting another in ${RESTART_DELAY_MS} ms`);
      setTimeout(() => !stopping && fork(index), RESTART_DELAY_MS);
    });
  };

  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    log(`${signal}: stopping ${count} worker(s)`);
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
    let alive = workers.length;
    if (alive === 0) process.exit(0);
    const deadline = setTimeout(() => workers.forEach((worker) => worker.process.kill('SIGKILL')), STOP_GRACE_MS);
    for (const worker of workers) {
      worker.once('exit', () => {
        if (--alive > 0) return;
        clearTimeout(deadline);
        process.exit(0);
      });
      worker.process.kill('SIGTERM');
    }
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  for (let index = 0; index < count; index++) fork(index);
}

/** A worker's scrape text: every sibling's registry summed, asked of the primary over IPC. */
export function gatherFromPrimary(registry: Registry): () => Promise<string> {
  // Constructing one installs prom-client's worker-side answer to the primary's collection.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message, METRICS_REPLY)) return;
    const request = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) request?.reject(new Error(`metrics of sibling processes: ${message.error}`));
    else request?.resolve(message.text ?? '');
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('metrics of sibling processes: no answer from the primary'));
      }, METRICS_TIMEOUT_MS);
      waiting.set(id, {
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      process.send!({ type: METRICS_REQUEST, id });
    });
}
