import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigOrExit } from '../policy/config';
import { postEvaluation, startTraffic } from '../client/traffic';
import { hotelOpsRequest } from '../examples/hotel-ops-traffic';
import { laneName, type Lane } from '../policy/lane';
import { semanticMemoryStep } from './demo-semantic';

/**
 * `npm run demo [-- --keep]`: the whole lifecycle for real, with auth on. On the services scripts/demo
 * brought up (this file runs on any running services named by the usual variables), it starts the
 * control-plane API, the pipeline worker and two evaluators that require evaluator keys on a fresh
 * lane. As CI would, the bootstrap admin creates a deployer token through the API, and a key for the
 * live traffic. Then through pkgctl with only PKG_API_URL and PKG_TOKEN: bootstraps the lane with
 * hotel-ops v1, promotes the good v2 through the full ramp, shows the impact of the broken v3 on the
 * logged traffic, and watches the replay stage reject v3 before any live request reaches it; then
 * shows semantic memory changing an ADVISORY decision (demo-semantic.ts). Exits 0 when every outcome
 * is as expected.
 */
const ROOT = path.join(__dirname, '..');
const DEMO_DIR = path.join(ROOT, '.data', 'demo');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const PKGCTL = path.join(ROOT, 'bin', 'pkgctl');
// Kept by scripts/up (BOOTSTRAP_TOKEN_FILE in scripts/services.sh).
const BOOTSTRAP_TOKEN_FILE = path.join(ROOT, '.data', 'bootstrap-admin.token');
const BAKE = '10s';
// dev's own plan is one 50% step; the demo asks for the full ramp, which only tightens it.
const FULL_RAMP = '1,5,25,50,100';
const keep = process.argv.includes('--keep');

interface Stage {
  title: string;
  bundle: string;
  args: string[];
  expect: 'promoted' | 'rolled_back' | 'rejected';
}

const say = (line: string) => process.stdout.write(`${line}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function startProcess(name: string, script: string, env: Record<string, string>): ChildProcess {
  const log = openSync(path.join(DEMO_DIR, `${name}.log`), 'w');
  const child = spawn(TSX, [script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  child.on('exit', (code, signal) => {
    if (!stopping) say(`!! ${name} exited (${signal ?? code}); see .data/demo/${name}.log`);
  });
  return child;
}

/** An evaluator process for `lane` that requires evaluator keys; its URL once healthy. */
async function startEvaluator(name: string, lane: Lane, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  children.push(
    startProcess(name, 'worker/evaluator/main.ts', {
      EVALUATOR_ENV: lane.env,
      EVALUATOR_TARGET: lane.target,
      EVALUATOR_REGION: lane.region,
      EVALUATOR_REQUIRE_KEYS: 'true',
      EVALUATOR_PORT: String(port),
      ...env,
    }),
  );
  writeFileSync(path.join(DEMO_DIR, 'pids'), children.map((c) => c.pid).join('\n'));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, 60);
  return url;
}

async function waitHealthy(url: string, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer /healthz within ${seconds}s (see .data/demo/*.log)`);
}

/** Runs `pkgctl promote --wait --json`, echoing its progress lines, and returns its JSON result. */
function promote(stage: Stage, laneArgs: string[], api: ApiAccess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const args = ['promote', path.join(ROOT, 'examples', stage.bundle), ...laneArgs, ...stage.args, '--wait', '--json'];
    const child = spawn(PKGCTL, args, {
      cwd: ROOT,
      env: { ...process.env, ...api },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let last = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        if (line !== last) say(`   ${line}`);
        last = line;
      }
    });
    child.on('exit', (code) => {
      try {
        resolve({ exitCode: code, ...(JSON.parse(stdout) as Record<string, unknown>) });
      } catch {
        reject(new Error(`pkgctl promote ${stage.bundle} exited ${code} without a JSON result: ${stdout.trim()}`));
      }
    });
  });
}

function printVerdicts(result: Record<string, unknown>): void {
  const verdicts = (result.verdicts ?? []) as { step?: number; percent?: number; verdict?: string; message?: string }[];
  for (const v of verdicts) say(`   step ${v.percent ?? '?'}%: ${v.verdict} — ${v.message ?? ''}`);
}

const laneArgsOf = (lane: Lane) => ['--env', lane.env, '--target', lane.target, '--region', lane.region];

/** What a CI job has: the API's address and a token. */
interface ApiAccess {
  PKG_API_URL: string;
  PKG_TOKEN: string;
}

function pkgctl(api: ApiAccess, ...args: string[]): string {
  const run = spawnSync(PKGCTL, args, { cwd: ROOT, env: { ...process.env, ...api }, encoding: 'utf8' });
  return (run.stdout + run.stderr).trim();
}

/** `pkgctl … --json` that must succeed: its JSON result. */
function pkgctlJson<T>(api: ApiAccess, ...args: string[]): T {
  const run = spawnSync(PKGCTL, [...args, '--json'], { cwd: ROOT, env: { ...process.env, ...api }, encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(`pkgctl ${args.slice(0, 2).join(' ')} exited ${run.status}: ${run.stdout}${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

function readBootstrapToken(): string {
  try {
    return readFileSync(BOOTSTRAP_TOKEN_FILE, 'utf8').trim();
  } catch {
    throw new Error(`no bootstrap admin token in ${BOOTSTRAP_TOKEN_FILE}: scripts/up keeps one (npm run up)`);
  }
}

/** What the bootstrap admin (scripts/up keeps its token) may do through the API. */
const adminAccess = (url: string): ApiAccess => ({ PKG_API_URL: url, PKG_TOKEN: readBootstrapToken() });

/** The bootstrap admin makes the lane's evaluator key through the API; its secret. */
function createTrafficKey(url: string, lane: Lane): string {
  const name = `demo-traffic-${lane.target}-${lane.region}`;
  const scope = laneName(lane);
  const created = pkgctlJson<{ key: string }>(
    adminAccess(url),
    'evaluator-key',
    'create',
    '--name',
    name,
    '--scope',
    scope,
    '--rate',
    '100000',
    '--expires-in',
    '1d',
  );
  say(`== evaluator key ${name} (lane ${scope}) created by the bootstrap admin through the API`);
  return created.key;
}

/** The bootstrap admin makes a token a CI job (or a policy author) would hold, through the API. */
function createToken(url: string, lane: Lane, role: 'deployer' | 'author'): ApiAccess {
  const name = `demo-${role}-${lane.region}`;
  const created = pkgctlJson<{ token: string }>(
    adminAccess(url),
    'token',
    'create',
    '--name',
    name,
    '--role',
    role,
    '--env',
    lane.env,
    '--expires-in',
    '1d',
  );
  say(`== token ${name} (${role} in ${lane.env}) created by the bootstrap admin through the API`);
  return { PKG_API_URL: url, PKG_TOKEN: created.token };
}

/** With keys required, a request without one is refused: shown once, so nobody wonders whether auth is on. */
async function showKeyRequired(url: string, lane: Lane): Promise<void> {
  const { status } = await postEvaluation(url, hotelOpsRequest(0, lane));
  if (status !== 401) throw new Error(`an evaluator answered ${status} to a request without a key (expected 401)`);
  say('== evaluators require keys: a request without one is answered 401; the traffic presents its key');
}

let stopping = false;
const children: ChildProcess[] = [];

async function main(): Promise<number> {
  const config = loadConfigOrExit();
  mkdirSync(DEMO_DIR, { recursive: true });
  const lane: Lane = { env: 'dev', target: 'demo', region: `run-${Date.now().toString(36)}` };
  const laneArgs = laneArgsOf(lane);
  const apiPort = await freePort();
  say(`\n== lane ${laneName(lane)}: control-plane API on :${apiPort}, pipeline worker, two evaluators`);
  children.push(startProcess('api', 'worker/api/main.ts', { PKG_API_PORT: String(apiPort) }));
  children.push(startProcess('pipeline-worker', 'worker/pipeline.ts', {}));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  // Every decision is logged, so each candidate is first replayed on what the lane really decided.
  const [urls] = await Promise.all([
    Promise.all([1, 2].map((i) => startEvaluator(`evaluator-${i}`, lane, { DECISION_LOG_SAMPLE: '1' }))),
    waitHealthy(apiUrl, 60),
  ]);
  say(`   evaluators at ${urls.join(', ')}`);
  // Deploying and analysing are different roles: the CI job promotes, the author runs the impact analysis.
  const api = createToken(apiUrl, lane, 'deployer');
  const author = createToken(apiUrl, lane, 'author');
  const key = createTrafficKey(apiUrl, lane);
  await showKeyRequired(urls[0]!, lane);

  const sendTraffic = () =>
    startTraffic({ urls, body: (i) => hotelOpsRequest(i, lane), concurrency: 16, requireOk: false, key });
  // Until the bootstrap's first step the lane has nothing to serve and answers 503: expected, not counted.
  let traffic = sendTraffic();
  say('== live traffic: hotel-ops requests from 5,000 guests, routed by guest');
  const stages: Stage[] = [
    {
      title:
        "bootstrap the lane with hotel-ops v1 (its baseline is the env's active snapshot, if any; with none, absolute budgets only)",
      bundle: 'hotel-ops-v1',
      args: ['--bake', BAKE],
      expect: 'promoted',
    },
    {
      title: 'promote hotel-ops v2: behaviour changed on purpose, within its declared 25% budget (replay and canary)',
      bundle: 'hotel-ops-v2',
      args: ['--steps', FULL_RAMP, '--bake', BAKE],
      expect: 'promoted',
    },
    {
      title: 'promote hotel-ops v3: broken (escalates every guest), far beyond its 10% budget',
      bundle: 'hotel-ops-v3-broken',
      args: ['--steps', FULL_RAMP, '--bake', BAKE],
      expect: 'rejected',
    },
  ];
  let asExpected = true;
  for (const stage of stages) {
    if (stage.expect === 'rejected') {
      say(`\n== impact of ${stage.bundle} on the decisions logged so far (pkgctl impact, nothing deployed)`);
      say(
        `   ${pkgctl(author, 'impact', path.join(ROOT, 'examples', stage.bundle), ...laneArgs, '--examples', '1').replace(/\n/g, '\n   ')}`,
      );
    }
    say(`\n== ${stage.title}`);
    const result = await promote(stage, laneArgs, api);
    printVerdicts(result);
    const outcome = String(result.outcome);
    const ok = outcome === stage.expect;
    asExpected &&= ok;
    say(
      `   => ${outcome} (expected ${stage.expect}) ${ok ? 'ok' : 'UNEXPECTED'}: ${typeof result.reason === 'string' ? result.reason : ''}`,
    );
    say(`   Temporal UI: ${String(result.url)}`);
    if (typeof result.decisionId === 'string')
      say(
        `   decision record ${pkgctl(api, 'decision', 'show', result.decisionId).split('\n\n')[0]!.replace(/\n/g, '\n     ')}`,
      );
    if (stage === stages[0]) {
      await traffic.stop();
      traffic = sendTraffic();
    }
  }
  const report = await traffic.stop();
  const semanticLane = { ...lane, target: `${lane.target}-semantic` };
  asExpected &&= await semanticMemoryStep({
    lane: semanticLane,
    key: createTrafficKey(apiUrl, semanticLane),
    startEvaluator,
    promote: (bundle, args) =>
      promote({ title: bundle, bundle, args, expect: 'promoted' }, laneArgsOf(semanticLane), api),
    // The author remembers a complaint of the semantic snapshot's world (dev), through the API.
    pkgctl: (...args) => pkgctl(author, ...args),
    pkgctlAdmin: (...args) => pkgctl(adminAccess(apiUrl), ...args),
    say,
  });
  say(
    `\n== traffic since the bootstrap: ${report.ok} answered, ${report.failed} failed${report.failures.length ? ` (${report.failures.join('; ')})` : ''}; served by version: ${[...report.versions].map(([v, n]) => `${v} ${n}`).join(', ')}`,
  );
  say(
    `== Temporal UI: ${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows?query=${encodeURIComponent(`PkgLane="${laneName(lane)}"`)}`,
  );
  say(
    asExpected
      ? '== demo: v1 and v2 promoted, the broken v3 rejected by the replay before any live request, and a complaint decided differently once memory held a like one, as expected'
      : '== demo: an outcome was not as expected',
  );
  return asExpected && report.failed === 0 ? 0 : 1;
}

function stopChildren(): void {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
}

main().then(
  (code) => {
    if (keep) say('== --keep: the stack keeps running; `npm run down` stops it');
    else stopChildren();
    process.exit(code);
  },
  (error: Error) => {
    say(`demo failed: ${error.message}`);
    stopChildren();
    process.exit(1);
  },
);
