import { z } from 'zod';
import { PkgError, type Problem } from '../errors';
import type { Env } from '../lane';
import type { ReplaySettings } from './impact';

/**
 * Rollout settings (ARCHITECTURE.md §7). Layers merge global → env → bundle → command line so that the
 * whole plan only tightens, and a later layer that tries to relax anything is refused with each
 * violation named:
 * - gates: a floor (min_requests, coverage, min_bake, max_extensions) takes the max of the layers, a
 *   budget (max_error_rate, max_divergence, p99 factor/slack/ceiling) the min;
 * - steps end at 100, and a later layer may add steps but never remove one (so it cannot start higher);
 * - bake and coverage_timeout only grow, and the bake respects the merged min_bake;
 * - approve_at only ever adds approvals.
 * The global layer is the least any env may run; each env's layer adds to it.
 */
const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new PkgError('InputInvalid', `bad duration ${JSON.stringify(text)}: expected e.g. 30s, 2m, 500ms`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

const duration = z.string().regex(DURATION, 'a duration such as 500ms, 30s, 2m or 1h');
const percent = z.number().gt(0).lte(100);
const rate = z.number().min(0).max(1);

export const gateOverridesSchema = z.strictObject({
  min_requests: z.number().int().min(1).optional(),
  coverage: z.number().gt(0).max(1).optional(),
  min_bake: duration.optional(),
  max_error_rate: rate.optional(),
  max_divergence: rate.optional(),
  p99_factor: z.number().min(1).optional(),
  p99_slack_ms: z.number().min(0).optional(),
  max_p99_ms: z.number().gt(0).optional(),
  max_extensions: z.number().int().min(0).max(20).optional(),
  max_replay_divergence: rate.optional(),
});

/** The replay stage (policy/rollout/impact.ts): how much logged traffic, and what too little means. */
export const replayOverridesSchema = z.strictObject({
  window: duration.optional(),
  limit: z.number().int().min(1).max(10_000_000).optional(),
  min_decisions: z.number().int().min(0).optional(),
  on_insufficient: z.enum(['skip', 'require']).optional(),
});

/** The manifest's `rollout:` block; also the shape of every other layer. */
export const rolloutOverridesSchema = z.strictObject({
  steps: z
    .array(percent)
    .min(1)
    .refine((s) => s.every((p, i) => i === 0 || p > s[i - 1]!), 'steps must rise strictly')
    .optional(),
  bake: duration.optional(),
  coverage_timeout: duration.optional(),
  approve_at: z.array(percent).optional(),
  gates: gateOverridesSchema.optional(),
  replay: replayOverridesSchema.optional(),
});

export type RolloutOverrides = z.infer<typeof rolloutOverridesSchema>;

export interface GateConfig {
  minRequests: number;
  coverage: number;
  minBakeMs: number;
  maxErrorRate: number;
  maxDivergence: number;
  p99Factor: number;
  p99SlackMs: number;
  maxP99Ms: number;
  maxExtensions: number;
}

export interface RolloutConfig {
  steps: number[];
  bakeMs: number;
  coverageTimeoutMs: number;
  /** Percents from approve_at: the first step reaching each one waits for an approve signal. */
  approveAt: number[];
  gates: GateConfig;
  replay: ReplaySettings;
}

/** Built-in layers; ARCHITECTURE.md §7 defaults plus stricter prod budgets. */
export const GLOBAL_ROLLOUT_DEFAULTS: RolloutOverrides = {
  steps: [50, 100],
  bake: '1s',
  coverage_timeout: '60s',
  approve_at: [],
  gates: {
    min_requests: 200,
    coverage: 1,
    min_bake: '0s',
    max_error_rate: 0.01,
    max_divergence: 0.25,
    p99_factor: 1.25,
    p99_slack_ms: 2,
    max_p99_ms: 1000,
    max_extensions: 2,
    // Any change may be intended until the author declares a budget.
    max_replay_divergence: 1,
  },
  replay: { window: '24h', limit: 100_000, min_decisions: 100, on_insufficient: 'skip' },
};

const FULL_RAMP = [1, 5, 25, 50, 100];

/** dev keeps the global minimum (one 50% step, 1 s bake) for fast iteration; a bundle or flag adds to it. */
export const ENV_ROLLOUT_DEFAULTS: Record<Env, RolloutOverrides> = {
  prod: { steps: FULL_RAMP, bake: '5m', gates: { max_error_rate: 0.001, min_bake: '1m' } },
  staging: { steps: FULL_RAMP, bake: '1m' },
  dev: {},
};

type GateKey = keyof z.infer<typeof gateOverridesSchema>;
const FLOORS: GateKey[] = ['min_requests', 'coverage', 'min_bake', 'max_extensions'];

function numeric(key: GateKey, value: number | string): number {
  return key === 'min_bake' ? parseDuration(String(value)) : Number(value);
}

/** Merges one layer into the accumulated gates; a relaxation becomes a Problem, not a value. */
function mergeGates(
  acc: Record<string, number | string>,
  layer: RolloutOverrides['gates'],
  layerName: string,
  problems: Problem[],
): void {
  for (const [key, value] of Object.entries(layer ?? {}) as [GateKey, number | string][]) {
    const current = acc[key];
    const isFloor = FLOORS.includes(key);
    if (current !== undefined) {
      const [next, now] = [numeric(key, value), numeric(key, current)];
      const loosens = isFloor ? next < now : next > now;
      if (loosens) {
        const relation = isFloor ? 'below the floor' : 'above the budget';
        problems.push({ path: `rollout.gates.${key}`, message: `${layerName} sets ${value}, ${relation} ${current}` });
        continue;
      }
    }
    acc[key] = value;
  }
}

/** A later layer may add steps, never remove one; every plan ends at 100. */
function mergeSteps(
  merged: RolloutOverrides,
  steps: number[] | undefined,
  layerName: string,
  problems: Problem[],
): void {
  if (steps === undefined) return;
  const before = problems.length;
  if (steps.at(-1) !== 100) {
    problems.push({ path: 'rollout.steps', message: `${layerName} ends at ${steps.at(-1)}%; every plan ends at 100%` });
  }
  const removed = (merged.steps ?? []).filter((step) => !steps.includes(step));
  if (removed.length > 0) {
    problems.push({
      path: 'rollout.steps',
      message: `${layerName} removes step(s) ${removed.join(', ')} of ${merged.steps!.join(', ')}; steps may only be added`,
    });
  }
  if (problems.length === before) merged.steps = steps;
}

/** Time given to gather evidence: a later layer may lengthen it, never shorten it. */
const GROWING = ['bake', 'coverage_timeout'] as const;

function mergeGrowing(
  merged: RolloutOverrides,
  key: (typeof GROWING)[number],
  value: string | undefined,
  layerName: string,
  problems: Problem[],
): void {
  if (value === undefined) return;
  const current = merged[key];
  if (current !== undefined && parseDuration(value) < parseDuration(current)) {
    problems.push({ path: `rollout.${key}`, message: `${layerName} sets ${value}, shorter than ${current}` });
    return;
  }
  merged[key] = value;
}

/** Validates one layer; the error names the layer and every bad path. */
export function parseRolloutOverrides(raw: unknown, source: string): RolloutOverrides {
  const result = rolloutOverridesSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    file: source,
    path: ['rollout', ...issue.path].join('.'),
    message: issue.message,
  }));
  throw PkgError.fromProblems('InputInvalid', `bad rollout settings in ${source}`, problems);
}

export interface RolloutLayer {
  name: string;
  overrides: RolloutOverrides;
}

/**
 * Merges layers in order. The first layer must set every field (the global defaults do); later
 * layers may only tighten. Throws PkgError('GateConfigLoosened') listing every violation.
 */
export function mergeRolloutLayers(layers: RolloutLayer[]): RolloutConfig {
  const problems: Problem[] = [];
  const gates: Record<string, number | string> = {};
  const merged: RolloutOverrides = {};
  const approveAt = new Set<number>();
  const replay: ReplayOverrides = {};
  for (const { name, overrides } of layers) {
    const layer = parseRolloutOverrides(overrides, name);
    mergeGates(gates, layer.gates, name, problems);
    mergeSteps(merged, layer.steps, name, problems);
    for (const key of GROWING) mergeGrowing(merged, key, layer[key], name, problems);
    mergeReplay(replay, layer.replay, name, problems);
    layer.approve_at?.forEach((p) => approveAt.add(p));
  }
  const config = toRolloutConfig(
    merged,
    gates,
    [...approveAt].sort((a, b) => a - b),
    replay,
  );
  if (config.bakeMs < config.gates.minBakeMs) {
    problems.push({ path: 'rollout.bake', message: `${merged.bake} is shorter than min_bake ${gates.min_bake}` });
  }
  if (problems.length > 0) {
    throw PkgError.fromProblems(
      'GateConfigLoosened',
      'rollout settings may only tighten the environment defaults',
      problems,
    );
  }
  return config;
}

/** The usual stack: built-in global, the env's layer, the bundle's `rollout:`, then CLI flags. */
export function mergeRolloutConfig(
  global: RolloutOverrides,
  env: RolloutOverrides,
  bundle: RolloutOverrides = {},
  commandLine: RolloutOverrides = {},
): RolloutConfig {
  return mergeRolloutLayers([
    { name: 'global defaults', overrides: global },
    { name: 'environment defaults', overrides: env },
    { name: 'bundle', overrides: bundle },
    { name: 'command line', overrides: commandLine },
  ]);
}

export function rolloutConfigFor(
  env: Env,
  bundle: RolloutOverrides = {},
  commandLine: RolloutOverrides = {},
): RolloutConfig {
  return mergeRolloutConfig(GLOBAL_ROLLOUT_DEFAULTS, ENV_ROLLOUT_DEFAULTS[env], bundle, commandLine);
}

function toRolloutConfig(
  merged: RolloutOverrides,
  gates: Record<string, number | string>,
  approveAt: number[],
  replay: ReplayOverrides,
): RolloutConfig {
  const required = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new PkgError('InputInvalid', `rollout defaults do not set ${name}`);
    return value;
  };
  const gate = (key: GateKey) => numeric(key, required(gates[key], `gates.${key}`));
  return {
    steps: required(merged.steps, 'steps'),
    bakeMs: parseDuration(required(merged.bake, 'bake')),
    coverageTimeoutMs: parseDuration(required(merged.coverage_timeout, 'coverage_timeout')),
    approveAt,
    gates: {
      minRequests: gate('min_requests'),
      coverage: gate('coverage'),
      minBakeMs: gate('min_bake'),
      maxErrorRate: gate('max_error_rate'),
      maxDivergence: gate('max_divergence'),
      p99Factor: gate('p99_factor'),
      p99SlackMs: gate('p99_slack_ms'),
      maxP99Ms: gate('max_p99_ms'),
      maxExtensions: gate('max_extensions'),
    },
    replay: {
      maxDivergence: gate('max_replay_divergence'),
      minDecisions: required(replay.min_decisions, 'replay.min_decisions'),
      windowMs: parseDuration(required(replay.window, 'replay.window')),
      limit: required(replay.limit, 'replay.limit'),
      onInsufficient: required(replay.on_insufficient, 'replay.on_insufficient'),
    },
  };
}

type ReplayOverrides = z.infer<typeof replayOverridesSchema>;

/**
 * More replayed evidence is tighter: window, limit and min_decisions only grow, and once a layer
 * requires a replay no later layer may let too little data through.
 */
function mergeReplay(acc: ReplayOverrides, layer: ReplayOverrides | undefined, layerName: string, problems: Problem[]) {
  const size = (key: 'window' | 'limit' | 'min_decisions', value: string | number) =>
    key === 'window' ? parseDuration(String(value)) : Number(value);
  for (const key of ['window', 'limit', 'min_decisions'] as const) {
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

/** Indexes of the steps that wait for approval: the first step reaching each approve_at percent. */
export function approvalStepIndexes(config: Pick<RolloutConfig, 'steps' | 'approveAt'>): number[] {
  const indexes = config.approveAt.map((p) => config.steps.findIndex((step) => step >= p)).filter((i) => i >= 0);
  return [...new Set(indexes)].sort((a, b) => a - b);
}
