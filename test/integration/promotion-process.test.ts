import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createPool } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import { startPromotion } from '../../client/rollout-client';
import { statusQuery, type PromotionResult } from '../../workflows/definitions';
import { connectTestEnvironment } from '../support/temporal';
import { randomLane, startEvaluator, waitFor, type RunningEvaluator } from './evaluator-harness';
import { createEmptyLane, startGuestTraffic, uniqueName, uploadSpec, writeBundle } from './promotion-harness';
import type { Traffic } from '../../client/traffic';
import { saveHistory } from '../replay/record';
import { laneName } from '../../policy/lane';

/**
 * The pipeline worker and pkgctl as real processes: `worker/pipeline.ts` on its own task queue
 * (SIGKILLed mid-ramp and restarted), and `bin/pkgctl` driving a rollout the way CI does.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const taskQueue = `pipeline-${randomUUID()}`;
const keys = generateKeyPairSync('ed25519');
const keyDir = mkdtempSync(path.join(tmpdir(), 'pkg-keys-'));
const signingKey = path.join(keyDir, 'decision.pem');
const publicKey = path.join(keyDir, 'decision.pub.pem');
writeFileSync(signingKey, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(publicKey, keys.publicKey.export({ type: 'spki', format: 'pem' }));
const processEnv = {
  ...process.env,
  PIPELINE_TASK_QUEUE: taskQueue,
  GATE_SETTLE_MS: '1200',
  OUTBOX_RELAY_MS: '50',
  DECISION_SIGNING_KEY: signingKey,
  // Not served: the Prometheus suite's pipeline owns the scraped port, and a worker of this suite
  // holding it, then stopped, left nobody there to scrape.
  PIPELINE_METRICS_PORT: '0',
};
const lane = randomLane('dev');
const name = uniqueName();

jest.setTimeout(300_000);

let env: TestWorkflowEnvironment;
let pool: Pool;
let evaluators: RunningEvaluator[];
let traffic: Traffic;
let worker: ChildProcess | null = null;

function startWorkerProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/pipeline.ts'], {
    cwd: ROOT,
    env: processEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('pipeline worker polling')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`pipeline worker exited ${code}: ${output}`)));
  });
}

async function stopWorkerProcess(signal: NodeJS.Signals): Promise<void> {
  const child = worker;
  worker = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function pkgctl(args: string[]): Promise<CliRun> {
  const child = spawn(path.join(ROOT, 'bin', 'pkgctl'), args, { cwd: ROOT, env: processEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

const laneArgs = ['--env', lane.env, '--target', lane.target, '--region', lane.region];

beforeAll(async () => {
  env = await connectTestEnvironment();
  pool = createPool(loadConfig(), 2);
  await createEmptyLane(pool, lane);
  evaluators = await Promise.all([startEvaluator(lane, { EVALUATOR_TEMPORAL: 'on' }), startEvaluator(lane)]);
  traffic = startGuestTraffic(evaluators);
  worker = await startWorkerProcess();
}, 90_000);

afterAll(async () => {
  await stopWorkerProcess('SIGTERM');
  await traffic?.stop();
  await Promise.all((evaluators ?? []).map((e) => e.stop()));
  await pool?.end();
  await env?.teardown();
});

test('pkgctl promote --wait --json: exit 0, the workflow id, its Temporal UI link and the outcome', async () => {
  const dir = await writeBundle({ version: `${name}@1.0.0`, env: 'dev' });
  const run = await pkgctl([
    'promote',
    dir,
    ...laneArgs,
    '--steps',
    '50,100',
    '--bake',
    '2s',
    '--wait',
    '--json',
    '--actor',
    'ci-bot',
  ]);
  expect(run.code).toBe(0);
  const result = JSON.parse(run.stdout) as Record<string, unknown>;
  expect(result).toMatchObject({
    outcome: 'promoted',
    version: `${name}@1.0.0`,
    workflowId: `rollout-${laneName(lane)}`,
  });
  expect(result.url).toBe(
    `${loadConfig().TEMPORAL_UI_URL}/namespaces/default/workflows/${encodeURIComponent(String(result.workflowId))}`,
  );
  expect(run.stderr).toContain('[baking] step 1/2 50%');

  const verify = await pkgctl(['decision', 'verify', String(result.decisionId), '--key', publicKey]);
  expect(verify).toMatchObject({ code: 0, stdout: `ok: ${String(result.decisionId)} (signature verified)\n` });
  const other = path.join(keyDir, 'other.pub.pem');
  writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  expect((await pkgctl(['decision', 'verify', String(result.decisionId), '--key', other])).code).toBe(3);
  const status = await pkgctl(['status', String(result.workflowId), '--json']);
  expect(JSON.parse(status.stdout)).toMatchObject({ stage: 'promoted', version: `${name}@1.0.0`, percent: 100 });
  const history = await pkgctl(['history', '--env', 'dev', '--limit', '200', '--json']);
  expect((JSON.parse(history.stdout) as { id: string }[]).some((e) => e.id === result.decisionId)).toBe(true);
});

test('pkgctl rollback on a running rollout makes promote --wait exit 3', async () => {
  const dir = await writeBundle({ version: `${name}@1.1.0`, env: 'dev' });
  const promoting = pkgctl(['promote', dir, ...laneArgs, '--steps', '50,100', '--bake', '10m', '--wait']);
  const workflowId = `rollout-${laneName(lane)}`;
  await waitFor(
    async () => {
      const status = await env.client.workflow
        .getHandle(workflowId)
        .query(statusQuery)
        .catch(() => null);
      return status?.version === `${name}@1.1.0` && status.stage === 'baking' ? status : null;
    },
    150_000,
    'the bake',
  );
  // Refusals while it runs: one JSON error each, exit 4 (refused) from the table.
  const busy = await pkgctl(['promote', dir, ...laneArgs, '--json']);
  expectJsonError(busy, 4, 'LaneBusy');
  expect(JSON.parse(busy.stdout).message).toContain(workflowId);
  expectJsonError(await pkgctl(['approve', workflowId, '--json']), 4, 'ActionRefused');
  expectJsonError(await pkgctl(['resume', workflowId, '--json']), 4, 'ActionRefused');
  const rollback = await pkgctl(['rollback', workflowId, '--reason', 'bad smell', '--actor', 'oncall', '--json']);
  expect(rollback.code).toBe(0);
  expect(JSON.parse(rollback.stdout)).toMatchObject({ outcome: 'ok', action: 'rollback', actor: 'oncall' });
  const run = await promoting;
  expect(run.code).toBe(3);
  expect(run.stdout).toContain('rolled_back: rolled back by oncall: bad smell');
});

/** Exactly one JSON object on stdout, an error of this type, and the exit code the table gives it. */
function expectJsonError(run: CliRun, code: number, type: string): void {
  expect({ code: run.code, lines: run.stdout.trim().split('\n').length }).toEqual({ code, lines: 1 });
  expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'error', type, exitCode: code, message: expect.any(String) });
}

test('--json: every refusal before the workflow is one JSON error with the exit code of its type', async () => {
  expectJsonError(await pkgctl(['promote', '/nonexistent', '--env', 'qa', '--json']), 2, 'UsageInvalid');
  expectJsonError(await pkgctl(['promote', '/nonexistent', '--env', 'dev', '--json']), 4, 'NotFound');
  const loosening = await writeBundle({
    version: `${name}@1.2.0`,
    env: 'dev',
    rollout: 'rollout:\n  gates: { max_extensions: 1 }',
  });
  const refused = await pkgctl(['promote', loosening, ...laneArgs, '--json']);
  expectJsonError(refused, 3, 'GateConfigLoosened');
  expect(JSON.parse(refused.stdout).message).toContain('rollout.gates.max_extensions');
  const good = await writeBundle({ version: `${name}@1.2.1`, env: 'dev' });
  expectJsonError(await pkgctl(['promote', good, ...laneArgs, '--steps', '1,5', '--json']), 3, 'GateConfigLoosened');
  const offline = spawn(path.join(ROOT, 'bin', 'pkgctl'), ['promote', good, ...laneArgs, '--json'], {
    cwd: ROOT,
    env: { ...processEnv, TEMPORAL_ADDRESS: '127.0.0.1:1' },
  });
  let stdout = '';
  offline.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => offline.once('exit', resolve));
  expectJsonError({ code, stdout, stderr: '' }, 1, 'Unavailable');
  expectJsonError(await pkgctl(['status', 'rollout-dev/no/such-lane', '--json']), 4, 'NotFound');
});

test('the pipeline worker is SIGKILLed mid-ramp and restarted: the rollout completes, nothing is written twice', async () => {
  const version = `${name}@2.0.0`;
  const digest = await uploadSpec(pool, { version, env: 'dev' });
  const overrides = { steps: [25, 50, 100], bake: '3s' };
  const handle = await startPromotion(env.client, taskQueue, { digest, lane, overrides, actor: 'ci' }, version);
  await waitFor(
    async () => {
      const status = await handle.query(statusQuery);
      return status.stage === 'baking' && status.stepIndex === 1 ? status : null;
    },
    90_000,
    'the second step to bake',
  );
  await stopWorkerProcess('SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  worker = await startWorkerProcess();
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('promoted');

  const rolloutId = `${handle.workflowId}:${handle.firstExecutionRunId}`;
  const events = await pool.query<{ event: string; n: string }>(
    'SELECT event, count(*) AS n FROM pkg_rollout_events WHERE rollout_id = $1 GROUP BY event',
    [rolloutId],
  );
  const counts = Object.fromEntries(events.rows.map((r) => [r.event, Number(r.n)]));
  expect(counts).toMatchObject({ compiled: 1, validated: 1, step: 3, promoted: 1, verdict_pass: 3 });
  const outbox = await pool.query<{ n: string; published: string }>(
    `SELECT count(*) AS n, count(published_at) AS published FROM pkg_outbox WHERE dedupe_key LIKE $1 || ':%'`,
    [rolloutId],
  );
  expect(outbox.rows[0]).toEqual({ n: '4', published: '4' });
  const promotions = await pool.query('SELECT 1 FROM pkg_promotions WHERE idempotency_key LIKE $1', [`${rolloutId}:%`]);
  expect(promotions.rowCount).toBe(1);
  const records = await pool.query('SELECT 1 FROM pkg_decision_records WHERE rollout_id = $1', [rolloutId]);
  expect(records.rowCount).toBe(1);
  await saveHistory(handle, 'promoted-after-worker-crash');
});
