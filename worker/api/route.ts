import { z } from 'zod';
import { PkgError } from '../../policy/errors';
import { authorize, type Action, type Identity } from '../../policy/identity/access';
import { ENVS, type Env } from '../../policy/lane';
import type { ControlPlane } from '../../client/control-plane';

/**
 * One route of the control-plane API (README "Identity and access"): the action it is (and so the
 * role it needs, policy/identity/access.ts), the envs it touches, and its zod schemas, which both
 * parse requests and describe them in /openapi.json. Handlers are thin over the ControlPlane pkgctl
 * uses, with the verified identity as actor.
 */
export interface ApiDeps {
  plane: ControlPlane;
  separatedEnvs: readonly Env[];
  /** The actor a rollout was started by (its input), for separation of duties. */
  starterOf(workflowId: string): Promise<string | null>;
  /** Records that `subject` sends this action to this workflow; the id goes in the Update. */
  recordVerifiedAction(action: { workflowId: string; action: string; subject: string }): Promise<string>;
}

type Schema = z.ZodType;
type Input<P extends Schema, Q extends Schema, B extends Schema> = {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
};

export interface Call<P extends Schema, Q extends Schema, B extends Schema> extends Input<P, Q, B> {
  identity: Identity;
  deps: ApiDeps;
}

export interface ApiRoute<P extends Schema = Schema, Q extends Schema = Schema, B extends Schema = Schema> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  summary: string;
  action: Action;
  params: P;
  query: Q;
  body: B | null;
  /** The envs the action touches, checked before the handler; all of them when absent. */
  envs?(input: Input<P, Q, B> & { identity: Identity }): readonly Env[];
  handle(call: Call<P, Q, B>): Promise<unknown>;
}

const none = z.object({});

export function route<P extends Schema = typeof none, Q extends Schema = typeof none, B extends Schema = typeof none>(
  spec: Omit<ApiRoute<P, Q, B>, 'params' | 'query' | 'body'> & { params?: P; query?: Q; body?: B },
): ApiRoute {
  return { ...spec, params: spec.params ?? none, query: spec.query ?? none, body: spec.body ?? null };
}

/**
 * For a route that learns its env only from what it reads: Forbidden, naming the role needed, unless
 * the identity may take the action in at least one env (the route checks the env itself later).
 */
export function assertAllowedSomewhere(identity: Identity, action: Action): void {
  if (ENVS.some((env) => authorize(identity, action, [env]).ok)) return;
  assertAllowed(identity, action, ENVS);
}

/** Throws Forbidden naming the role needed when the identity may not act in these envs. */
export function assertAllowed(identity: Identity, action: Action, envs: readonly Env[]): void {
  const decision = authorize(identity, action, envs);
  if (!decision.ok) throw new PkgError('Forbidden', decision.message);
}
