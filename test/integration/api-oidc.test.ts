import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { callApi, startApi, type RunningApi } from './api-harness';

/**
 * OIDC JWTs against a JWKS this test serves, the way GitHub Actions' id tokens would be: claims
 * mapped to roles by PKG_OIDC_ROLES; a wrong signature, issuer, audience or an expired token is the
 * API's one 401; a valid token no rule matches holds no role. JWTs are made here with node:crypto,
 * independently of the library the API verifies them with.
 */
const ISSUER = 'https://token.actions.example';
const AUDIENCE = 'pkg-api';
const KID = 'test-key-1';
const trusted = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RULES = [
  { claims: { repository: 'acme/policies', ref: 'refs/heads/main' }, role: 'deployer', envs: ['dev'] },
  { claims: { repository: 'acme/policies' }, role: 'viewer', envs: ['dev', 'prod'] },
];

let jwks: Server;
let api: RunningApi;

beforeAll(async () => {
  const jwk = { ...trusted.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
  jwks = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const { port } = jwks.address() as { port: number };
  api = await startApi({
    PKG_OIDC_ISSUER: ISSUER,
    PKG_OIDC_AUDIENCE: AUDIENCE,
    PKG_OIDC_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
    PKG_OIDC_ROLES: JSON.stringify(RULES),
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
  await new Promise((resolve) => jwks?.close(resolve));
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function jwt(claims: Record<string, unknown>, key: KeyObject = trusted.privateKey): string {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'RS256', typ: 'JWT', kid: KID })}.${b64({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'repo:acme/policies:ref:refs/heads/main',
    iat: now,
    exp: now + 300,
    ...claims,
  })}`;
  return `${body}.${sign('sha256', Buffer.from(body), key).toString('base64url')}`;
}

const mainBranch = { repository: 'acme/policies', ref: 'refs/heads/main' };
const promoteDev = { env: 'dev', bundle: { format: 'pkg-bundle/1', files: {} } };

test('claims that match a rule grant its role: main of acme/policies may promote in dev, past authorization', async () => {
  const answer = await callApi(api.url, 'POST', '/v1/promotions', jwt(mainBranch), promoteDev);
  expect(answer).toMatchObject({ status: 422, body: { type: 'BundleInvalid' } });
});

test('rules add up per env: the same token reads prod but may not promote there', async () => {
  const token = jwt(mainBranch);
  expect((await callApi(api.url, 'GET', '/v1/envs/prod/history', token)).status).toBe(200);
  const refused = await callApi(api.url, 'POST', '/v1/promotions', token, { ...promoteDev, env: 'prod' });
  expect(refused).toMatchObject({ status: 403, body: { message: 'promote needs role deployer in prod' } });
});

test('another branch only reads; a repository no rule names holds no role at all', async () => {
  const branch = jwt({ ...mainBranch, ref: 'refs/heads/feature' });
  expect((await callApi(api.url, 'POST', '/v1/promotions', branch, promoteDev)).status).toBe(403);
  expect((await callApi(api.url, 'GET', '/v1/envs/dev/history', branch)).status).toBe(200);
  const outsider = await callApi(api.url, 'GET', '/v1/facts/stats', jwt({ repository: 'evil/fork' }));
  expect(outsider.status).toBe(403);
  expect(outsider.body.message).toContain('holds no role');
});

test('a wrong key, issuer or audience, or an expired token, is the one 401', async () => {
  const now = Math.floor(Date.now() / 1000);
  const bad = [
    jwt(mainBranch, stranger.privateKey),
    jwt({ ...mainBranch, iss: 'https://elsewhere.example' }),
    jwt({ ...mainBranch, aud: 'another-api' }),
    jwt({ ...mainBranch, iat: now - 600, exp: now - 300 }),
  ];
  for (const token of bad) {
    const answer = await callApi(api.url, 'POST', '/v1/promotions', token, promoteDev);
    expect(answer).toMatchObject({ status: 401, body: { type: 'Unauthenticated' } });
  }
});
