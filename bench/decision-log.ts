import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../policy/config';
import type { Lane } from '../policy/lane';
import { createPool } from '../activities/connections';
import {
  fixtureInputs,
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
import { median } from './statistics';

/**
 * `npm run bench -- decision-log [--duration 10] [--connections 64] [--rounds 3]`
 *
 * What decision logging costs: one evaluator process each with logging off, at 10% and at 100%
 * (DECISION_LOG_SAMPLE; default mask, buffer and flush), same snapshot, same inputs (the bundle's
 * fixtures, facts supplied), same wrk client, rounds rotating the order so drift on the machine
 * hits all alike. Each round starts its three processes afresh: two processes of the same build
 * and settings differed by up to 3 µs a request on the main thread (about 8% of req/s) for as long
 * as they ran, so with one process per setting for the whole run the ratio partly measured which
 * process drew the better lot. Besides req/s it prints each evaluator's own CPU per request (Linux
 * /proc), all threads and the main thread that answers requests alone (the log writer has a thread
 * of its own), which separates what logging costs the request path, the writer and Postgres
 * competing for the same cores, and what the logging evaluators wrote and dropped while measured:
 * a ratio bought by dropping entries would show there.
 */
interface Target {
  name: string;
  sample: string;
  lane: Lane;
  runs: WrkResult[];
  /** The evaluator's CPU while measured: the whole process, and the main thread that answers requests. */
  cpu: ProcessCpu;
  /** What its processes wrote and dropped while measured, summed over rounds. */
  log: LogCounts;
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
  const running = new Set<RunningEvaluator>();
  const targets: Target[] = [];
  try {
    const snapshot = await storeExample(pool, 'hotel-ops-v1', `bench${Date.now()}`, 'native');
    const inputs = await fixtureInputs(pool, snapshot.snapshotId);
    for (const [name, sample] of [
      ['decision logging off', '0'],
      ['decision logging at 10%', '0.1'],
      ['decision logging at 100%', '1'],
    ] as const) {
      const lane = randomLane(snapshot.env);
      targets.push({ name, sample, lane, runs: [], cpu: { process: 0, main: 0 }, log: noCounts() });
      await setLane(pool, lane, { snapshotId: snapshot.snapshotId });
    }

    const script = path.join(work, 'bodies.lua');
    await writeFile(script, wrkScript(inputs.map((input) => JSON.stringify({ input }))));
    const wrk = (evaluator: RunningEvaluator, seconds: number) =>
      runWrk(`${evaluator.url}/v1/evaluate`, script, seconds, Number(values.connections));
    const start = async (target: Target) => {
      const evaluator = await startEvaluator(target.lane, {
        EVALUATOR_WORKERS: '1',
        EVALUATOR_SHADOW_RATE: '0',
        DECISION_LOG_SAMPLE: target.sample,
      });
      running.add(evaluator);
      return evaluator;
    };
    const logged = (target: Target) => target.sample !== '0';
    for (let round = 0; round < Number(values.rounds); round++) {
      const evaluators = new Map<Target, RunningEvaluator>();
      for (const target of targets) evaluators.set(target, await start(target));
      for (const evaluator of evaluators.values()) await wrk(evaluator, 3);
      // Let the warm-up's entries reach the table, so the counts cover the measured runs only.
      await settle();
      const before = new Map<Target, LogCounts>();
      for (const target of targets.filter(logged)) before.set(target, await logCounts(evaluators.get(target)!));
      const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)];
      for (const target of order) {
        const evaluator = evaluators.get(target)!;
        const cpuBefore = await processCpu(evaluator.process.pid);
        target.runs.push(await wrk(evaluator, Number(values.duration)));
        const cpuAfter = await processCpu(evaluator.process.pid);
        target.cpu.process += cpuAfter.process - cpuBefore.process;
        target.cpu.main += cpuAfter.main - cpuBefore.main;
      }
      await settle();
      for (const [target, was] of before) {
        const now = await logCounts(evaluators.get(target)!);
        for (const key of ['written', 'buffer_full', 'write_failed'] as const) target.log[key] += now[key] - was[key];
      }
      for (const evaluator of evaluators.values()) {
        await evaluator.stop();
        running.delete(evaluator);
      }
    }
    report(targets, values, inputs.length);
    for (const target of targets.filter(logged)) {
      const served = target.runs.reduce((sum, run) => sum + run.requests, 0);
      console.log(
        `${target.name}: ${target.log.written} rows written, ${target.log.buffer_full} dropped (buffer full), ${target.log.write_failed} dropped (write failed), of ${served} requests wrk counted (the ${values.connections} in flight as a run ends are answered and logged, not counted)`,
      );
    }
  } finally {
    for (const evaluator of running) await evaluator.stop();
    await rm(work, { recursive: true, force: true });
    for (const target of targets) await removeDecisionLogs(pool, target.lane);
    await removeTestLanes(pool);
    await pool.end();
  }
}

const noCounts = (): LogCounts => ({ written: 0, buffer_full: 0, write_failed: 0 });

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
    `wrk -t1 -c${values.connections} ${values.duration}s x ${values.rounds} rounds, ${inputCount} distinct inputs, 1 evaluator process each, started afresh every round, loopback; means over rounds`,
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
  console.log(`req/s logging at 10% / off:  ${tenthRatio.toFixed(3)}   ${roundRatios(tenth, off)}`);
  console.log(
    `req/s logging at 100% / off: ${ratio.toFixed(3)}   ${roundRatios(all, off)}   target >= 0.90 ${ratio >= 0.9 ? 'met' : 'NOT met'}`,
  );
}

/**
 * The ratio within each round, where both ran on the same fresh start, seconds apart: the machine's
 * speed drifted by a third within the hour, so their spread shows how far the means can be trusted.
 */
function roundRatios(target: Target, off: Target): string {
  const ratios = target.runs.map((run, round) => run.rps / off.runs[round]!.rps);
  return `(rounds ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}, median ${median(ratios).toFixed(3)})`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
