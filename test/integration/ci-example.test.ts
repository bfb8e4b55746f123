import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createPool } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import type { Env } from '../../policy/lane';
import { readBundleDir } from '../../activities/bundle-dir';
import { compileBundleFiles } from '../../activities/compile';
import { NO_SIGNING } from '../../policy/bundle/signing';
import { EXIT } from '../../client/exit-codes';
import { pkgctl } from '../support/pkgctl';
import { connectTestEnvironment } from '../support/temporal';
import { startPipeline, writeBundle, type PipelineUnderTest } from './promotion-harness';
import { createTestToken, startApi, type RunningApi } from './api-harness';

/**
 * The README's "Using it from CI" job, command for command: an admin makes the deployer token, then
 * `pkgctl bundle validate` and `pkgctl promote … --env prod --target web --region eu --wait --json`
 * run with nothing but PKG_API_URL and PKG_TOKEN, against the real API and a real pipeline worker.
 * prod/web/eu has no evaluator here, so the rollout ends rejected before any traffic (a prod ramp
 * bakes 5 minutes a step); what this proves is that the job's client needs nothing else and gets
 * the workflow's own result and exit code. The demo shows the same path promoting.
 */
jest.setTimeout(180_000);

let env: TestWorkflowEnvironment;
let pool: Pool;
let pipeline: PipelineUnderTest;
let running: Promise<void>;
let api: RunningApi;

beforeAll(async () => {
  env = await connectTestEnvironment();
  pool = createPool(loadConfig(), 2);
  pipeline = await startPipeline(env, pool);
  running = pipeline.worker.run();
  api = await startApi({ PIPELINE_TASK_QUEUE: pipeline.worker.options.taskQueue });
}, 60_000);

afterAll(async () => {
  await api?.stop();
  pipeline?.worker.shutdown();
  await running;
  await pipeline?.stop();
  await pool?.end();
  await env?.teardown();
});

/**
 * A CI runner's environment: the job's two variables and what node needs to start. The services'
 * variables point nowhere, so a command that went around the API would fail instead of finding this
 * machine's defaults.
 */
function ciJob(url: string, token: string): Record<string, string> {
  return {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/tmp',
    PKG_API_URL: url,
    PKG_TOKEN: token,
    DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:1/none',
    REDIS_URL: 'redis://127.0.0.1:1',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
  };
}

test("the README's CI job runs with only PKG_API_URL and PKG_TOKEN and gets the rollout's result", async () => {
  const admin = await createTestToken(pool, 'admin');
  const name = `ci-hotel-ops-${randomUUID().slice(0, 8)}`;
  const created = await pkgctl(
    ['token', 'create', '--role', 'deployer', '--env', 'prod', '--name', name, '--json'],
    ciJob(api.url, admin.token),
  );
  expect(created.code).toBe(EXIT.ok);
  const job = ciJob(api.url, (JSON.parse(created.stdout) as { token: string }).token);
  const dir = await writeBundle({ version: `${name}@1.0.0`, env: 'prod' });

  const validated = await pkgctl(['bundle', 'validate', dir], job);
  expect(validated.code).toBe(EXIT.ok);
  const promoted = await pkgctl(
    ['promote', dir, '--env', 'prod', '--target', 'web', '--region', 'eu', '--wait', '--json'],
    job,
  );
  const result = JSON.parse(promoted.stdout) as { outcome: string; reason: string; url: string };
  expect({ code: promoted.code, outcome: result.outcome }).toEqual({ code: EXIT.rejected, outcome: 'rejected' });
  expect(result.reason).toMatch(/^NoEvaluators: lane prod\/web\/eu has no live evaluator/);

  // The rollout ran on this installation, as the token: the API started it, not a bypass.
  const { rows } = await pool.query<{ event: string }>(
    `SELECT event FROM pkg_rollout_events WHERE env = 'prod' AND target = 'web' AND region = 'eu' AND actor = $1`,
    [`token:${name}`],
  );
  expect(rows).toEqual([{ event: 'rejected' }]);
});

test('decision verify, facts cleanup, impact and evaluate --version go through the API too, with its roles', async () => {
  const author = ciJob(api.url, (await createTestToken(pool, 'author', ['dev'])).token);
  const admin = ciJob(api.url, (await createTestToken(pool, 'admin')).token);
  const inputFile = path.join(await mkdtemp(path.join(tmpdir(), 'pkg-input-')), 'input.json');
  await writeFile(inputFile, JSON.stringify({ tags: ['vip'], context: { subject: 'guest:ci' } }));

  const chain = await pkgctl(['decision', 'verify', '--env', 'dev', '--json'], author);
  expect(JSON.parse(chain.stdout)).toMatchObject({ env: 'dev', records: expect.any(Number) });
  // Answers the services gave: a client that went around the API would fail to reach them (exit 1).
  const evaluated = await pkgctl(['evaluate', '--version', 'ci-none@0.0.0', '--input', inputFile], author);
  expect({ code: evaluated.code, stderr: evaluated.stderr }).toEqual({
    code: EXIT.refused,
    stderr: 'error: no snapshot with version ci-none@0.0.0\n',
  });
  const impact = await pkgctl(['impact', 'ci-none@0.0.0', '--env', 'dev', '--json'], author);
  expect({ code: impact.code, ...JSON.parse(impact.stdout) }).toMatchObject({
    code: EXIT.refused,
    type: 'NotFound',
    message: 'snapshot ci-none@0.0.0 does not exist',
  });
  const refused = await pkgctl(['facts', 'cleanup', '--dry-run', '--json'], author);
  expect({ code: refused.code, ...JSON.parse(refused.stdout) }).toMatchObject({
    code: EXIT.refused,
    type: 'Forbidden',
    message: expect.stringContaining('facts.cleanup needs role admin'),
  });
  const cleanup = await pkgctl(['facts', 'cleanup', '--dry-run', '--json'], admin);
  expect({ code: cleanup.code, ...JSON.parse(cleanup.stdout) }).toMatchObject({ code: EXIT.ok, dryRun: true });
});

test("evaluate --version through the API answers from the snapshot and needs role author in the snapshot's env", async () => {
  const version = `ci-eval-${randomUUID().slice(0, 8)}@1.0.0`;
  const files = await readBundleDir(await writeBundle({ version, env: 'prod' }));
  await compileBundleFiles({ pool, opaPath: loadConfig().OPA_PATH, signing: NO_SIGNING }, files, null, 'test');
  const inputFile = path.join(await mkdtemp(path.join(tmpdir(), 'pkg-input-')), 'input.json');
  await writeFile(inputFile, JSON.stringify({ tags: ['vip'], context: { subject: 'guest:ci' } }));
  const evaluate = async (envs: Env[]) =>
    pkgctl(
      ['evaluate', '--version', version, '--input', inputFile],
      ciJob(api.url, (await createTestToken(pool, 'author', envs)).token),
    );

  const elsewhere = await evaluate(['dev', 'staging']);
  expect({ code: elsewhere.code, stderr: elsewhere.stderr }).toEqual({
    code: EXIT.refused,
    stderr: 'error: evaluate needs role author in prod\n',
  });
  const allowed = await evaluate(['prod']);
  expect(allowed.code).toBe(EXIT.ok);
  expect(JSON.parse(allowed.stdout)).toMatchObject({ ok: true, snapshot: version, meta: { mode: 'control' } });
});
