import { z } from 'zod';
import { PkgError, type Problem } from '../errors';
import type { Env } from '../lane';
import {
  analysisOverridesSchema,
  mergeAnalysis,
  toAnalysisMetrics,
  type AnalysisMetric,
  type AnalysisMetricOverride,
} from './analysis';
import { durationSchema as duration, parseDuration } from './duration';
import { mergeWebhooks, resolveWebhook, webhookSchema, type Webhook, type WebhookSettings } from './webhooks';

export { parseDuration };
import type { ReplaySettings } from './impact';
import { mergeReplay, replayOverridesSchema, toReplaySettings, type ReplayOverrides } from './replay-settings';

/**
 * Rollout settings (ARCHITECTURE.md §7). Layers merge global → env → bundle → command line so that the
 * whole plan only tightens, and a later layer that tries to relax anything is refused with each
 * violation named:
 * - gates: a floor (min_requests, coverage, min_bake, max_extensions, alpha, consecutive_passes) takes
 *   the max of the layers, a budget (max_error_rate, max_divergence, p99 factor/slack/ceiling,
 *   max_latency_effect) the min. alpha, the significance level of the comparisons with the baseline,
 *   is a floor because a larger alpha fails a candidate on weaker evidence: raising it tightens;
 * - steps end at 100, and a later layer may add steps but never remove one (so it cannot start higher);
 * - bake and coverage_timeout only grow, and the bake respects the merged min_bake;
 * - approve_at only ever adds approvals;
 * - analysis metrics are only added, and a metric's bounds only narrow (policy/rollout/analysis.ts).
 * - webhooks only ever add webhooks (policy/rollout/webhooks.ts).
 * The global layer is the least any env may run; each env's layer adds to it.
 */
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
  // Beyond 0.5 a comparison fails an unchanged candidate more often than not: noise, not safety.
  alpha: z.number().gt(0).max(0.5).optional(),
  max_latency_effect: z.number().min(0.5).max(1).optional(),
  max_latency_excess: rate.optional(),
  latency_slack_ms: z.number().min(0).optional(),
  consecutive_passes: z.number().int().min(1).max(20).optional(),
  max_replay_divergence: rate.optional(),
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
  analysis: analysisOverridesSchema.optional(),
  webhooks: z.array(webhookSchema).optional(),
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
  /** One-sided significance level of the baseline comparisons (error rate, latency distribution). */
  alpha: number;
  /** Largest P(candidate slower) + ½·P(tie) tolerated when the latency difference is significant. */
  maxLatencyEffect: number;
  /** Largest extra share of candidate requests above one latency tolerated when significant. */
  maxLatencyExcess: number;
  /** Latency added to every baseline sample before the distributions are compared. */
  latencySlackMs: number;
  /** Reads in a row, one per bake, that must pass before a step advances. */
  consecutivePasses: number;
}

export interface RolloutConfig {
  steps: number[];
  bakeMs: number;
  coverageTimeoutMs: number;
  /** Percents from approve_at: the first step reaching each one waits for an approve signal. */
  approveAt: number[];
  gates: GateConfig;
  /** Metric gates (rollout.analysis), by name; judged after each bake beside the built-in gates. */
  analysis: AnalysisMetric[];
  webhooks: Webhook[];
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
    alpha: 0.05,
    max_latency_effect: 0.64,
    max_latency_excess: 0.2,
    latency_slack_ms: 2,
    consecutive_passes: 1,
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
const FLOORS: GateKey[] = ['min_requests', 'coverage', 'min_bake', 'max_extensions', 'alpha', 'consecutive_passes'];

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

/** What the layers merged so far hold, in each field's own merge form. */
interface LayerMerge {
  gates: Record<string, number | string>;
  merged: RolloutOverrides;
  approveAt: Set<number>;
  analysis: Map<string, AnalysisMetricOverride>;
  webhooks: Map<string, { layer: string; hook: WebhookSettings }>;
  replay: ReplayOverrides;
}

function addLayer(acc: LayerMerge, { name, overrides }: RolloutLayer, problems: Problem[]): void {
  const layer = parseRolloutOverrides(overrides, name);
  mergeGates(acc.gates, layer.gates, name, problems);
  mergeSteps(acc.merged, layer.steps, name, problems);
  for (const key of GROWING) mergeGrowing(acc.merged, key, layer[key], name, problems);
  mergeReplay(acc.replay, layer.replay, name, problems);
  layer.approve_at?.forEach((p) => acc.approveAt.add(p));
  mergeAnalysis(acc.analysis, layer.analysis, name, problems);
  mergeWebhooks(acc.webhooks, layer.webhooks, name, problems);
}

function planOf(acc: LayerMerge, problems: Problem[]): RolloutConfig {
  const sortedApprovals = [...acc.approveAt].sort((a, b) => a - b);
  const analysis = toAnalysisMetrics(acc.analysis, problems);
  return {
    ...toRolloutConfig(acc.merged, acc.gates, sortedApprovals, analysis, acc.replay),
    webhooks: [...acc.webhooks.values()].map(({ hook }) => resolveWebhook(hook)),
  };
}

const emptyMerge = (): LayerMerge => ({
  gates: {},
  merged: {},
  approveAt: new Set(),
  analysis: new Map(),
  webhooks: new Map(),
  replay: {},
});

/**
 * Merges layers in order. The first layer must set every field (the global defaults do); later
 * layers may only tighten. Throws PkgError('GateConfigLoosened') listing every violation.
 */
export function mergeRolloutLayers(layers: RolloutLayer[]): RolloutConfig {
  const problems: Problem[] = [];
  const acc = emptyMerge();
  for (const layer of layers) addLayer(acc, layer, problems);
  const config = planOf(acc, problems);
  if (config.bakeMs < config.gates.minBakeMs) {
    problems.push({
      path: 'rollout.bake',
      message: `${acc.merged.bake} is shorter than min_bake ${acc.gates.min_bake}`,
    });
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

/**
 * The plan as it stood after each layer, in order (the last is the merge): what the merge receipt
 * compares. Only mergeRolloutLayers judges a merge; a plan part-way may break a rule across fields
 * (a bake below a min_bake a later layer raises both of) that the whole merge keeps.
 */
export function plansAfterEachLayer(layers: RolloutLayer[]): RolloutConfig[] {
  const acc = emptyMerge();
  const judgedElsewhere: Problem[] = [];
  return layers.map((layer) => {
    addLayer(acc, layer, judgedElsewhere);
    return planOf(acc, judgedElsewhere);
  });
}

/** The usual stack: built-in global, the env's layer, the bundle's `rollout:`, then CLI flags. */
export function mergeRolloutConfig(
  global: RolloutOverrides,
  env: RolloutOverrides,
  bundle: RolloutOverrides = {},
  commandLine: RolloutOverrides = {},
): RolloutConfig {
  return mergeRolloutLayers(rolloutLayers(global, env, bundle, commandLine));
}

function rolloutLayers(
  global: RolloutOverrides,
  env: RolloutOverrides,
  bundle: RolloutOverrides,
  commandLine: RolloutOverrides,
): RolloutLayer[] {
  return [
    { name: 'global defaults', overrides: global },
    { name: 'environment defaults', overrides: env },
    { name: 'bundle', overrides: bundle },
    { name: 'command line', overrides: commandLine },
  ];
}

/** The layers of an env's promotion, in merge order: what `rolloutConfigFor` merges. */
export function rolloutLayersFor(
  env: Env,
  bundle: RolloutOverrides = {},
  commandLine: RolloutOverrides = {},
): RolloutLayer[] {
  return rolloutLayers(GLOBAL_ROLLOUT_DEFAULTS, ENV_ROLLOUT_DEFAULTS[env], bundle, commandLine);
}

export function rolloutConfigFor(
  env: Env,
  bundle: RolloutOverrides = {},
  commandLine: RolloutOverrides = {},
): RolloutConfig {
  return mergeRolloutLayers(rolloutLayersFor(env, bundle, commandLine));
}

function toRolloutConfig(
  merged: RolloutOverrides,
  gates: Record<string, number | string>,
  approveAt: number[],
  analysis: AnalysisMetric[],
  replay: ReplayOverrides,
): Omit<RolloutConfig, 'webhooks'> {
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
      alpha: gate('alpha'),
      maxLatencyEffect: gate('max_latency_effect'),
      maxLatencyExcess: gate('max_latency_excess'),
      latencySlackMs: gate('latency_slack_ms'),
      consecutivePasses: gate('consecutive_passes'),
    },
    analysis,
    replay: toReplaySettings(replay, gate('max_replay_divergence')),
  };
}

/**
 * A plan made before a gate setting existed (a rollout in flight across an upgrade) lacks it; it
 * is judged with the global default for it, never with nothing.
 */
export function withGateDefaults(gates: Partial<GateConfig>): GateConfig {
  const defaults = mergeRolloutLayers([{ name: 'global defaults', overrides: GLOBAL_ROLLOUT_DEFAULTS }]).gates;
  return { ...defaults, ...gates };
}

/** Indexes of the steps that wait for approval: the first step reaching each approve_at percent. */
export function approvalStepIndexes(config: Pick<RolloutConfig, 'steps' | 'approveAt'>): number[] {
  const indexes = config.approveAt.map((p) => config.steps.findIndex((step) => step >= p)).filter((i) => i >= 0);
  return [...new Set(indexes)].sort((a, b) => a - b);
}
