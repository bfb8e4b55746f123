import { z } from 'zod';
import { PkgError } from '../../policy/errors';
import { separationRefusal, type Identity } from '../../policy/identity/access';
import { envSchema, laneSchema, lanePartSchema, type Lane } from '../../policy/lane';
import { OPERATOR_ACTIONS, type OperatorAction } from '../../policy/rollout/operator-actions';
import { rolloutOverridesSchema } from '../../policy/rollout/config';
import { rolloutWorkflowId } from '../../workflows/definitions';
import type { ControlPlane } from '../../client/control-plane';
import { assertAllowed, route, type ApiDeps, type ApiRoute } from './route';

/** Bundles, snapshot seals, promotions, operator actions, lane repairs, history and decision records. */
const packedBundleSchema = z.object({ format: z.string(), files: z.record(z.string(), z.string()) });
const packed = (bundle: z.output<typeof packedBundleSchema>) => Buffer.from(JSON.stringify(bundle));
const laneParams = laneSchema;
const LANE_URL = ':env/:target/:region';
const reasonBody = z.object({ reason: z.string().max(500).default('') });
const laneEnvs = ({ params }: { params: Lane }) => [params.env];

const bundleRoutes = [
  route({
    method: 'POST',
    url: '/v1/bundles',
    summary: 'check and store a bundle (the pkg-bundle/1 upload format) without starting a rollout',
    action: 'bundle.upload',
    body: z.object({ env: envSchema, bundle: packedBundleSchema }),
    envs: ({ body }) => [body.env],
    handle: ({ deps, body, identity }) => deps.plane.upload(packed(body.bundle), body.env, identity.subject),
  }),
  route({
    method: 'POST',
    url: '/v1/bundles/validate',
    summary: 'check every file, verify signatures, build the wasm and run the fixtures on both engines',
    action: 'bundle.validate',
    body: z.object({ env: envSchema, bundle: packedBundleSchema }),
    envs: ({ body }) => [body.env],
    handle: ({ deps, body }) => deps.plane.validate(packed(body.bundle), body.env),
  }),
  route({
    method: 'POST',
    url: '/v1/envs/:env/snapshots/:snapshot/seal',
    summary:
      "seal a snapshot written as rows the seed's way (by version or integer id), so evaluators verify and serve it; audited",
    action: 'snapshot.seal',
    params: z.object({ env: envSchema, snapshot: z.string().min(1).max(200) }),
    envs: ({ params }) => [params.env],
    handle: ({ deps, params, identity }) => deps.plane.sealSnapshot({ ...params, actor: identity.subject }),
  }),
  route({
    method: 'POST',
    url: '/v1/promotions',
    summary: "upload a bundle and start its rollout on a lane (the caller's identity is the rollout's actor)",
    action: 'promote',
    body: z.object({
      env: envSchema,
      target: lanePartSchema.default('default'),
      region: lanePartSchema.default('default'),
      overrides: rolloutOverridesSchema.default({}),
      bundle: packedBundleSchema,
    }),
    envs: ({ body }) => [body.env],
    handle: ({ deps, body, identity }) =>
      deps.plane.promote({
        packed: packed(body.bundle),
        lane: { env: body.env, target: body.target, region: body.region },
        overrides: body.overrides,
        actor: identity.subject,
      }),
  }),
];

const rolloutActionRoutes = [
  route({
    method: 'GET',
    url: `/v1/rollouts/${LANE_URL}`,
    summary: "a lane's rollout: stage, step, percent, holds and every verdict so far",
    action: 'read',
    params: laneParams,
    envs: laneEnvs,
    handle: ({ deps, params }) => deps.plane.status(rolloutWorkflowId(params)),
  }),
  route({
    method: 'GET',
    url: `/v1/rollouts/${LANE_URL}/result`,
    summary: "the rollout's result once it has ended ({done: true, result}), else {done: false, status}",
    action: 'read',
    params: laneParams,
    envs: laneEnvs,
    handle: ({ deps, params }) => rolloutResult(deps.plane, rolloutWorkflowId(params)),
  }),
  ...OPERATOR_ACTIONS.map((action) => actionRoute(action)),
];

function actionRoute(action: OperatorAction): ApiRoute {
  return route({
    method: 'POST',
    url: `/v1/rollouts/${LANE_URL}/${action}`,
    summary: `${action} the lane's running rollout (refused with 409 when its state does not allow it)`,
    action,
    params: laneParams,
    body: reasonBody,
    envs: laneEnvs,
    async handle({ deps, params, body, identity }) {
      const workflowId = rolloutWorkflowId(params);
      if (action === 'approve') await assertSeparated(deps, identity, params, workflowId);
      const verification = await deps.recordVerifiedAction({ workflowId, action, subject: identity.subject });
      return deps.plane.act({ workflowId, action, actor: identity.subject, reason: body.reason, verification });
    },
  });
}

async function assertSeparated(deps: ApiDeps, identity: Identity, lane: Lane, workflowId: string): Promise<void> {
  if (!deps.separatedEnvs.includes(lane.env)) return;
  const starter = await deps.starterOf(workflowId);
  const refused = starter === null ? null : separationRefusal(identity.subject, starter, lane.env, deps.separatedEnvs);
  if (refused) throw new PkgError('Forbidden', refused);
}

/** Polled by `pkgctl promote --wait`: a request never waits on a rollout that can run for hours. */
async function rolloutResult(plane: ControlPlane, workflowId: string) {
  const status = await plane.status(workflowId);
  if (!['promoted', 'rolled_back', 'rejected'].includes(status.stage)) return { done: false, status };
  return { done: true, result: await plane.waitForOutcome(workflowId, () => undefined) };
}

const laneRoutes = [
  route({
    method: 'POST',
    url: `/v1/lanes/${LANE_URL}/abort`,
    summary: 'heal a lane whose rollout died: withdraw the candidate it left, audited',
    action: 'abort',
    params: laneParams,
    body: z.object({ reason: z.string().trim().min(1, 'a reason (audited)').max(500) }),
    envs: laneEnvs,
    handle: ({ deps, params, body, identity }) => deps.plane.abort(params, body.reason, identity.subject),
  }),
  route({
    method: 'POST',
    url: `/v1/lanes/${LANE_URL}/revert`,
    summary: 'serve again a snapshot this lane served as stable before: fixtures first, audited, a decision record',
    action: 'revert',
    params: laneParams,
    body: z
      .object({ to: z.string().min(1), reason: z.string().max(500).optional(), force: z.boolean().default(false) })
      .refine((b) => !b.force || !!b.reason?.trim(), 'force needs a reason: an override of the revert rule is audited'),
    envs: laneEnvs,
    handle: ({ deps, params, body, identity }) =>
      deps.plane.revert({
        lane: params,
        version: body.to,
        actor: identity.subject,
        reason: body.reason ?? 'manual revert',
        force: body.force,
      }),
  }),
  route({
    method: 'GET',
    url: '/v1/envs/:env/history',
    summary: "an env's decisions and reverts, newest first",
    action: 'read',
    params: z.object({ env: envSchema }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(20) }),
    envs: ({ params }) => [params.env],
    handle: ({ deps, params, query }) => deps.plane.history(params.env, query.limit),
  }),
  route({
    method: 'GET',
    url: '/v1/decisions/:id',
    summary: 'a decision record by id (sha256) or rollout id',
    action: 'read',
    params: z.object({ id: z.string().min(1).max(200) }),
    envs: () => [],
    async handle({ deps, params, identity }) {
      const stored = await deps.plane.decision(params.id);
      assertAllowed(identity, 'read', [envSchema.parse(stored.env)]);
      return stored;
    },
  }),
];

export const rolloutRoutes: ApiRoute[] = [...bundleRoutes, ...rolloutActionRoutes, ...laneRoutes];
