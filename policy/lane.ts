import { z } from 'zod';
import { PkgError } from './errors';

/**
 * Envs and lanes, the one home of both. A lane is where a rollout happens and what an evaluator
 * serves: an env plus a target and a region (the seed's `target`/`region` of pkg_deployments).
 * Everything that names a lane prints it with laneName, so logs, metrics labels, search attributes
 * and workflow ids agree.
 */
export const ENVS = ['prod', 'staging', 'dev'] as const;
export type Env = (typeof ENVS)[number];

export const envSchema = z.enum(ENVS, { error: 'prod, staging or dev' });

export interface Lane {
  env: Env;
  target: string;
  region: string;
}

/** Target and region of a lane created by a rollout: no '/', so `env/target/region` is unambiguous. */
export const LANE_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const DEFAULT_LANE_PART = 'default';

export const lanePartSchema = z.string().regex(LANE_PART, 'letters, digits, _ . - (no slashes)');

export const laneSchema = z.object({ env: envSchema, target: lanePartSchema, region: lanePartSchema });

export const laneName = (lane: Lane): string => `${lane.env}/${lane.target}/${lane.region}`;

export const sameLane = (a: Lane, b: Lane): boolean =>
  a.env === b.env && a.target === b.target && a.region === b.region;

/** Only the lane's own fields, so a caller's wider object never leaks into payloads or rows. */
export const laneOf = (lane: Lane): Lane => ({ env: lane.env, target: lane.target, region: lane.region });

/** A lane as printed by laneName (`env/target/region`, or just `env` for its default lane). */
export function parseLaneName(text: string): Lane {
  const [env, target = DEFAULT_LANE_PART, region = DEFAULT_LANE_PART, ...rest] = text.split('/');
  const parsed = laneSchema.safeParse({ env, target, region });
  if (rest.length > 0 || !parsed.success) {
    throw new PkgError('InputInvalid', `bad lane ${JSON.stringify(text)}: expected env/target/region, e.g. dev/web/eu`);
  }
  return parsed.data;
}
