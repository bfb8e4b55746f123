import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../policy/config';
import { createPool } from '../activities/connections';
import {
  randomLane,
  readyz,
  setLane,
  startEvaluator,
  storeExample,
  type RunningEvaluator,
} from '../test/integration/evaluator-harness';
import { runWrk, wrkScript, type WrkResult } from './wrk';

/**
 * `npm run bench -- decision-log [--duration 10] [--connections 64] [--rounds 3]`
 *
 * What decision logging costs: one evaluator process with logging off and one with every decision
 * logged (DECISION_LOG_SAMPLE=1, default mask, buffer and flush), same snapshot, same inputs (the
 * bundle's fixtures, facts supplied), same wrk client, rounds alternating so drift on the machine
 * hits both alike. Besides req/s it prints what the logging evaluator wrote and dropped while
 * measured: a ratio bought by dropping entries would show there.
 */
interface Target {
  name: string;
  evaluator: RunningEvaluator;
}

interface LogCounts {
  written: number;
  buffer_full: number;
  write_failed: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const pool = createPool(loadConfig());
  const work = await mkdtemp(path.join(tmpdir(), 'pkg-bench-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const snapshot = await storeExample(pool, 'hotel-ops-v1', `bench${Date.now()}`, 'native');
    const { rows } = await pool.query<{ input: Record<string, unknown> }>(
      'SELECT input FROM pkg_validation_fixtures WHERE snapshot_id = $1 ORDER BY name',
      [snapshot.snapshotId],
    );
    const inputs = rows.map(({ input }) => ({ ...input, facts: input.facts ?? [] }));
    const start = async (name: string, sample: string): Promise<Target> => {
      const lane = randomLane(snapshot.env);
      await setLane(pool, lane, { snapshotId: snapshot.snapshotId });
      const evaluator = await startEvaluator(lane, {
        EVALUATOR_WORKERS: '1',
        EVALUATOR_SHADOW_RATE: '0',
        DECISION_LOG_SAMPLE: sample,
      });
      stops.push(() => evaluator.stop());
      return { name, evaluator };
    };
    const off = await start('decision logging off', '0');
    const on = await start('decision logging at 100%', '1');

    const script = path.join(work, 'bodies.lua');
    await writeFile(script, wrkScript(inputs.map((input) => JSON.stringify({ input }))));
    const wrk = (target: Target, seconds: number) =>
      runWrk(`${target.evaluator.url}/v1/evaluate`, script, seconds, Number(values.connections));
    for (const target of [off, on]) await wrk(target, 3);
    // Let the warm-up's entries reach the table, so the counts below cover the measured rounds only.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const before = await logCounts(on.evaluator);
    const results = new Map<string, WrkResult[]>([
      [off.name, []],
      [on.name, []],
    ]);
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = round % 2 === 0 ? [off, on] : [on, off];
      for (const target of order) results.get(target.name)!.push(await wrk(target, Number(values.duration)));
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await logCounts(on.evaluator);
    report(results, values, inputs.length, {
      written: after.written - before.written,
      buffer_full: after.buffer_full - before.buffer_full,
      write_failed: after.write_failed - before.write_failed,
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
    await rm(work, { recursive: true, force: true });
    await pool.end();
  }
}

async function logCounts(evaluator: RunningEvaluator): Promise<LogCounts> {
  const status = (await readyz(evaluator)).body.decision_log as {
    written: number;
    dropped: { buffer_full: number; write_failed: number };
  };
  return { written: status.written, ...status.dropped };
}

function report(
  results: Map<string, WrkResult[]>,
  values: Record<string, string | undefined>,
  inputCount: number,
  logged: LogCounts,
): void {
  const [offName, onName] = [...results.keys()] as [string, string];
  const mean = (name: string, key: keyof WrkResult) => {
    const list = results.get(name)!;
    return list.reduce((sum, result) => sum + result[key], 0) / list.length;
  };
  console.log(
    `wrk -t1 -c${values.connections} ${values.duration}s x ${values.rounds} rounds, ${inputCount} distinct inputs, 1 evaluator process each, loopback; means over rounds`,
  );
  for (const name of results.keys()) {
    const rps = results.get(name)!.map((result) => result.rps.toFixed(0));
    console.log(
      `${name.padEnd(26)} ${mean(name, 'rps').toFixed(0).padStart(7)} req/s (rounds ${rps.join(', ')})   p50 ${mean(name, 'p50ms').toFixed(2)} ms   p99 ${mean(name, 'p99ms').toFixed(2)} ms   non-2xx ${mean(name, 'non2xx')}`,
    );
  }
  const served = results.get(onName)!.reduce((sum, result) => sum + result.requests, 0);
  console.log(
    `logged while measured: ${logged.written} rows written, ${logged.buffer_full} dropped (buffer full), ${logged.write_failed} dropped (write failed), of ${served} requests`,
  );
  const ratio = mean(onName, 'rps') / mean(offName, 'rps');
  console.log(`req/s logging at 100% / off: ${ratio.toFixed(3)}   target >= 0.90 ${ratio >= 0.9 ? 'met' : 'NOT met'}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
