import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../policy/config';
import { createPool, createRedis } from '../activities/connections';
import { insertEvaluatorKey } from '../activities/store/evaluator-keys';
import { formatKey, KEY_ID_BYTES, KEY_SECRET_BYTES } from '../policy/access/evaluator-key';
import {
  fixtureInputs,
  randomLane,
  removeTestLanes,
  type RunningEvaluator,
  setLane,
  startEvaluator,
  storeExample,
} from '../test/integration/evaluator-harness';
import { runWrk, wrkScript, type WrkResult } from './wrk';
import { processCpu } from './process-cpu';

/**
 * `npm run bench -- evaluator-keys [--duration 10] [--connections 64] [--rounds 3] [--rate 100000]`
 *
 * What evaluator keys cost: the same evaluator (one process, same snapshot, same inputs with facts
 * supplied, same wrk client) with keys required and rate limiting on — every request carries a key
 * whose bucket (`--rate` per second) is far above what one process serves, so nothing is refused
 * and every request pays the whole check — against keys and limits off. Rounds rotate the order so
 * drift on the machine hits both alike; only the ratio measured in one run means anything on a
 * shared machine. Besides req/s: each evaluator's CPU per request (Linux /proc; steadier than req/s
 * when other work shares the cores), and how many token claims went to Redis (the Lua script's
 * calls, from Redis' own command statistics).
 */
interface Target {
  name: string;
  evaluator: RunningEvaluator;
  script: string;
  runs: WrkResult[];
  cpuSeconds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      rounds: { type: 'string', default: '3' },
      rate: { type: 'string', default: '100000' },
    },
  });
  const config = loadConfig();
  const pool = createPool(config);
  const redis = createRedis(config);
  const work = await mkdtemp(path.join(tmpdir(), 'pkg-bench-'));
  const stops: (() => Promise<void>)[] = [];
  const key = formatKey(randomBytes(KEY_ID_BYTES), randomBytes(KEY_SECRET_BYTES));
  try {
    const snapshot = await storeExample(pool, 'hotel-ops-v1', `bench${Date.now()}`, 'native');
    const bodies = (await fixtureInputs(pool, snapshot.snapshotId)).map((input) => JSON.stringify({ input }));
    const lane = randomLane(snapshot.env);
    await setLane(pool, lane, { snapshotId: snapshot.snapshotId });
    const rate = Number(values.rate);
    await insertEvaluatorKey(pool, key, {
      name: `bench-${key.id}`,
      scope: [[lane.env, lane.target, lane.region]],
      ratePerS: rate,
      burst: rate * 2,
      expiresAt: null,
      actor: 'bench',
    });
    const start = async (name: string, requireKeys: string, headers: Record<string, string>): Promise<Target> => {
      const evaluator = await startEvaluator(lane, {
        EVALUATOR_WORKERS: '1',
        EVALUATOR_SHADOW_RATE: '0',
        EVALUATOR_REQUIRE_KEYS: requireKeys,
      });
      stops.push(() => evaluator.stop());
      const script = path.join(work, `${requireKeys}.lua`);
      await writeFile(script, wrkScript(bodies, headers));
      return { name, evaluator, script, runs: [], cpuSeconds: 0 };
    };
    const keyed = await start('keys required + rate limit', 'true', { authorization: `Bearer ${key.text}` });
    const open = await start('keys and limits off', 'false', {});
    const targets = [keyed, open];

    const wrk = (target: Target, seconds: number) =>
      runWrk(`${target.evaluator.url}/v1/evaluate`, target.script, seconds, Number(values.connections));
    for (const target of targets) await wrk(target, 3);
    const claimsBefore = await scriptCalls(redis);
    const measure = async (target: Target) => {
      const cpuBefore = (await processCpu(target.evaluator.process.pid)).process;
      target.runs.push(await wrk(target, Number(values.duration)));
      target.cpuSeconds += (await processCpu(target.evaluator.process.pid)).process - cpuBefore;
    };
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const target of round % 2 ? [...targets].reverse() : targets) await measure(target);
    }
    const claims = (await scriptCalls(redis)) - claimsBefore;
    report(targets, values, bodies.length, claims);
  } finally {
    for (const stop of stops.reverse()) await stop();
    await pool.query('UPDATE pkg_evaluator_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    await rm(work, { recursive: true, force: true });
    await removeTestLanes(pool);
    await pool.end();
    redis.disconnect();
  }
}

/** Calls of Lua scripts by hash (how ioredis runs a defined command) since Redis started. */
async function scriptCalls(redis: ReturnType<typeof createRedis>): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(stats.match(/^cmdstat_evalsha:calls=(\d+)/m)?.[1] ?? 0);
}

function report(
  targets: Target[],
  values: Record<string, string | undefined>,
  inputCount: number,
  claims: number,
): void {
  const mean = (target: Target, field: keyof WrkResult) =>
    target.runs.reduce((sum, run) => sum + run[field], 0) / target.runs.length;
  const served = (target: Target) => target.runs.reduce((sum, run) => sum + run.requests, 0);
  console.log(
    `wrk -t1 -c${values.connections} ${values.duration}s x ${values.rounds} rounds, ${inputCount} distinct inputs, 1 evaluator process each, loopback; key bucket ${values.rate}/s; means over rounds`,
  );
  for (const target of targets) {
    const rounds = target.runs.map((run) => run.rps.toFixed(0)).join(', ');
    console.log(
      `${target.name.padEnd(28)} ${mean(target, 'rps').toFixed(0).padStart(7)} req/s (rounds ${rounds})   p50 ${mean(target, 'p50ms').toFixed(2)} ms   p99 ${mean(target, 'p99ms').toFixed(2)} ms   evaluator CPU ${((target.cpuSeconds * 1e6) / served(target)).toFixed(1)} µs/request   non-2xx ${mean(target, 'non2xx')}`,
    );
  }
  const [keyed, open] = targets as [Target, Target];
  console.log(`token claims sent to Redis while measured: ${claims} for ${served(keyed)} keyed requests`);
  const ratio = mean(keyed, 'rps') / mean(open, 'rps');
  console.log(
    `req/s keys + limits on / off: ${ratio.toFixed(3)}   target >= 0.95 ${ratio >= 0.95 ? 'met' : 'NOT met'}`,
  );
  // Less exposed to other work on the machine than req/s: what each request cost its own evaluator.
  const cpu = (target: Target) => target.cpuSeconds / served(target);
  console.log(`evaluator CPU per request, on / off: ${(cpu(keyed) / cpu(open)).toFixed(3)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
