/**
 * A closed-loop traffic generator for the evaluator pool: `concurrency` loops, each sending one
 * `POST /v1/evaluate` after another to the evaluators in turn. Used by the demo to give the canary
 * gates real numbers, and by tests that need live traffic during a swap or a rollout.
 */
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
  /** Base URLs of evaluators, e.g. http://127.0.0.1:8181. */
  urls: readonly string[];
  /** The request body for the i-th request. */
  body: (i: number) => unknown;
  concurrency?: number;
  /** Counts an `ok: false` answer as a failure (CONTROL traffic); otherwise only transport/HTTP errors. */
  requireOk?: boolean;
}

const KEPT_FAILURES = 5;

export function startTraffic({ urls, body, concurrency = 8, requireOk = true }: TrafficOptions): Traffic {
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
        const response = await fetch(`${url}/v1/evaluate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body(i)),
        });
        const reply = (await response.json()) as { ok?: boolean; snapshot?: string };
        if (response.status !== 200 || (requireOk && reply.ok !== true)) {
          fail(url, `${response.status} ${JSON.stringify(reply)}`);
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
