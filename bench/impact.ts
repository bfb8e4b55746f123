import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { compileBundleFiles } from '../activities/compile';
import { readBundleDir } from '../activities/bundle-dir';
import { createPool } from '../activities/connections';
import { hotelOpsInput } from '../examples/hotel-ops-traffic';
import { NO_SIGNING } from '../policy/bundle/signing';
import { loadConfig } from '../policy/config';
import type { ImpactReport } from '../policy/rollout/impact';
import type { impactAnalysis } from '../workflows/impact';
import { randomLane, removeDecisionLogs, setLane, startEvaluator } from '../test/integration/evaluator-harness';
import { startPipeline } from '../test/integration/promotion-harness';
import { connectTestEnvironment } from '../test/support/temporal';

/**
 * `npx tsx bench/impact.ts [--decisions 1000000] [--distinct 5000]`
 *
 * Impact analysis at scale: N decisions of the hotel-ops traffic mix are logged for a fresh lane
 * serving hotel-ops v1 (one INSERT … SELECT over generate_series, --distinct different inputs, spread
 * over the last hour), then the impactAnalysis workflow replays all of them on v2 and v1 on one
 * evaluator process, as `pkgctl impact hotel-ops@2.0.0` does. Prints the logging time, the replay's
 * wall time end to end (workflow start to result) and decisions per second.
 */
const EXAMPLES = path.join(__dirname, '..', 'examples');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { decisions: { type: 'string', default: '1000000' }, distinct: { type: 'string', default: '5000' } },
  });
  const [decisions, distinct] = [Number(values.decisions), Number(values.distinct)];
  const config = loadConfig();
  const pool = createPool(config, 4);
  const env = await connectTestEnvironment();
  const lane = randomLane('dev');
  const pipeline = await startPipeline(env, pool);
  const running = pipeline.worker.run();
  const evaluator = await startEvaluator(lane, { EVALUATOR_TEMPORAL: 'on', EVALUATOR_WORKERS: '1' });
  try {
    const store = async (example: string) => {
      const files = await readBundleDir(path.join(EXAMPLES, example));
      return compileBundleFiles({ pool, opaPath: config.OPA_PATH, signing: NO_SIGNING }, files, null, 'bench');
    };
    const v1 = await store('hotel-ops-v1');
    const v2 = await store('hotel-ops-v2');
    await setLane(pool, lane, { snapshotId: v1.snapshotId });

    let started = performance.now();
    const inputs = Array.from({ length: distinct }, (_, i) => {
      const input = hotelOpsInput(i);
      return { ...input, facts: input.facts ?? [] };
    });
    await pool.query(
      `SELECT pkg_decision_log_partition(d::date) FROM (VALUES (now() - interval '1 hour'), (now())) v(d)`,
    );
    // Chunks of 500 as evaluators write them, each within one hour-old-to-now span of one day.
    await pool.query(
      `INSERT INTO pkg_decision_log_chunks (chunk_id, env, target, region, first_at, last_at, decisions, body)
       SELECT gen_random_uuid(), $1, $2, $3, min(at), max(at), count(*),
              string_agg(json_build_object(
                'decision_id', gen_random_uuid(), 'at', extract(epoch FROM at) * 1000, 'snapshot_version', $4::text,
                'canary', false, 'mode', 'control', 'input', ($5::jsonb) -> (g % $6), 'result', '{"ok": true}'::json,
                'error', null, 'eval_ns', 1000)::text, E'\n' ORDER BY at)
         FROM (SELECT g, now() - ((g / 500) % 3600) * interval '1 second' AS at FROM generate_series(1, $7) AS g) d
        GROUP BY g / 500, (at AT TIME ZONE 'UTC')::date`,
      [lane.env, lane.target, lane.region, v1.version, JSON.stringify(inputs), distinct, decisions],
    );
    const loggedMs = performance.now() - started;

    started = performance.now();
    const report: ImpactReport = await env.client.workflow.execute<typeof impactAnalysis>('impactAnalysis', {
      taskQueue: pipeline.worker.options.taskQueue,
      workflowId: `bench-impact-${randomUUID()}`,
      args: [
        {
          lane,
          bundle: { version: v2.version },
          windowMs: 86_400_000,
          limit: decisions,
          maxExamples: 3,
          actor: 'bench',
        },
      ],
    });
    const replayMs = performance.now() - started;
    console.log(
      `${decisions} logged decisions (${distinct} distinct inputs) written in ${(loggedMs / 1000).toFixed(1)} s\n` +
        `replayed ${report.decisions} on ${report.candidateVersion} vs ${report.baselineVersion} in ${(replayMs / 1000).toFixed(1)} s ` +
        `(${Math.round(report.decisions / (replayMs / 1000))} decisions/s, target ≤ 60 s for 1,000,000): ` +
        `${report.changed} changed (${((100 * report.changed) / Math.max(1, report.decisions)).toFixed(2)}%), ${report.skipped} unparsed`,
    );
  } finally {
    await removeDecisionLogs(pool, lane);
    await evaluator.stop();
    pipeline.worker.shutdown();
    await running;
    await pipeline.stop();
    await pool.end();
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
