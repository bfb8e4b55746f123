import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import canonicalize from 'canonicalize';
import { loadConfig } from '../policy/config';
import { regoData, REGO_DATA_ROOT } from '../policy/rego/data';
import { decisionOf } from '../policy/rego/decision';
import type { Decision } from '../policy/engine/evaluation';
import { createPool } from '../activities/connections';
import {
  fixtureInputs,
  freePort,
  randomLane,
  setLane,
  startEvaluator,
  storeExample,
  waitFor,
} from '../test/integration/evaluator-harness';
import { runWrk, wrkScript, type WrkResult } from './wrk';

/**
 * `npm run bench -- evaluator [--duration 10] [--connections 64] [--rounds 3]`
 *
 * Throughput and latency of `POST /v1/evaluate`, in one run, with the same inputs (the bundle's
 * fixture inputs, facts supplied so nothing reads pkg_facts) and the same load client (wrk, one
 * thread, loopback), against two references: the floor (bench/http-floor.ts, a bare node:http server
 * answering a constant of the evaluator's typical response size) and `opa run --server` serving the
 * same compiled Rego. The evaluator runs as one process (native and wasm engines) and as one process
 * per core behind one port. Rounds alternate the targets so drift on the machine hits all alike.
 * Before measuring, every input is sent to each evaluator and to OPA and the decisions compared.
 */
const cores = availableParallelism();

const NAMES = {
  floor: 'node:http floor',
  single: 'evaluator, 1 process',
  host: `evaluator, ${cores} processes`,
  wasm: 'evaluator wasm, 1 process',
  opa: 'opa run --server',
} as const;

interface Target {
  name: string;
  url: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const config = loadConfig();
  const pool = createPool(config);
  const work = await mkdtemp(path.join(tmpdir(), 'pkg-bench-'));
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const tag = `bench${Date.now()}`;
    const native = await storeExample(pool, 'hotel-ops-v1', `${tag}n`, 'native');
    const wasm = await storeExample(pool, 'hotel-ops-v1', `${tag}w`, 'wasm');
    const inputs = await fixtureInputs(pool, native.snapshotId);

    const data = regoData(native.compiled);
    const opa = await startOpa(config.OPA_PATH, work, native.rego, data);
    stops.push(opa.stop);
    const decide = (answer: unknown) => decisionOf(answer, data[REGO_DATA_ROOT]!.rules, native.compiled.version);
    const targets: Target[] = [];
    const evaluatorTarget = async (name: string, snapshot: typeof native, env: Record<string, string>) => {
      const lane = randomLane(snapshot.env);
      await setLane(pool, lane, { snapshotId: snapshot.snapshotId });
      const evaluator = await startEvaluator(lane, { EVALUATOR_SHADOW_RATE: '0', ...env });
      stops.push(() => evaluator.stop());
      const url = `${evaluator.url}/v1/evaluate`;
      await compareDecisions(inputs, url, opa.url, decide);
      targets.push({ name, url });
      return url;
    };
    const single = await evaluatorTarget(NAMES.single, native, { EVALUATOR_WORKERS: '1' });
    await evaluatorTarget(NAMES.host, native, { EVALUATOR_WORKERS: String(cores) });
    await evaluatorTarget(NAMES.wasm, wasm, { EVALUATOR_WORKERS: '1' });
    targets.push({ name: NAMES.opa, url: opa.url });
    const floor = await startFloor(work, await typicalAnswer(inputs, single));
    stops.push(floor.stop);
    targets.unshift({ name: NAMES.floor, url: floor.url });

    const script = path.join(work, 'bodies.lua');
    await writeFile(script, wrkScript(inputs.map((input) => JSON.stringify({ input }))));
    const wrk = (url: string, seconds: string) => runWrk(url, script, Number(seconds), Number(values.connections));
    for (const target of targets) await wrk(target.url, '3');
    const results = new Map<string, WrkResult[]>(targets.map((target) => [target.name, []]));
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const target of targets) results.get(target.name)!.push(await wrk(target.url, values.duration));
    }
    report(results, inputs.length, values);
  } finally {
    for (const stop of stops.reverse()) await stop();
    await rm(work, { recursive: true, force: true });
    await pool.end();
  }
}

/** The same Rego the wasm artifact was built from, plus the rule table the wasm engine loads as data. */
async function startOpa(opaPath: string, work: string, rego: Map<string, string>, data: Record<string, unknown>) {
  const dir = path.join(work, 'rego');
  for (const [file, text] of rego) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  await writeFile(path.join(dir, 'data.json'), JSON.stringify(data));
  const port = await freePort();
  const child = spawn(opaPath, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', dir], {
    stdio: 'ignore',
  });
  await waitFor(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/health`)
        .then((r) => r.ok)
        .catch(() => false)) || null,
    20_000,
    'opa to listen',
  );
  return { url: `http://127.0.0.1:${port}/v1/data/pkg/result`, stop: () => void child.kill('SIGTERM') };
}

/** The evaluator's answer closest to the mean size over the inputs, for the floor to send. */
async function typicalAnswer(inputs: unknown[], url: string): Promise<string> {
  const answers: string[] = [];
  for (const input of inputs) answers.push(await post(url, input).then((r) => r.text()));
  const mean = answers.reduce((sum, text) => sum + text.length, 0) / answers.length;
  return answers.reduce((best, text) => (Math.abs(text.length - mean) < Math.abs(best.length - mean) ? text : best));
}

async function startFloor(work: string, answer: string) {
  const file = path.join(work, 'floor-answer.json');
  await writeFile(file, answer);
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'http-floor.ts')], {
    env: { ...process.env, FLOOR_PORT: String(port), FLOOR_BODY: file },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}/v1/evaluate`;
  await waitFor(
    async () =>
      (await post(url, {})
        .then((r) => r.ok)
        .catch(() => false)) || null,
    20_000,
    'floor',
  );
  return { url, stop: () => void child.kill('SIGTERM') };
}

const post = (url: string, input: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });

/** Same policy, same answers: the comparison is only fair if both decide identically. */
/** OPA answers as the generated Rego does (by number into the data document); `decide` reads that as ARCHITECTURE.md §4 lists. */
async function compareDecisions(
  inputs: unknown[],
  evaluatorUrl: string,
  opaUrl: string,
  decide: (answer: unknown) => Decision,
): Promise<void> {
  const json = (url: string, input: unknown) => post(url, input).then((r) => r.json());
  for (const [i, input] of inputs.entries()) {
    const ours = (await json(evaluatorUrl, input)) as { ok: boolean; subtasks: unknown; dag: unknown; rules: unknown };
    const theirs = decide(((await json(opaUrl, input)) as { result: unknown }).result);
    const same =
      canonicalize(withoutRuleIds([ours.subtasks, ours.dag, ours.rules])) ===
      canonicalize(withoutRuleIds([theirs.subtasks, theirs.dag, theirs.rules]));
    if (!ours.ok || !same)
      throw new Error(
        `input ${i}: evaluator and OPA decide differently:\n${JSON.stringify(ours)}\n${JSON.stringify(theirs)}`,
      );
  }
}

/** Rule ids hash the snapshot version; the wasm-engine snapshot is stored under a version of its own. */
function withoutRuleIds(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, inner: unknown) => (key === 'rule_id' || key === 'rule' ? undefined : inner)),
  );
}

function report(
  results: Map<string, WrkResult[]>,
  inputCount: number,
  values: Record<string, string | undefined>,
): void {
  const mean = (name: string, key: keyof WrkResult) => {
    const list = results.get(name)!;
    return list.reduce((sum, r) => sum + r[key], 0) / list.length;
  };
  const range = (name: string) => {
    const rps = results.get(name)!.map((r) => r.rps);
    return `${Math.min(...rps).toFixed(0)}-${Math.max(...rps).toFixed(0)}`;
  };
  console.log(
    `wrk -t1 -c${values.connections} ${values.duration}s x ${values.rounds} rounds, ${inputCount} distinct inputs, ${cores} cores, loopback; means (req/s range) over rounds`,
  );
  for (const name of results.keys()) {
    console.log(
      `${name.padEnd(28)} ${mean(name, 'rps').toFixed(0).padStart(7)} req/s (${range(name).padStart(11)})   p50 ${mean(name, 'p50ms').toFixed(2).padStart(6)} ms   p99 ${mean(name, 'p99ms').toFixed(2).padStart(7)} ms   non-2xx ${mean(name, 'non2xx')} socket errors ${mean(name, 'socketErrors')}`,
    );
  }
  const ratio = (a: string, b: string, key: keyof WrkResult) => mean(a, key) / mean(b, key);
  const line = (label: string, value: number, target: string, met: boolean) =>
    console.log(
      `${label.padEnd(44)} ${value.toFixed(2).padStart(6)}   target ${target.padEnd(6)} ${met ? 'met' : 'NOT met'}`,
    );
  const single = ratio(NAMES.single, NAMES.floor, 'rps');
  const singleP99 = ratio(NAMES.single, NAMES.opa, 'p99ms');
  const host = ratio(NAMES.host, NAMES.opa, 'rps');
  const hostP99 = ratio(NAMES.host, NAMES.opa, 'p99ms');
  line('1 process req/s / floor req/s', single, '>= 0.80', single >= 0.8);
  line("1 process p99 / OPA's p99", singleP99, '<= 1', singleP99 <= 1);
  line(`${cores} processes req/s / OPA req/s`, host, '>= 2', host >= 2);
  line(`${cores} processes p99 / OPA's p99`, hostP99, '<= 1', hostP99 <= 1);
  line('1 process req/s / OPA req/s', ratio(NAMES.single, NAMES.opa, 'rps'), '', true);
  line('wasm 1 process req/s / OPA req/s', ratio(NAMES.wasm, NAMES.opa, 'rps'), '', true);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
