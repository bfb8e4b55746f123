import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createPool } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import { ROLES, type Role } from '../../policy/identity/access';
import { callApi, createTestToken, startApi, type RunningApi, type TestToken } from './api-harness';

/**
 * Every action of the control-plane API against every role, through the real `npm run api`
 * process: allowed ones get past authorization (to their own answer, e.g. 404 for a lane with no
 * rollout), refused ones are 403 naming the role needed. The expectations are written out here, not
 * read from policy/identity/access.ts, so a change to the role table has to change this test too.
 */
const ALL = ROLES;
const MAY: Record<string, readonly Role[]> = {
  read: ALL,
  'bundle.upload': ['author', 'admin'],
  'bundle.validate': ['author', 'admin'],
  'snapshot.seal': ['author', 'admin'],
  'facts.add': ['author', 'admin'],
  'memory.add': ['author', 'admin'],
  impact: ['author', 'admin'],
  evaluate: ['author', 'admin'],
  promote: ['deployer', 'admin'],
  approve: ['approver', 'admin'],
  pause: ['operator', 'admin'],
  resume: ['operator', 'admin'],
  rollback: ['operator', 'admin'],
  abort: ['operator', 'admin'],
  revert: ['operator', 'admin'],
  'token.manage': ['admin'],
  'evaluator-key.manage': ['admin'],
  schedule: ['admin'],
  'facts.cleanup': ['admin'],
  'memory.prune': ['admin'],
};
const NEEDED: Record<string, Role> = Object.fromEntries(
  Object.entries(MAY).map(([action, roles]) => [action, roles[0] === 'viewer' ? 'viewer' : roles[0]!]),
);

interface Case {
  action: keyof typeof MAY;
  method: string;
  path: string;
  body?: unknown;
  /** What an allowed call answers: its own refusal or result, past authorization. */
  allowed: number;
}

const lane = `dev/acl-${randomUUID().slice(0, 8)}/default`;
const emptyBundle = { format: 'pkg-bundle/1', files: {} };
const CASES: Case[] = [
  { action: 'read', method: 'GET', path: `/v1/rollouts/${lane}`, allowed: 404 },
  { action: 'read', method: 'GET', path: `/v1/rollouts/${lane}/result`, allowed: 404 },
  { action: 'read', method: 'GET', path: '/v1/envs/dev/history', allowed: 200 },
  { action: 'read', method: 'GET', path: `/v1/decisions/${'0'.repeat(64)}`, allowed: 404 },
  { action: 'read', method: 'GET', path: '/v1/facts?subject=guest:nobody', allowed: 200 },
  { action: 'read', method: 'GET', path: '/v1/facts/stats', allowed: 200 },
  { action: 'read', method: 'POST', path: `/v1/decisions/${'0'.repeat(64)}/verify`, body: {}, allowed: 404 },
  { action: 'read', method: 'POST', path: '/v1/envs/dev/verify', body: {}, allowed: 200 },
  { action: 'impact', method: 'POST', path: '/v1/impact', body: { env: 'dev', version: '0.0.0-none' }, allowed: 404 },
  { action: 'read', method: 'GET', path: '/v1/workers', allowed: 200 },
  {
    action: 'evaluate',
    method: 'POST',
    path: '/v1/evaluations',
    body: { version: '0.0.0-none', input: { tags: ['vip'], context: { subject: 'guest:acl' } } },
    allowed: 404,
  },
  {
    action: 'bundle.upload',
    method: 'POST',
    path: '/v1/bundles',
    body: { env: 'dev', bundle: emptyBundle },
    allowed: 422,
  },
  {
    action: 'bundle.validate',
    method: 'POST',
    path: '/v1/bundles/validate',
    body: { env: 'dev', bundle: emptyBundle },
    allowed: 422,
  },
  {
    action: 'promote',
    method: 'POST',
    path: '/v1/promotions',
    body: { env: 'dev', bundle: emptyBundle },
    allowed: 422,
  },
  ...(['pause', 'resume', 'rollback', 'approve'] as const).map((action) => ({
    action,
    method: 'POST',
    path: `/v1/rollouts/${lane}/${action}`,
    body: {},
    allowed: 404,
  })),
  { action: 'snapshot.seal', method: 'POST', path: '/v1/envs/dev/snapshots/0.0.0-none/seal', allowed: 404 },
  { action: 'abort', method: 'POST', path: `/v1/lanes/${lane}/abort`, body: { reason: 'acl test' }, allowed: 200 },
  { action: 'revert', method: 'POST', path: `/v1/lanes/${lane}/revert`, body: { to: '0.0.0-none' }, allowed: 404 },
  { action: 'facts.add', method: 'POST', path: '/v1/facts', body: {}, allowed: 400 },
  { action: 'facts.cleanup', method: 'POST', path: '/v1/facts/cleanup', body: { batchSize: 0 }, allowed: 400 },
  { action: 'memory.add', method: 'POST', path: '/v1/memories', body: {}, allowed: 400 },
  { action: 'read', method: 'GET', path: '/v1/memories/stats', allowed: 200 },
  { action: 'memory.prune', method: 'POST', path: '/v1/memories/prune', body: { olderThan: 'never' }, allowed: 400 },
  { action: 'schedule', method: 'PUT', path: '/v1/schedules/fact-cleanup', body: { every: 'never' }, allowed: 400 },
  {
    action: 'token.manage',
    method: 'POST',
    path: '/v1/tokens',
    body: () => ({ name: `acl-${randomUUID().slice(0, 8)}`, role: 'viewer', envs: 'dev' }),
    allowed: 200,
  },
  { action: 'token.manage', method: 'GET', path: '/v1/tokens', allowed: 200 },
  { action: 'token.manage', method: 'DELETE', path: '/v1/tokens/no-such-token', allowed: 404 },
  {
    action: 'evaluator-key.manage',
    method: 'POST',
    path: '/v1/evaluator-keys',
    body: () => ({ name: `acl-${randomUUID().slice(0, 8)}`, scope: 'dev/acl-none', expiresIn: '1m' }),
    allowed: 200,
  },
  { action: 'evaluator-key.manage', method: 'GET', path: '/v1/evaluator-keys', allowed: 200 },
  { action: 'evaluator-key.manage', method: 'DELETE', path: '/v1/evaluator-keys/no-such-key', allowed: 404 },
];

let pool: Pool;
let api: RunningApi;
const tokens = {} as Record<Role, TestToken>;

beforeAll(async () => {
  pool = createPool(loadConfig(), 2);
  for (const role of ROLES) tokens[role] = await createTestToken(pool, role);
  api = await startApi();
}, 60_000);

afterAll(async () => {
  await api?.stop();
  await pool?.end();
});

const bodyOf = (c: Case) => (typeof c.body === 'function' ? (c.body as () => unknown)() : c.body);

describe.each(CASES)('$method $path ($action)', (c) => {
  test.each(ROLES)('as %s', async (role) => {
    const answer = await callApi(api.url, c.method, c.path, tokens[role].token, bodyOf(c));
    if (MAY[c.action]!.includes(role)) {
      expect({ status: answer.status, type: answer.body.type }).toEqual({
        status: c.allowed,
        type: c.allowed === 200 ? undefined : expect.not.stringMatching(/^(Forbidden|Unauthenticated)$/),
      });
    } else {
      expect(answer.status).toBe(403);
      expect(answer.body.type).toBe('Forbidden');
      expect(answer.body.message).toContain(`needs role ${NEEDED[c.action]}`);
    }
  });
});

test('the table covers every operation /openapi.json describes', async () => {
  const document = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const described = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
  );
  const covered = new Set(
    CASES.map((c) => {
      const path = c.path
        .split('?')[0]!
        .replace(lane, '{env}/{target}/{region}')
        .replace(/\/v1\/envs\/dev\//, '/v1/envs/{env}/')
        .replace(/\/snapshots\/[^/]+\//, '/snapshots/{snapshot}/')
        .replace(/\/v1\/decisions\/\w+/, '/v1/decisions/{id}')
        .replace(/\/v1\/schedules\/[\w-]+/, '/v1/schedules/{name}')
        .replace(/\/v1\/tokens\/[\w-]+/, '/v1/tokens/{name}')
        .replace(/\/v1\/evaluator-keys\/[\w-]+/, '/v1/evaluator-keys/{key}');
      return `${c.method} ${path}`;
    }),
  );
  expect(described.filter((operation) => !covered.has(operation))).toEqual([]);
  expect(described.length).toBeGreaterThanOrEqual(20);
});
