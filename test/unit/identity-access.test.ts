import fc from 'fast-check';
import { grantsFromClaims, parseRoleRules, type RoleRule } from '../../policy/identity/claims';
import { authorize, separationRefusal, ROLES, type Identity } from '../../policy/identity/access';
import {
  formatToken,
  looksLikeToken,
  sameTokenHash,
  tokenHash,
  tokenRequestSchema,
} from '../../policy/identity/tokens';

const as = (role: (typeof ROLES)[number], envs = ['dev'] as const): Identity => ({
  subject: `token:${role}`,
  grants: [{ role, envs }],
});

test('a role acts only in the envs it is granted, and the refusal names the role and the envs missing', () => {
  expect(authorize(as('deployer'), 'promote', ['dev'])).toEqual({ ok: true });
  expect(authorize(as('deployer'), 'promote', ['prod'])).toEqual({
    ok: false,
    needed: 'deployer',
    message: 'promote needs role deployer in prod',
  });
});

test('every role reads in its envs; admin does everything there; the others do only their own actions', () => {
  for (const role of ROLES) expect(authorize(as(role), 'read', ['dev']).ok).toBe(true);
  expect(authorize(as('admin'), 'approve', ['dev']).ok).toBe(true);
  expect(authorize(as('deployer'), 'approve', ['dev']).ok).toBe(false);
  expect(authorize(as('approver'), 'promote', ['dev']).ok).toBe(false);
  expect(authorize(as('operator'), 'token.manage', ['dev']).ok).toBe(false);
});

test('actions on no single env (facts, schedules) need the role in every env', () => {
  expect(authorize(as('author', ['dev']), 'facts.add').ok).toBe(false);
  expect(
    authorize({ subject: 'a', grants: [{ role: 'author', envs: ['prod', 'staging', 'dev'] }] }, 'facts.add').ok,
  ).toBe(true);
});

test('separation of duties refuses only the starter, only in the separated envs', () => {
  expect(separationRefusal('token:a', 'token:a', 'prod', ['prod'])).toMatch(/token:a started this rollout/);
  expect(separationRefusal('token:b', 'token:a', 'prod', ['prod'])).toBeNull();
  expect(separationRefusal('token:a', 'token:a', 'dev', ['prod'])).toBeNull();
});

test('tokens are pkg_ plus 43 base64url characters, and only equal hashes compare equal', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      (a, b) => {
        const token = formatToken(a);
        expect(looksLikeToken(token)).toBe(true);
        expect(sameTokenHash(tokenHash(token), tokenHash(token))).toBe(true);
        expect(sameTokenHash(tokenHash(token), tokenHash(formatToken(b)))).toBe(Buffer.compare(a, b) === 0);
      },
    ),
  );
  expect(() => formatToken(new Uint8Array(16))).toThrow(RangeError);
  expect(looksLikeToken('pkg_short')).toBe(false);
});

test('a token request takes * or a comma list of envs, a known role and a lifetime of at least a minute', () => {
  expect(tokenRequestSchema.parse({ name: 'ci', role: 'deployer', envs: '*' })).toEqual({
    name: 'ci',
    role: 'deployer',
    envs: ['prod', 'staging', 'dev'],
    expiresIn: 90 * 86_400_000,
  });
  expect(tokenRequestSchema.parse({ name: 'ci', role: 'viewer', envs: 'dev, staging', expiresIn: '1h' }).envs).toEqual([
    'dev',
    'staging',
  ]);
  for (const bad of [
    { name: 'ci', role: 'root', envs: 'dev' },
    { name: 'ci', role: 'viewer', envs: 'qa' },
    { name: '../x', role: 'viewer', envs: 'dev' },
    { name: 'ci', role: 'viewer', envs: 'dev', expiresIn: '10s' },
  ]) {
    expect(tokenRequestSchema.safeParse(bad).success).toBe(false);
  }
});

test('claims grant the roles of every rule whose claims all equal, compared as exact strings', () => {
  const rules: RoleRule[] = [
    { claims: { repository: 'acme/p', ref: 'refs/heads/main' }, role: 'deployer', envs: ['prod'] },
    { claims: { repository: 'acme/p' }, role: 'viewer', envs: ['dev'] },
  ];
  expect(grantsFromClaims({ repository: 'acme/p', ref: 'refs/heads/main' }, rules)).toEqual([
    { role: 'deployer', envs: ['prod'] },
    { role: 'viewer', envs: ['dev'] },
  ]);
  expect(grantsFromClaims({ repository: 'acme/p', ref: 'refs/heads/mainx' }, rules)).toEqual([
    { role: 'viewer', envs: ['dev'] },
  ]);
  expect(grantsFromClaims({ repository: ['acme/p'] }, rules)).toEqual([]);
});

test('PKG_OIDC_ROLES must be JSON rules naming claims, a known role and envs; the reason names the field', () => {
  expect(parseRoleRules('[{"claims":{"sub":"x"},"role":"viewer","envs":["dev"]}]').ok).toBe(true);
  expect(parseRoleRules('nope')).toEqual({ ok: false, reason: 'not JSON' });
  expect(parseRoleRules('[{"claims":{},"role":"viewer","envs":["dev"]}]')).toMatchObject({
    ok: false,
    reason: /^0\.claims/,
  });
  expect(parseRoleRules('[{"claims":{"sub":"x"},"role":"root","envs":["dev"]}]')).toMatchObject({
    ok: false,
    reason: /^0\.role/,
  });
});

test('an identity with no grants may not even read', () => {
  expect(authorize({ subject: 'oidc:x', grants: [] }, 'read', [])).toMatchObject({ ok: false, needed: 'viewer' });
});
