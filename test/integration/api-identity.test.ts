import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Client } from '@temporalio/client';
import { connectTemporalClient, createPool } from '../../activities/connections';
import { readBundleDir } from '../../activities/bundle-dir';
import { packBundle } from '../../policy/bundle/pack';
import { loadConfig } from '../../policy/config';
import type { Env } from '../../policy/lane';
import { EXIT } from '../../client/exit-codes';
import { pkgctl } from '../support/pkgctl';
import { writeBundle } from './promotion-harness';
import { callApi, createTestToken, startApi, type RunningApi } from './api-harness';

/**
 * Who the control-plane API lets in, and as whom: one 401 for every bad credential, roles bounded
 * by env, tokens managed only inside an admin's envs, separation of duties in prod, the verified
 * identity as the actor of what it does, and pkgctl needing only PKG_API_URL and PKG_TOKEN.
 */
let pool: Pool;
let temporal: Client;
let api: RunningApi;
// No worker polls this queue: rollouts started here stay at their first event, which is all these tests read.
const taskQueue = `api-identity-${randomUUID()}`;
const started: string[] = [];

beforeAll(async () => {
  const config = loadConfig();
  pool = createPool(config, 2);
  temporal = await connectTemporalClient(config);
  api = await startApi({ PIPELINE_TASK_QUEUE: taskQueue, PKG_SEPARATED_ENVS: 'prod' });
}, 60_000);

afterAll(async () => {
  for (const id of started)
    await temporal.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
  await api?.stop();
  await temporal?.connection.close();
  await pool?.end();
});

async function packedBundle(env: Env) {
  const dir = await writeBundle({ version: `api-${randomUUID().slice(0, 8)}@1.0.0`, env });
  return JSON.parse(packBundle(await readBundleDir(dir)).toString('utf8')) as unknown;
}

async function promote(token: string, env: Env) {
  const target = `sod-${randomUUID().slice(0, 8)}`;
  const answer = await callApi(api.url, 'POST', '/v1/promotions', token, {
    env,
    target,
    bundle: await packedBundle(env),
  });
  expect(answer.status).toBe(200);
  started.push(answer.body.workflowId as string);
  return { answer, lane: `${env}/${target}/default` };
}

test('missing, malformed, unknown, expired and revoked credentials all get the same one-line 401', async () => {
  const admin = await createTestToken(pool, 'admin');
  const expired = await createTestToken(pool, 'viewer', ['dev'], -1000);
  const revoked = await createTestToken(pool, 'viewer', ['dev']);
  expect((await callApi(api.url, 'DELETE', `/v1/tokens/${revoked.name}`, admin.token)).status).toBe(200);
  const unknown = `pkg_${'A'.repeat(43)}`;
  const answers = await Promise.all(
    [null, 'not-a-token', unknown, expired.token, revoked.token].map((token) =>
      callApi(api.url, 'GET', '/v1/envs/dev/history', token),
    ),
  );
  for (const answer of answers) {
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(answers[0]!.body);
  }
  expect(answers[0]!.body.type).toBe('Unauthenticated');
  expect(answers[0]!.body.message).not.toMatch(/\n/);
  expect(answers[0]!.body.message).not.toContain(expired.name);
});

test('a role scoped to dev is refused in prod, with the role and the env it needs', async () => {
  const deployer = await createTestToken(pool, 'deployer', ['dev']);
  const answer = await callApi(api.url, 'POST', '/v1/promotions', deployer.token, {
    env: 'prod',
    bundle: await packedBundle('prod'),
  });
  expect(answer).toMatchObject({
    status: 403,
    body: { type: 'Forbidden', message: 'promote needs role deployer in prod' },
  });
  const read = await callApi(api.url, 'GET', '/v1/envs/prod/history', deployer.token);
  expect(read).toMatchObject({ status: 403, body: { message: 'read needs role viewer in prod' } });
});

test("an admin of dev manages dev's tokens only: no prod token, and the list shows only dev's", async () => {
  const devAdmin = await createTestToken(pool, 'admin', ['dev']);
  const prodViewer = await createTestToken(pool, 'viewer', ['prod']);
  const name = `dev-ci-${randomUUID().slice(0, 8)}`;
  const refused = await callApi(api.url, 'POST', '/v1/tokens', devAdmin.token, {
    name,
    role: 'viewer',
    envs: 'dev,prod',
  });
  expect(refused).toMatchObject({ status: 403, body: { message: 'token.manage needs role admin in prod' } });
  const created = await callApi(api.url, 'POST', '/v1/tokens', devAdmin.token, { name, role: 'viewer', envs: 'dev' });
  expect(created.status).toBe(200);
  expect(created.body.token).toMatch(/^pkg_/);
  expect(created.body.createdBy).toBe(`token:${devAdmin.name}`);
  const listed = (await callApi(api.url, 'GET', '/v1/tokens', devAdmin.token)).body as unknown as { name: string }[];
  expect(listed.map((t) => t.name)).toContain(name);
  expect(listed.map((t) => t.name)).not.toContain(prodViewer.name);
  expect(JSON.stringify(listed)).not.toMatch(/pkg_[A-Za-z0-9_-]{43}/);
  const revoke = await callApi(api.url, 'DELETE', `/v1/tokens/${prodViewer.name}`, devAdmin.token);
  expect(revoke).toMatchObject({ status: 403, body: { message: 'token.manage needs role admin in prod' } });
  expect((await callApi(api.url, 'GET', '/v1/envs/dev/history', created.body.token as string)).status).toBe(200);
});

test('the verified identity is the actor: the bundle is uploaded by the token that promoted it', async () => {
  const deployer = await createTestToken(pool, 'deployer', ['dev']);
  const { answer } = await promote(deployer.token, 'dev');
  const { rows } = await pool.query<{ uploaded_by: string }>('SELECT uploaded_by FROM pkg_bundles WHERE digest = $1', [
    answer.body.digest,
  ]);
  expect(rows).toEqual([{ uploaded_by: `token:${deployer.name}` }]);
});

test('in prod the identity that started a rollout cannot approve it; another approver gets past the check', async () => {
  const admin = await createTestToken(pool, 'admin');
  const approver = await createTestToken(pool, 'approver', ['prod']);
  const { answer, lane } = await promote(admin.token, 'prod');
  const own = await callApi(api.url, 'POST', `/v1/rollouts/${lane}/approve`, admin.token, {});
  expect(own).toMatchObject({ status: 403, body: { type: 'Forbidden' } });
  expect(own.body.message).toContain(`token:${admin.name} started this rollout`);
  // Ended, so the approval reaches Temporal and fails there, past separation of duties.
  await temporal.workflow.getHandle(answer.body.workflowId as string).terminate('test');
  const other = await callApi(api.url, 'POST', `/v1/rollouts/${lane}/approve`, approver.token, {});
  expect(other.status).not.toBe(403);
  expect(other.status).toBeGreaterThanOrEqual(400);
});

test('outside the separated envs the starter may approve (the check passes, Temporal answers)', async () => {
  const admin = await createTestToken(pool, 'admin');
  const { answer, lane } = await promote(admin.token, 'dev');
  await temporal.workflow.getHandle(answer.body.workflowId as string).terminate('test');
  const own = await callApi(api.url, 'POST', `/v1/rollouts/${lane}/approve`, admin.token, {});
  expect(own.status).not.toBe(403);
});

test('pkgctl with only PKG_API_URL and PKG_TOKEN promotes, reads history, and is refused what its role lacks', async () => {
  const deployer = await createTestToken(pool, 'deployer', ['dev']);
  const env = {
    PKG_API_URL: api.url,
    PKG_TOKEN: deployer.token,
    // Unreachable on purpose: the CI job has no database or Temporal access.
    DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:1/none',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
  };
  const dir = await writeBundle({ version: `ci-${randomUUID().slice(0, 8)}@1.0.0`, env: 'dev' });
  const target = `ci-${randomUUID().slice(0, 8)}`;
  const promoted = await pkgctl(['promote', dir, '--env', 'dev', '--target', target, '--json'], env);
  // Nobody polls this test's queue, and the API tells pkgctl so; stderr carries nothing else.
  const warnings = promoted.stderr.split('\n').filter((line) => line !== '');
  expect(warnings.filter((line) => line.includes(taskQueue))).toEqual([
    expect.stringMatching(
      new RegExp(`^waiting: nobody has polled task queue ${taskQueue} for workflow tasks lately; `),
    ),
    expect.stringMatching(
      new RegExp(`^waiting: nobody has polled task queue ${taskQueue} for activity tasks lately; `),
    ),
  ]);
  expect(warnings.filter((line) => !line.startsWith('waiting: nobody has polled task queue '))).toEqual([]);
  const result = JSON.parse(promoted.stdout) as { workflowId: string };
  started.push(result.workflowId);
  expect(result.workflowId).toBe(`rollout-dev/${target}/default`);
  expect((await pkgctl(['history', '--env', 'dev', '--json'], env)).code).toBe(EXIT.ok);
  // The API answers 503 when no worker runs the rollout, and pkgctl reports it as it would itself.
  const status = await pkgctl(['status', result.workflowId, '--json'], env);
  expect(status.code).toBe(EXIT.error);
  expect(JSON.parse(status.stdout)).toMatchObject({
    type: 'Unavailable',
    message: expect.stringContaining(`nobody has polled task queue ${taskQueue} for workflow tasks lately`),
  });
  const paused = await pkgctl(['pause', result.workflowId, '--json'], env);
  expect(paused.code).toBe(EXIT.refused);
  expect(JSON.parse(paused.stdout)).toMatchObject({ type: 'Forbidden', message: 'pause needs role operator in dev' });
  const anonymous = await pkgctl(['history', '--env', 'dev'], { ...env, PKG_TOKEN: 'wrong' });
  expect(anonymous.code).toBe(EXIT.refused);
  expect(anonymous.stderr).toMatch(/^error: missing, invalid, expired or revoked credentials/);
});
