import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPublicKey, randomUUID } from 'node:crypto';
import { parseDocument } from 'yaml';
import { postEvaluation, startTraffic, type EvaluationReply, type Traffic } from '../../client/traffic';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { createPool, createRedis } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import { loadBundle } from '../../policy/bundle/bundle';
import { compileSnapshot, regoSourcesOf } from '../../policy/bundle/compile';
import { withVersionSuffix } from '../../policy/bundle/version';
import { readBundleDir } from '../../activities/bundle-dir';
import { buildArtifacts } from '../../activities/compile';
import { storeSnapshot } from '../../activities/store/snapshot-write';
import { SIGNATURES_FILE } from '../../policy/bundle/checksum';
import { signBundle, verifyBundleSignature, type VerifiedSignature } from '../../policy/bundle/signing';
import type { Env, Lane } from '../../policy/lane';
import type { EvaluationInput } from '../../policy/engine/evaluation';

/**
 * Real evaluator processes for integration tests: `worker/evaluator/main.ts` run by node with tsx, each on
 * its own port and lane, talking to the real Postgres and Redis. Nothing here is mocked.
 */
const ROOT = path.resolve(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function randomLane(env: Env = 'dev'): Lane {
  return { env, target: `t-${randomUUID().slice(0, 8)}`, region: `r-${randomUUID().slice(0, 8)}` };
}

// A test that times out while evaluators start, or a jest exit, must not leave evaluators behind:
// every file that imports this module stops whatever it started once its tests are done.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  children.forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
});
if (typeof afterAll === 'function') afterAll(() => Promise.all([...children].map(stopChild)));

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export interface RunningEvaluator {
  port: number;
  url: string;
  process: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

export async function startEvaluator(lane: Lane, env: Record<string, string> = {}): Promise<RunningEvaluator> {
  const port = await freePort();
  // `node --import tsx` rather than the tsx CLI: the CLI forks a second process, which a SIGKILL
  // (the crash the fleet test simulates) would leave running.
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/evaluator/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      EVALUATOR_PORT: String(port),
      EVALUATOR_ENV: lane.env,
      EVALUATOR_TARGET: lane.target,
      EVALUATOR_REGION: lane.region,
      EVALUATOR_TEMPORAL: 'off',
      EVALUATOR_HEARTBEAT_MS: '500',
      // One process unless a test asks for more: a SIGKILL then kills the whole evaluator.
      EVALUATOR_WORKERS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const running: RunningEvaluator = {
    port,
    url,
    process: child,
    logs: () => output,
    stop: () => stopChild(child),
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`evaluator exited ${child.exitCode}: ${output}`);
      return (
        (await fetch(`${url}/healthz`)
          .then((r) => r.ok)
          .catch(() => false)) || null
      );
    },
    60_000,
    `evaluator on ${port} to listen`,
  ).catch(async (error: Error) => {
    await running.stop();
    throw new Error(`${error.message}; its output:\n${output}`);
  });
  return running;
}

export async function readyz(evaluator: RunningEvaluator): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${evaluator.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export function evaluate(evaluator: RunningEvaluator, body: unknown): Promise<EvaluationReply> {
  return postEvaluation(evaluator.url, body);
}

/** Polls until `check` returns a non-null value, or fails naming what it waited for. */
export async function waitFor<T>(
  check: () => Promise<T | null>,
  timeoutMs: number,
  what: string,
  pollMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== null) return value;
    } catch (error) {
      lastError = error;
      if (String(error).includes('evaluator exited')) throw error;
    }
    await sleep(pollMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})` : ''}`,
  );
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LaneState {
  snapshotId: string | null;
  candidateSnapshotId?: string | null;
  canaryPercent?: number;
  salt?: string;
}

// Lanes this test file set by hand, deleted when it ends: their snapshots never ran fixtures, so
// left behind they would be findings of `pkgctl integrity check` on the developers' database.
const lanesSet = new Map<string, Lane>();

/** What the promotion workflow's lane activities do, minus the outbox: the desired state row. */
export async function setLane(pool: Pool, lane: Lane, state: LaneState): Promise<void> {
  lanesSet.set(`${lane.env}/${lane.target}/${lane.region}`, lane);
  await pool.query(
    `INSERT INTO pkg_deployments (env, target, region, stable_snapshot_id, candidate_snapshot_id, canary_percent, salt, activated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'evaluator-test')
     ON CONFLICT (env, target, region) DO UPDATE SET stable_snapshot_id = EXCLUDED.stable_snapshot_id,
       candidate_snapshot_id = EXCLUDED.candidate_snapshot_id, canary_percent = EXCLUDED.canary_percent,
       salt = EXCLUDED.salt, activated_at = now()`,
    [
      lane.env,
      lane.target,
      lane.region,
      state.snapshotId,
      state.candidateSnapshotId ?? null,
      state.canaryPercent ?? 0,
      state.salt ?? '',
    ],
  );
}

/** Deletes the lanes setLane wrote in this test file. */
export async function removeTestLanes(pool: Pool): Promise<void> {
  for (const lane of lanesSet.values()) {
    await pool.query('DELETE FROM pkg_deployments WHERE env = $1 AND target = $2 AND region = $3', [
      lane.env,
      lane.target,
      lane.region,
    ]);
  }
  lanesSet.clear();
}

/** Deletes what was logged of a lane: benchmarks log a million decisions on lanes that then go. */
export async function removeDecisionLogs(pool: Pool, lane: Lane): Promise<void> {
  await pool.query('DELETE FROM pkg_decision_log_chunks WHERE env = $1 AND target = $2 AND region = $3', [
    lane.env,
    lane.target,
    lane.region,
  ]);
}

/** A fresh lane serving hotel-ops v1 with v2 as its canary candidate at `percent`, salted anew. */
export async function canaryLane(pool: Pool, percent: number) {
  const lane = randomLane();
  const serving = await storeExample(pool, 'hotel-ops-v1');
  const candidate = await storeExample(pool, 'hotel-ops-v2');
  await setLane(pool, lane, {
    snapshotId: serving.snapshotId,
    candidateSnapshotId: candidate.snapshotId,
    canaryPercent: percent,
    salt: randomUUID(),
  });
  return { lane, serving, candidate };
}

export function laneMessage(lane: Lane, type: 'activate' | 'canary' | 'rollback', version: string): string {
  return JSON.stringify({ type, ...lane, version, seq: Date.now() });
}

/** Live CONTROL traffic on the evaluators in turn: a request fails unless it is 200 and `ok: true`. */
export function startLoad(evaluators: RunningEvaluator[], body: (i: number) => unknown, concurrency = 8): Traffic {
  return startTraffic({ urls: evaluators.map((e) => e.url), body, concurrency });
}

/**
 * Flips one byte of a snapshot's stored wasm. The returned function puts it back: the database is
 * the one developers and the demo use, and pkg_check_integrity() there must not report what a test
 * planted.
 */
export async function tamperWasm(pool: Pool, snapshotId: string, offset: number): Promise<() => Promise<void>> {
  const wasm = `FROM pkg_snapshot_artifacts WHERE snapshot_uuid = $1 AND artifact_type = 'wasm_pack'`;
  const { rows } = await pool.query<{ bytes: Buffer }>(`SELECT artifact_bytes AS bytes ${wasm}`, [snapshotId]);
  const original = rows[0]!.bytes;
  const tampered = Buffer.from(original);
  tampered[offset] = tampered[offset]! ^ 0xff;
  const write = (bytes: Buffer) =>
    pool.query(
      `UPDATE pkg_snapshot_artifacts SET artifact_bytes = $2 WHERE snapshot_uuid = $1 AND artifact_type = 'wasm_pack'`,
      [snapshotId, bytes],
    );
  await write(tampered);
  return async () => {
    await write(original);
  };
}

/**
 * Changes one rule condition's value the way `UPDATE pkg_rule_conditions SET value = …` would; the
 * returned function puts it back, as tamperWasm does.
 */
export async function tamperRuleCondition(pool: Pool, snapshotId: string): Promise<() => Promise<void>> {
  const { rows } = await pool.query<{ rule_id: string; position: number; value: unknown }>(
    `SELECT c.rule_id, c.position, c.value_json AS value FROM pkg_rule_conditions c JOIN pkg_policy_rules r ON r.id = c.rule_id
      WHERE r.snapshot_uuid = $1 ORDER BY r.rule_name, c.position LIMIT 1`,
    [snapshotId],
  );
  const { rule_id: ruleId, position, value } = rows[0]!;
  const write = (next: unknown) =>
    pool.query('UPDATE pkg_rule_conditions SET value_json = $3 WHERE rule_id = $1 AND position = $2', [
      ruleId,
      position,
      JSON.stringify(next),
    ]);
  await write('tampered');
  return async () => {
    await write(value);
  };
}

/**
 * Flips one byte of a snapshot's wasm and records the new bytes' sha256 beside them, so the
 * artifact row agrees with itself; only the chain up to the snapshot can tell. Undone by the
 * returned function.
 */
export async function rewriteWasm(pool: Pool, snapshotId: string): Promise<() => Promise<void>> {
  const wasm = `snapshot_uuid = $1 AND artifact_type = 'wasm_pack'`;
  const { rows } = await pool.query<{ bytes: Buffer; sha256: string }>(
    `SELECT artifact_bytes AS bytes, sha256 FROM pkg_snapshot_artifacts WHERE ${wasm}`,
    [snapshotId],
  );
  const original = rows[0]!;
  const tampered = Buffer.from(original.bytes);
  tampered[99] = tampered[99]! ^ 0xff;
  const write = (bytes: Buffer, sha256: string) =>
    pool.query(`UPDATE pkg_snapshot_artifacts SET artifact_bytes = $2, sha256 = $3 WHERE ${wasm}`, [
      snapshotId,
      bytes,
      sha256,
    ]);
  await write(tampered, createHash('sha256').update(tampered).digest('hex'));
  return async () => {
    await write(original.bytes, original.sha256);
  };
}

/**
 * Compiles an example bundle under a fresh version (so tests never collide) and stores it the way
 * the compile activity does: validated bundle, compiled rules, wasm built by opa, one transaction;
 * signed by `signingKey` (an Ed25519 private key PEM) when given.
 */
export async function storeExample(
  pool: Pool,
  example: 'hotel-ops-v1' | 'hotel-ops-v2' | 'hotel-ops-semantic',
  tag = randomUUID().slice(0, 8),
  engine?: 'native' | 'wasm',
  signingKey?: string,
) {
  let files = withVersionSuffix(await readBundleDir(path.join(ROOT, 'examples', example)), `t${tag}`);
  files.delete(SIGNATURES_FILE);
  if (engine) {
    const manifest = parseDocument(files.get('manifest.yaml')!.toString());
    manifest.set('engine', engine);
    files = new Map([...files, ['manifest.yaml', Buffer.from(manifest.toString())]]);
  }
  if (signingKey) files.set(SIGNATURES_FILE, signBundle(files, signingKey));
  const bundle = loadBundle(files);
  const compiled = compileSnapshot(bundle);
  const artifacts = await buildArtifacts(loadConfig().OPA_PATH, bundle, compiled);
  const stored = await storeSnapshot(pool, {
    bundle,
    compiled,
    artifacts,
    bundleDigest: null,
    actor: 'evaluator-test',
    signature: signingKey ? signatureOf(files, signingKey) : null,
  });
  const rego = regoSourcesOf(bundle, compiled);
  return { snapshotId: stored.snapshotId, version: stored.version, env: bundle.manifest.env, rego, compiled };
}

/** A stored snapshot's fixture inputs in name order, each with its facts as a request sends them. */
export async function fixtureInputs(pool: Pool, snapshotId: string): Promise<EvaluationInput[]> {
  const { rows } = await pool.query<{ input: EvaluationInput }>(
    'SELECT input FROM pkg_validation_fixtures WHERE snapshot_uuid = $1 ORDER BY name',
    [snapshotId],
  );
  return rows.map(({ input }) => ({ ...input, facts: input.facts ?? [] }));
}

/** The signature storeSnapshot keeps, as the compile activity gets it from verifying the bundle. */
function signatureOf(files: Map<string, Buffer>, signingKey: string): VerifiedSignature {
  const trustedKeys = [createPublicKey(signingKey).export({ type: 'spki', format: 'pem' }).toString()];
  const verified = verifyBundleSignature(files, 'dev', { trustedKeys, signedEnvs: ['dev'] });
  if (!verified.signed) throw new Error('a bundle just signed did not verify');
  return { keyId: verified.keyId, signature: verified.signature };
}

export interface EvaluatorTestServices {
  pool: Pool;
  redis: Redis;
  /** Evaluators a test started; they are stopped after each test. */
  running: RunningEvaluator[];
}

/** The Postgres pool and Redis client an evaluator test file shares, opened before its tests and closed after. */
export function useEvaluatorServices(): EvaluatorTestServices {
  const services = { running: [] as RunningEvaluator[] } as EvaluatorTestServices;
  beforeAll(async () => {
    services.pool = createPool(loadConfig());
    services.redis = createRedis(loadConfig());
    await new Promise((resolve) => services.redis.once('ready', resolve));
  });
  afterEach(() => Promise.all(services.running.splice(0).map((evaluator) => evaluator.stop())));
  afterAll(async () => {
    await removeTestLanes(services.pool);
    await services.redis.quit();
    await services.pool.end();
  });
  return services;
}

/**
 * A TCP relay to Postgres that a test owns, so Postgres goes away for its evaluators only: `cut`
 * refuses connections (a stopped server); `freeze` accepts and answers nothing (a partition).
 */
export function createRelay(port: number, upstream: URL) {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let frozen = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const relay = (client: Socket) => {
    track(client);
    if (frozen) return;
    const database = createConnection(Number(upstream.port), upstream.hostname);
    track(database);
    client.pipe(database).pipe(client);
  };
  return {
    open: () =>
      new Promise<void>((resolve) => {
        frozen = false;
        server = createServer(relay);
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    freeze: () => {
      frozen = true;
      sockets.forEach((socket) => socket.pause());
    },
    thaw: () => {
      frozen = false;
      sockets.forEach((socket) => socket.destroy());
    },
    cut: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        if (server) server.close(() => resolve());
        else resolve();
        server = null;
      }),
  };
}
