import { z } from 'zod';
import { durationSchema } from '../../policy/facts/duration';
import { envSchema, lanePartSchema } from '../../policy/lane';
import { assertAllowed, assertAllowedSomewhere, route, type ApiRoute } from './route';

/**
 * Checking records and trying candidates: decision record and chain verification, impact analysis on
 * logged traffic, one evaluation of a stored version, whether workers serve the pipeline's task
 * queues. Nothing here changes what a lane serves.
 */
const packedBundleSchema = z.object({ format: z.string(), files: z.record(z.string(), z.string()) });
/** A public key (a private one is accepted too, but pkgctl sends only the public half). */
const keyBody = z.object({ publicKey: z.string().min(1).max(10_000).optional() });

const verifyRoutes = [
  route({
    method: 'POST',
    url: '/v1/decisions/:id/verify',
    summary: "check a decision record's hash, signature (publicKey PEM, else the installation's key) and link",
    action: 'read',
    params: z.object({ id: z.string().min(1).max(200) }),
    body: keyBody,
    envs: () => [],
    async handle({ deps, params, body, identity }) {
      const stored = await deps.plane.decision(params.id);
      assertAllowed(identity, 'read', [envSchema.parse(stored.env)]);
      return deps.plane.verifyDecision(params.id, body.publicKey);
    },
  }),
  route({
    method: 'POST',
    url: '/v1/envs/:env/verify',
    summary: "walk an env's decision chain, naming its first broken link",
    action: 'read',
    params: z.object({ env: envSchema }),
    body: keyBody,
    envs: ({ params }) => [params.env],
    handle: ({ deps, params, body }) => deps.plane.verifyChain(params.env, body.publicKey),
  }),
];

const impactBody = z
  .object({
    env: envSchema,
    target: lanePartSchema.default('default'),
    region: lanePartSchema.default('default'),
    bundle: packedBundleSchema.optional(),
    version: z.string().min(1).optional(),
    since: durationSchema(1).default(24 * 3_600_000),
    limit: z.number().int().min(1).max(1_000_000).default(100_000),
    examples: z.number().int().min(0).max(100).default(5),
  })
  .refine((b) => (b.bundle === undefined) !== (b.version === undefined), 'give exactly one of bundle and version');

const tryRoutes = [
  route({
    method: 'POST',
    url: '/v1/impact',
    summary: "replay a lane's logged decisions on a bundle or stored version and report what changes (waits)",
    action: 'impact',
    body: impactBody,
    envs: ({ body }) => [body.env],
    handle: ({ deps, body, identity }) =>
      deps.plane.impact({
        lane: { env: body.env, target: body.target, region: body.region },
        bundle: body.bundle ? { packed: Buffer.from(JSON.stringify(body.bundle)) } : { version: body.version! },
        windowMs: body.since,
        limit: body.limit,
        maxExamples: body.examples,
        actor: identity.subject,
      }),
  }),
  route({
    method: 'POST',
    url: '/v1/evaluations',
    summary: 'one decision of a stored snapshot version (CONTROL input; facts from pkg_facts unless given)',
    action: 'evaluate',
    body: z.object({
      version: z.string().min(1),
      input: z.unknown(),
      engine: z.enum(['native', 'wasm']).optional(),
    }),
    envs: () => [],
    async handle({ deps, body, identity }) {
      assertAllowedSomewhere(identity, 'evaluate');
      const evaluation = await deps.plane.evaluate(body);
      assertAllowed(identity, 'evaluate', [evaluation.env]);
      return evaluation;
    },
  }),
];

const workerRoutes = [
  route({
    method: 'GET',
    url: '/v1/workers',
    summary: 'whether workers poll the task queues rollouts and impact analyses run on',
    action: 'read',
    envs: () => [],
    handle: ({ deps }) => deps.plane.workers(),
  }),
];

export const analysisRoutes: ApiRoute[] = [...verifyRoutes, ...tryRoutes, ...workerRoutes];
