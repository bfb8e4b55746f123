import { z } from 'zod';
import { evaluatorKeyRequestSchema } from '../../policy/access/key-request';
import { keyScopeEnvs, parseKeyScope } from '../../policy/access/key-scope';
import { PkgError } from '../../policy/errors';
import type { Identity } from '../../policy/identity/access';
import { tokenRequestSchema } from '../../policy/identity/tokens';
import { ENVS, type Env } from '../../policy/lane';
import { assertAllowed, assertAllowedSomewhere, route, type ApiRoute } from './route';

/** Facts, memories, schedules, tokens and evaluator keys: the actions that touch no single env. */
const factRoutes = [
  route({
    method: 'POST',
    url: '/v1/facts',
    summary:
      'store a fact (fields as pkgctl facts add: subject, predicate, object, namespace, validFrom, validTo, ttl)',
    action: 'facts.add',
    body: z.record(z.string(), z.unknown()),
    handle: ({ deps, body }) => deps.plane.addFact(body),
  }),
  route({
    method: 'GET',
    url: '/v1/facts',
    summary: "a subject's facts valid now (includeExpired: also expired and not-yet-valid ones)",
    action: 'read',
    query: z.object({
      subject: z.string().min(1),
      namespace: z.string().min(1).optional(),
      includeExpired: z.enum(['true', 'false']).optional(),
    }),
    envs: () => [],
    handle: ({ deps, query }) => deps.plane.listFacts({ ...query, includeExpired: query.includeExpired === 'true' }),
  }),
  route({
    method: 'GET',
    url: '/v1/facts/stats',
    summary: 'per namespace: total, temporal, expired, active facts',
    action: 'read',
    query: z.object({ namespace: z.string().min(1).optional() }),
    envs: () => [],
    handle: ({ deps, query }) => deps.plane.factStatistics(query.namespace ?? null),
  }),
  route({
    method: 'POST',
    url: '/v1/facts/cleanup',
    summary: 'archive, then delete, facts expired longer than the grace period, in batches',
    action: 'facts.cleanup',
    body: z.record(z.string(), z.unknown()),
    handle: ({ deps, body }) => deps.plane.cleanupFacts(body),
  }),
];

const memoryRoutes = [
  route({
    method: 'POST',
    url: '/v1/memories',
    summary:
      'store one Unified Cortex memory, replacing one with its id (fields as a line of pkgctl memory import: id, tier, label, text_sha256, embedding, snapshot)',
    action: 'memory.add',
    body: z.record(z.string(), z.unknown()),
    // A memory of one snapshot's world needs author in that snapshot's env; one of every snapshot's, in every env.
    envs: () => [],
    handle: ({ deps, body, identity }) => {
      assertAllowedSomewhere(identity, 'memory.add');
      return deps.plane.addMemory(body, (env) => assertAllowed(identity, 'memory.add', env === null ? ENVS : [env]));
    },
  }),
  route({
    method: 'GET',
    url: '/v1/memories/stats',
    summary: 'memories per tier and snapshot, and the size of the vector index',
    action: 'read',
    envs: () => [],
    handle: ({ deps }) => deps.plane.memoryStats(),
  }),
  route({
    method: 'POST',
    url: '/v1/memories/prune',
    summary: 'delete (dryRun: count) memories created longer ago than olderThan, of a tier or snapshot if named',
    action: 'memory.prune',
    body: z.record(z.string(), z.unknown()),
    handle: ({ deps, body }) => deps.plane.pruneMemories(body),
  }),
];

const scheduleRoutes = [
  route({
    method: 'PUT',
    url: '/v1/schedules/:name',
    summary: 'create or update a Temporal Schedule of the pipeline worker (overlap: skip)',
    action: 'schedule',
    params: z.object({ name: z.enum(['fact-cleanup', 'decision-log-retention']) }),
    body: z.object({ every: z.string().min(1), request: z.record(z.string(), z.unknown()).optional() }),
    handle: ({ deps, params, body }) => deps.plane.schedule({ name: params.name, ...body }),
  }),
];

/** The envs in which the identity is admin: it manages exactly the tokens scoped inside them. */
const administered = (identity: Identity): Env[] =>
  ENVS.filter((env) => identity.grants.some((g) => g.role === 'admin' && g.envs.includes(env)));

/** Past the role check only for an admin of some env; the handler then narrows to what it administers. */
const adminSomewhere = ({ identity }: { identity: Identity }): readonly Env[] =>
  administered(identity).length > 0 ? [] : ENVS;

const tokenRoutes = [
  route({
    method: 'POST',
    url: '/v1/tokens',
    summary: 'create an API token; its secret is in this answer only (admin of every env it covers)',
    action: 'token.manage',
    body: tokenRequestSchema,
    envs: ({ body }) => body.envs,
    handle: ({ deps, body, identity }) => deps.plane.createToken(body, identity.subject),
  }),
  route({
    method: 'GET',
    url: '/v1/tokens',
    summary: 'the tokens scoped inside the envs the caller administers (never their secrets)',
    action: 'token.manage',
    envs: adminSomewhere,
    async handle({ deps, identity }) {
      const envs = administered(identity);
      return (await deps.plane.listTokens()).filter((token) => token.envs.every((env) => envs.includes(env)));
    },
  }),
  route({
    method: 'DELETE',
    url: '/v1/tokens/:name',
    summary: 'revoke a token (admin of every env it covers); it stops working at once',
    action: 'token.manage',
    params: z.object({ name: z.string().min(1).max(64) }),
    // Refused before the lookup, so only admins learn whether a token name exists.
    envs: adminSomewhere,
    async handle({ deps, params, identity }) {
      const token = (await deps.plane.listTokens()).find((t) => t.name === params.name);
      if (!token) throw new PkgError('NotFound', `no token named ${params.name}`);
      assertAllowed(identity, 'token.manage', token.envs);
      return deps.plane.revokeToken(params.name, identity.subject);
    },
  }),
];

/** Where a stored key's scope reaches; refused before the lookup tells a non-admin whether it exists. */
const reachOf = (key: { scope: string[] }): readonly Env[] => {
  const parsed = parseKeyScope(key.scope.join(','));
  return parsed.ok ? keyScopeEnvs(parsed.value) : ENVS;
};

const evaluatorKeyRoutes = [
  route({
    method: 'POST',
    url: '/v1/evaluator-keys',
    summary:
      'create an evaluator key (fields as pkgctl evaluator-key create: name, scope, rate, burst, expiresIn); its secret is in this answer only (admin of every env its scope reaches)',
    action: 'evaluator-key.manage',
    body: evaluatorKeyRequestSchema,
    envs: ({ body }) => keyScopeEnvs(body.scope),
    handle: ({ deps, body, identity }) => deps.plane.createEvaluatorKey(body, identity.subject),
  }),
  route({
    method: 'GET',
    url: '/v1/evaluator-keys',
    summary:
      'the evaluator keys whose scope reaches only envs the caller administers (never a secret; all: also revoked)',
    action: 'evaluator-key.manage',
    query: z.object({ all: z.enum(['true', 'false']).optional() }),
    envs: adminSomewhere,
    async handle({ deps, query, identity }) {
      const envs = administered(identity);
      const keys = await deps.plane.listEvaluatorKeys(query.all === 'true');
      return keys.filter((key) => reachOf(key).every((env) => envs.includes(env)));
    },
  }),
  route({
    method: 'DELETE',
    url: '/v1/evaluator-keys/:key',
    summary:
      'revoke a live evaluator key by name or id (admin of every env its scope reaches); evaluators refuse it within 5 s',
    action: 'evaluator-key.manage',
    params: z.object({ key: z.string().min(1).max(100) }),
    envs: adminSomewhere,
    async handle({ deps, params, identity }) {
      const live = await deps.plane.listEvaluatorKeys(false);
      const key = live.find((k) => k.name === params.key || k.id === params.key);
      if (!key) throw new PkgError('NotFound', `no live evaluator key named ${params.key}`);
      assertAllowed(identity, 'evaluator-key.manage', reachOf(key));
      return deps.plane.revokeEvaluatorKey(key.id, identity.subject);
    },
  }),
];

export const adminRoutes: ApiRoute[] = [
  ...factRoutes,
  ...memoryRoutes,
  ...scheduleRoutes,
  ...tokenRoutes,
  ...evaluatorKeyRoutes,
];
