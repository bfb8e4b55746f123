import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { compileBundleFiles } from '../activities/compile';
import { createPool } from '../activities/connections';
import { withManifestVersion } from '../policy/bundle/version';
import { NO_SIGNING } from '../policy/bundle/signing';
import { AFTER_PARAM, type CompiledSnapshot } from '../policy/engine/compiled-snapshot';
import { loadConfig } from '../policy/config';
import type { Lane } from '../policy/lane';
import { bundleFiles } from '../test/unit/bundle-builder';
import {
  randomLane,
  removeTestLanes,
  type RunningEvaluator,
  setLane,
  startEvaluator,
  waitFor,
} from '../test/integration/evaluator-harness';
import { generatedCases, generatedSnapshot } from './engines';
import { runWrk, wrkScript, type WrkResult } from './wrk';

/**
 * `npx tsx bench/evaluator-memory.ts [--snapshots 8] [--rules 500] [--soak 300] [--sample 10]`
 *
 * Memory of one evaluator process holding many large snapshots, and whether it grows under load.
 * N bundles of the generated rules of bench/engines.ts (as rules.yaml) are compiled and stored the
 * way the compile activity does; N lanes serve one each. The evaluator (EVALUATOR_WORKERS=1, no
 * shadowing) starts on the first lane, one request per lane makes it load the rest, then wrk
 * (one thread, loopback) rotates requests over all lanes for --soak seconds in slices of --sample
 * seconds, with VmRSS read from /proc after each slice. Facts come in the request, so nothing
 * reads pkg_facts.
 */
const CONNECTIONS = 64;
const MiB = 1024 * 1024;

/** One slice of the soak: `at` its nominal end (seconds of load so far), `t` the clock since the soak began. */
interface Row {
  at: number;
  t: number;
  rss: number;
  slice: WrkResult;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      snapshots: { type: 'string', default: '8' },
      rules: { type: 'string', default: '500' },
      soak: { type: 'string', default: '300' },
      sample: { type: 'string', default: '10' },
    },
  });
  const positive = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer, got ${values[name]}`);
    return n;
  };
  const [count, ruleCount, soak, sample] = [
    positive('snapshots'),
    positive('rules'),
    positive('soak'),
    positive('sample'),
  ];
  const config = loadConfig();
  const pool = createPool(config);
  const work = await mkdtemp(path.join(tmpdir(), 'pkg-bench-memory-'));
  let evaluator: RunningEvaluator | null = null;
  try {
    process.stderr.write(`compiling and storing ${count} snapshots of ${ruleCount} rules...\n`);
    const rulesYaml = rulesFileOf(generatedSnapshot(ruleCount));
    const tag = `mem${Date.now()}`;
    const snapshots: { snapshotId: string; version: string; lane: Lane }[] = [];
    for (let i = 0; i < count; i++) {
      const files = withManifestVersion(
        bundleFiles({ 'rules.yaml': rulesYaml, 'fixtures/vip.yaml': null }),
        `evaluator-memory@1.0.0-${tag}x${i}`,
      );
      const stored = await compileBundleFiles(
        { pool, opaPath: config.OPA_PATH, signing: NO_SIGNING },
        files,
        null,
        'bench-evaluator-memory',
      );
      const lane = randomLane(stored.env);
      await setLane(pool, lane, { snapshotId: stored.snapshotId });
      snapshots.push({ snapshotId: stored.snapshotId, version: stored.version, lane });
    }

    evaluator = await startEvaluator(snapshots[0]!.lane, {
      EVALUATOR_WORKERS: '1',
      EVALUATOR_LOADED_MAX: String(Math.max(2, count)),
      EVALUATOR_SHADOW_RATE: '0',
    });
    const running = evaluator;
    const pid = running.process.pid!;
    const loaded = async (n: number) =>
      waitFor(
        async () => {
          const body = (await fetch(`${running.url}/readyz`).then((r) => r.json())) as { loaded_versions?: string[] };
          return (body.loaded_versions?.length ?? 0) >= n ? body.loaded_versions! : null;
        },
        60_000,
        `${n} loaded version(s)`,
      );
    await loaded(1);
    const rssOne = await rssOf(pid);

    const bodies = generatedCases().flatMap(({ input, facts }) =>
      snapshots.map(({ lane }) => JSON.stringify({ input: { ...input, facts }, ...lane })),
    );
    for (const [i, snapshot] of snapshots.entries()) {
      const response = await fetch(`${running.url}/v1/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[i]!,
      });
      const answer = (await response.json()) as { ok?: boolean; snapshot?: string };
      if (!answer.ok || answer.snapshot !== snapshot.version)
        throw new Error(`lane ${i}: expected ${snapshot.version}, got ${response.status} ${JSON.stringify(answer)}`);
    }
    const versions = await loaded(count);
    const missing = snapshots.filter(({ version }) => !versions.includes(version));
    if (missing.length) throw new Error(`not loaded: ${missing.map((s) => s.version).join(', ')}`);
    const rssAll = await rssOf(pid);

    const script = path.join(work, 'bodies.lua');
    await writeFile(script, wrkScript(bodies));
    const url = `${running.url}/v1/evaluate`;
    const rows: Row[] = [];
    const started = Date.now();
    console.log(
      `${count} snapshots x ${ruleCount} rules, 1 evaluator process (pid ${pid}), wrk -t1 -c${CONNECTIONS}, ${bodies.length} bodies over ${count} lanes, node ${process.version}`,
    );
    console.log(`RSS after startup, 1 snapshot loaded   ${mib(rssOne).padStart(8)} MiB`);
    console.log(
      `RSS with all ${String(count).padEnd(2)} snapshots loaded  ${mib(rssAll).padStart(8)} MiB   (+${mib((rssAll - rssOne) / Math.max(1, count - 1))} MiB per further snapshot)`,
    );
    console.log(`\n  t(s)   RSS MiB     req/s`);
    for (let elapsed = 0; elapsed < soak;) {
      const seconds = Math.min(sample, soak - elapsed);
      const slice = await runWrk(url, script, seconds, CONNECTIONS);
      elapsed += seconds;
      const row = { at: elapsed, t: (Date.now() - started) / 1000, rss: await rssOf(pid), slice };
      rows.push(row);
      console.log(`${row.t.toFixed(0).padStart(6)}  ${mib(row.rss).padStart(8)}  ${slice.rps.toFixed(0).padStart(8)}`);
    }
    summarise(rows, soak, rssAll, await peakOf(pid));
  } finally {
    await evaluator?.stop();
    await rm(work, { recursive: true, force: true });
    await removeTestLanes(pool);
    await pool.end();
  }
}

/**
 * The generated snapshot as the rules.yaml an author would write. Its ORDERS edges run task<k> →
 * task<k+1> modulo 20, so the wrap-around edge (task19 → task0) closes a cycle that bundle
 * validation refuses; only that edge is left out.
 */
function rulesFileOf(snapshot: CompiledSnapshot): string {
  const last = `task${snapshot.subtaskTypes.length - 1}`;
  return stringify({
    subtask_types: snapshot.subtaskTypes.map((type) => ({ name: type.name, default_params: type.defaultParams })),
    rules: snapshot.rules.map((rule) => ({
      name: rule.name,
      priority: rule.priority,
      enabled: rule.enabled,
      conditions: rule.conditions,
      emissions: rule.emissions.filter(
        (emission) => !(emission.relationship !== 'EMITS' && emission.params[AFTER_PARAM] === last),
      ),
    })),
  });
}

/** VmRSS of the process and of any children it forked (none with EVALUATOR_WORKERS=1), in bytes. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const own = Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? NaN) * 1024;
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const sizes = await Promise.all(children.trim().split(/\s+/).filter(Boolean).map(Number).map(rssOf));
  return sizes.reduce((sum, size) => sum + size, own);
}

async function peakOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/^VmHWM:\s+(\d+) kB/m)?.[1] ?? NaN) * 1024;
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);

function summarise(rows: Row[], soak: number, rssAll: number, peak: number): void {
  // A minute at each end; on a soak shorter than two minutes, each half.
  const window = Math.min(60, soak / 2);
  const mean = (list: Row[]) => list.reduce((sum, row) => sum + row.rss, 0) / list.length;
  const pick = (list: Row[], fallback: Row) => (list.length ? list : [fallback]);
  const first = mean(
    pick(
      rows.filter((row) => row.at <= window),
      rows[0]!,
    ),
  );
  const last = mean(
    pick(
      rows.filter((row) => row.at > soak - window),
      rows.at(-1)!,
    ),
  );
  const end = rows.at(-1)!.t;
  const requests = rows.reduce((sum, row) => sum + row.slice.requests, 0);
  const non2xx = rows.reduce((sum, row) => sum + row.slice.non2xx, 0);
  const socketErrors = rows.reduce((sum, row) => sum + row.slice.socketErrors, 0);
  console.log(`\nfirst ${window} s mean RSS ${mib(first).padStart(8)} MiB`);
  console.log(`last ${window} s mean RSS  ${mib(last).padStart(8)} MiB`);
  console.log(
    `growth                ${mib(last - first).padStart(8)} MiB (${(((last - first) / first) * 100).toFixed(1)}%); since all loaded ${mib(rows.at(-1)!.rss - rssAll)} MiB; peak (VmHWM) ${mib(peak)} MiB`,
  );
  console.log(
    `requests ${requests} in ${end.toFixed(0)} s (${(requests / end).toFixed(0)} req/s), non-2xx ${non2xx}, socket errors ${socketErrors}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
