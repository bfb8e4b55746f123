import { ENVS, laneName, type Env, type Lane } from '../lane';
import type { ParseResult } from '../engine/evaluation-request';

/**
 * Where an evaluator key may evaluate, and which lanes need a key at all. A scope is a list of lane
 * patterns `env/target/region`; any part may hold `*` globs (`prod/web-*` + `/*`), and a missing
 * part means any (`prod` is every lane of prod, `prod/web` every region of target web).
 */
export type LanePattern = readonly [env: string, target: string, region: string];

const PATTERN_PART = /^[A-Za-z0-9_.*-]+$/;

/** A comma list of lane patterns, each checked; a pattern given twice is kept once. */
export function parseKeyScope(text: string): ParseResult<LanePattern[]> {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) return { ok: false, reason: 'scope: at least one lane pattern, e.g. prod/web/*' };
  const patterns: LanePattern[] = [];
  for (const item of items) {
    const parts = item.split('/');
    const [env, target = '*', region = '*'] = parts;
    if (parts.length > 3 || ![env, target, region].every((part) => PATTERN_PART.test(part!)))
      return {
        ok: false,
        reason: `scope: bad lane pattern ${JSON.stringify(item)}: expected env/target/region with * globs`,
      };
    if (!env!.includes('*') && !ENVS.includes(env as Env))
      return {
        ok: false,
        reason: `scope: ${JSON.stringify(item)} names env ${env}: expected ${ENVS.join(', ')} or a glob`,
      };
    patterns.push([env!, target, region]);
  }
  const unique = new Map(patterns.map((pattern) => [pattern.join('/'), pattern]));
  return { ok: true, value: [...unique.values()] };
}

/** The envs a scope reaches: those its patterns' env parts match (`*` reaches every env). */
export function keyScopeEnvs(patterns: readonly LanePattern[]): Env[] {
  const envGlob = (glob: string) => new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`);
  return ENVS.filter((env) => patterns.some(([glob]) => envGlob(glob).test(env)));
}

export const formatKeyScope = (patterns: readonly LanePattern[]): string => patterns.map((p) => p.join('/')).join(',');

/** One matcher for a whole scope: built when a key is cached, run on each request. */
export function compileKeyScope(patterns: readonly LanePattern[]): (lane: Lane) => boolean {
  const part = (glob: string) => glob.split('*').map(escapeRegExp).join('[^/]*');
  const regex = new RegExp(`^(?:${patterns.map((p) => p.map(part).join('/')).join('|')})$`);
  return (lane) => regex.test(laneName(lane));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Which lanes need a key (EVALUATOR_REQUIRE_KEYS): `true` every lane, `false` none, unset the lanes
 * of the envs in EVALUATOR_KEYS_REQUIRED_ENVS (prod by default).
 */
export function keysRequiredFor(
  requireKeys: boolean | undefined,
  requiredEnvs: readonly Env[],
): (lane: Lane) => boolean {
  if (requireKeys !== undefined) return () => requireKeys;
  const envs = new Set<string>(requiredEnvs);
  return (lane) => envs.has(lane.env);
}
