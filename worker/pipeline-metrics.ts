import { createServer, type Server } from 'node:http';
import type { Pool } from 'pg';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../policy/config';
import { createScrapeTargetsWriter } from './scrape-targets';

/**
 * The pipeline worker's own `GET /metrics` for Prometheus: its process metrics and how many
 * evaluator targets it last wrote for discovery. Anything but /metrics is 404.
 */
export interface PipelineMetrics {
  registry: Registry;
  scrapeTargets: Gauge;
  listen(host: string, port: number): Promise<Server>;
}

export function createPipelineMetrics(): PipelineMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pkg_pipeline_process_' });
  const scrapeTargets = new Gauge({
    name: 'pkg_pipeline_scrape_targets',
    help: 'Evaluator addresses in the Prometheus targets file, from the live evaluators of the fleet registry.',
    registers: [registry],
  });
  return {
    registry,
    scrapeTargets,
    listen(host, port) {
      const server = createServer((request, response) => {
        if (request.method !== 'GET' || request.url !== '/metrics') {
          response.writeHead(404).end();
          return;
        }
        registry.metrics().then(
          (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (error: Error) => response.writeHead(500).end(error.message),
        );
      });
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server));
      });
    },
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * What the pipeline worker does for Prometheus: keeps the evaluator targets file current and serves
 * /metrics, whose registry other parts of the worker (the notifier) add their series to. Metrics are for watching the worker, not for running it: a taken port is reported, not fatal.
 */
export async function startPrometheusSide(
  config: Config,
  pool: Pool,
): Promise<{ registry: Registry; stop(): Promise<void> }> {
  const metrics = createPipelineMetrics();
  const targets = createScrapeTargetsWriter({
    pool,
    file: config.PROMETHEUS_TARGETS_FILE,
    onError: (error) => log(`prometheus targets: ${(error as Error).message}`),
    onTargets: (count) => metrics.scrapeTargets.set(count),
  });
  const server =
    config.PIPELINE_METRICS_PORT === 0
      ? null
      : await metrics.listen(config.PIPELINE_METRICS_HOST, config.PIPELINE_METRICS_PORT).catch((error: Error) => {
          log(`pipeline /metrics not served: ${error.message}`);
          return null;
        });
  targets.start();
  return {
    registry: metrics.registry,
    async stop() {
      await targets.stop();
      server?.close();
    },
  };
}
