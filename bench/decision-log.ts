import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../policy/config';
import type { Lane } from '../policy/lane';
import { createPool } from '../activities/connections';
import {
  randomLane,
  readyz,
  removeDecisionLogs,
  removeTestLanes,
  type RunningEvaluator,
  setLane,
  startEvaluator,
  storeExample,
} from '../test/integration/evaluator-harness';
import { runWrk, wrkScript, type WrkResult } from './wrk';
import { processCpu, type ProcessCpu } from './process-cpu';

/**
 * `npm run bench -- decision-log [--duration 10] [--connections 64] [--rounds 3]`
 *
 * What decision logging costs: one evaluator process each with logging off, at 10% and at 100%
 * (DECISION_LOG_SAMPLE; default mask, buffer and flush), same snapshot, same inputs (the bundle's
 * fixtures, facts supplied), same wrk client, rounds rotating the order so drift on the machine
 * hits all alike. Besides req/s it prints each evaluator's own CPU per request (Linux /proc), all
 * threads and the main thread that answers requests alone (the log writer has a thread of its
 * own), which separates what logging costs the request path, the writer and Postgres competing
 * for the same cores, and what
 * the logging evaluators wrote and dropped while measured: a ratio bought by dropping entries
 * would show there.
 */
interface Target {
  name: string;
  evaluator: RunningEvaluator;
  runs: WrkResult[];
  /** The evaluator's CPU while measured: the whole process, and the main thread that answers requests. */
  cpu: ProcessCpu;
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
  const lanes: Lane[] = [];
  try {
    const snapshot = await storeExample(pool, 'hotel-ops-v1', `bench${Date.now()}`, 'native');
    const { rows } = await pool.query<{ input: Record<string, unknown> }>(
      'SELECT input FROM pkg_validation_fixtures WHERE snapshot_uuid = $1 ORDER BY name',
      [snapshot.snapshotId],
    );
    const inputs = rows.map(({ input }) => ({ ...input, facts: input.facts ?? [] }));
    const start = async (name: string, sample: string): Promise<Target> => {
      const lane = randomLane(snapshot.env);
      lanes.push(lane);
      await setLane(pool, lane, { snapshotId: snapshot.snapshotId });
      const evaluator = await startEvaluator(lane, {
        EVALUATOR_WORKERS: '1',
        EVALUATOR_SHADOW_RATE: '0',
        DECISION_LOG_SAMPLE: sample,
      });
      stops.push(() => evaluator.stop());
      return { name, evaluator, runs: [], cpu: { process: 0, main: 0 } };
    };
    const targets = [
      await start('decision logging off', '0'),
      await start('decision logging at 10%', '0.1'),
      await start('decision logging at 100%', '1'),
    ];
    const logging = targets.slice(1);

    const script = path.join(work, 'bodies.lua');
    await writeFile(script, wrkScript(inputs.map((input) => JSON.stringify({ input }))));
    const wrk = (target: Target, seconds: number) =>
      runWrk(`${target.evaluator.url}/v1/evaluate`, script, seconds, Number(values.connections));
    for (const target of targets) await wrk(target, 3);
    // Let the warm-up's entries reach the table, so the counts below cover the measured rounds only.
    await settle();
    const before = await Promise.all(logging.map((target) => logCounts(target.evaluator)));
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)];
      for (const target of order) {
        const cpuBefore = await processCpu(target.evaluator.process.pid);
        target.runs.push(await wrk(target, Number(values.duration)));
        const cpuAfter = await processCpu(target.evaluator.process.pid);
        target.cpu.process += cpuAfter.process - cpuBefore.process;
        target.cpu.main += cpuAfter.main - cpuBefore.main;
      }
    }
    await settle();
    const after = await Promise.all(logging.map((target) => logCounts(target.evaluator)));
    report(targets, values, inputs.length);
    logging.forEach((target, i) => {
      const served = target.runs.reduce((sum, run) => sum + run.requests, 0);
      const [was, now] = [before[i]!, after[i]!];
      console.log(
        `${target.name}: ${now.written - was.written} rows written, ${now.buffer_full - was.buffer_full} dropped (buffer full), ${now.write_failed - was.write_failed} dropped (write failed), of ${served} requests`,
      );
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
    await rm(work, { recursive: true, force: true });
    for (const lane of lanes) await removeDecisionLogs(pool, lane);
    await removeTestLanes(pool);
    await pool.end();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 2000));

async function logCounts(evaluator: RunningEvaluator): Promise<LogCounts> {
  const status = (await readyz(evaluator)).body.decision_log as {
    written: number;
    dropped: { buffer_full: number; write_failed: number };
  };
  return { written: status.written, ...status.dropped };
}

function report(targets: Target[], values: Record<string, string | undefined>, inputCount: number): void {
  const mean = (target: Target, key: keyof WrkResult) =>
    target.runs.reduce((sum, run) => sum + run[key], 0) / target.runs.length;
  console.log(
    `wrk -t1 -c${values.connections} ${values.duration}s x ${values.rounds} rounds, ${inputCount} distinct inputs, 1 evaluator process each, loopback; means over rounds`,
  );
  for (const target of targets) {
    const served = target.runs.reduce((sum, run) => sum + run.requests, 0);
    const rounds = target.runs.map((run) => run.rps.toFixed(0)).join(', ');
    console.log(
      `${target.name.padEnd(26)} ${mean(target, 'rps').toFixed(0).padStart(7)} req/s (rounds ${rounds})   p50 ${mean(target, 'p50ms').toFixed(2)} ms   p99 ${mean(target, 'p99ms').toFixed(2)} ms   evaluator CPU ${((target.cpu.process * 1e6) / served).toFixed(1)} µs/request (main thread ${((target.cpu.main * 1e6) / served).toFixed(1)})   non-2xx ${mean(target, 'non2xx')}`,
    );
  }
  const [off, tenth, all] = targets as [Target, Target, Target];
  const tenthRatio = mean(tenth, 'rps') / mean(off, 'rps');
  const ratio = mean(all, 'rps') / mean(off, 'rps');
  console.log(`req/s logging at 10% / off:  ${tenthRatio.toFixed(3)}`);
  console.log(`req/s logging at 100% / off: ${ratio.toFixed(3)}   target >= 0.90 ${ratio >= 0.9 ? 'met' : 'NOT met'}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
