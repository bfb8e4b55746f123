import { z } from 'zod';
import { PkgError, type Problem } from '../errors';
import { durationSchema, parseDuration } from './duration';
import type { ReplaySettings } from './impact';

/**
 * The replay stage's settings (`rollout.replay`, policy/rollout/impact.ts): how much logged traffic
 * is replayed and what too little means. More replayed evidence is tighter: window, limit and
 * min_decisions only grow, and once a layer requires a replay no later layer may skip it. The
 * budget itself, `max_replay_divergence`, is a gate and merges with the other budgets.
 */
export const replayOverridesSchema = z.strictObject({
  window: durationSchema.optional(),
  limit: z.number().int().min(1).max(10_000_000).optional(),
  min_decisions: z.number().int().min(0).optional(),
  on_insufficient: z.enum(['skip', 'require']).optional(),
});

export type ReplayOverrides = z.infer<typeof replayOverridesSchema>;

const GROWING = ['window', 'limit', 'min_decisions'] as const;

const size = (key: (typeof GROWING)[number], value: string | number) =>
  key === 'window' ? parseDuration(String(value)) : Number(value);

/** Merges one layer into the accumulated settings; a relaxation becomes a Problem, not a value. */
export function mergeReplay(
  acc: ReplayOverrides,
  layer: ReplayOverrides | undefined,
  layerName: string,
  problems: Problem[],
): void {
  for (const key of GROWING) {
    const value = layer?.[key];
    if (value === undefined) continue;
    const current = acc[key];
    if (current !== undefined && size(key, value) < size(key, current)) {
      problems.push({ path: `rollout.replay.${key}`, message: `${layerName} sets ${value}, less than ${current}` });
      continue;
    }
    Object.assign(acc, { [key]: value });
  }
  const policy = layer?.on_insufficient;
  if (policy === undefined) return;
  if (acc.on_insufficient === 'require' && policy === 'skip') {
    problems.push({
      path: 'rollout.replay.on_insufficient',
      message: `${layerName} sets skip, but require is in force`,
    });
    return;
  }
  acc.on_insufficient = policy;
}

export function toReplaySettings(merged: ReplayOverrides, maxDivergence: number): ReplaySettings {
  const required = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new PkgError('InputInvalid', `rollout defaults do not set replay.${name}`);
    return value;
  };
  return {
    maxDivergence,
    minDecisions: required(merged.min_decisions, 'min_decisions'),
    windowMs: parseDuration(required(merged.window, 'window')),
    limit: required(merged.limit, 'limit'),
    onInsufficient: required(merged.on_insufficient, 'on_insufficient'),
  };
}
