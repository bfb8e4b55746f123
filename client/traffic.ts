import { Agent, request as httpRequest } from 'node:http';

/**
 * Live traffic for the evaluator pool: the demo uses it to give the canary gates real numbers, tests
 * use it to prove a swap, an outage or a rollout costs no request, benchmarks to load a rollout.
 */
export interface EvaluationReply {
  status: number;
  body: Record<string, unknown>;
}

// node:http with keep-alive: several times cheaper per request than fetch, which matters when tens
// of thousands of requests share a machine with the evaluators they measure.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One `POST /v1/evaluate` to an evaluator at `baseUrl` (e.g. http://127.0.0.1:8181), with the
 * evaluator key `key` when given (README "Evaluator keys").
 */
export function postEvaluation(baseUrl: string, body: unknown, key?: string): Promise<EvaluationReply> {
  const payload = JSON.stringify(body);
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    };
    const request = httpRequest(
      { host: hostname, port, path: '/v1/evaluate', method: 'POST', agent, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          try {
            resolve({
              status: response.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
            });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

export interface TrafficReport {
  ok: number;
  failed: number;
  /** The first few failures, for a readable assertion message. */
  failures: string[];
  /** Answers per snapshot version, so a caller can see the canary share. */
  versions: Map<string, number>;
}

export interface Traffic {
  readonly report: TrafficReport;
  sent(): number;
  stop(): Promise<TrafficReport>;
}

export interface TrafficOptions {
  /** Base URLs of evaluators; requests go to them in turn. */
  urls: readonly string[];
  /** The request body for the i-th request. */
  body: (i: number) => unknown;
  concurrency?: number;
  /** Counts an `ok: false` answer as a failure (CONTROL traffic); otherwise only transport/HTTP errors. */
  requireOk?: boolean;
  /** The evaluator key every request presents, where the lanes require one. */
  key?: string;
}

const KEPT_FAILURES = 5;

/** A closed-loop generator: `concurrency` loops, each sending one request after another. */
export function startTraffic({ urls, body, concurrency = 8, requireOk = true, key }: TrafficOptions): Traffic {
  const report: TrafficReport = { ok: 0, failed: 0, failures: [], versions: new Map() };
  let running = true;
  let sent = 0;
  const fail = (url: string, why: string) => {
    report.failed += 1;
    if (report.failures.length < KEPT_FAILURES) report.failures.push(`${url}: ${why}`);
  };
  const loop = async () => {
    while (running) {
      const i = sent++;
      const url = urls[i % urls.length]!;
      try {
        const { status, body: reply } = await postEvaluation(url, body(i), key);
        if (status !== 200 || (requireOk && reply.ok !== true)) {
          fail(url, `${status} ${JSON.stringify(reply)}`);
          continue;
        }
        report.ok += 1;
        const version = String(reply.snapshot);
        report.versions.set(version, (report.versions.get(version) ?? 0) + 1);
      } catch (error) {
        fail(url, error instanceof Error ? error.message : String(error));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    report,
    sent: () => sent,
    async stop() {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}
