import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { PkgError } from '../policy/errors';
import { loadBundle } from '../policy/bundle/bundle';
import { judgeStep, type StepVerdict } from '../policy/rollout/gates';
import {
  approvalStepIndexes,
  mergeRolloutLayers,
  parseRolloutOverrides,
  rolloutLayersFor,
  withGateDefaults,
  type GateConfig,
  type RolloutConfig,
  type RolloutOverrides,
} from '../policy/rollout/config';
import { readLaneMetrics, windowEndMs } from './store/lane-metrics';
import { readUploadedBundle } from './store/bundles';
import { refusingBadInput } from './failure';
import { readCoverage } from './store/deployments';
import { laneName, sameLane, type Env, type Lane } from '../policy/lane';
import { REASONS } from '../policy/rollout/reasons';
import { liveLanes } from './store/fleet';
import type { AnalysisMetric } from '../policy/rollout/analysis';
import { readAnalysis } from './analysis';
import { mergeWithReceipt } from '../policy/rollout/merge-receipt';
import { insertRolloutPlan } from './store/rollout-plans';

/**
 * Reads a step's measured numbers and judges them. Evaluators flush counts to Redis about once a
 * second, so the window closes now and the read waits `settleMs` for the last counts to land. The
 * plan's metric gates are queried from Prometheus for the same window, as of its end.
 */
export interface GateInput {
  lane: Lane;
  candidateVersion: string;
  baselineVersion: string | null;
  fromMs: number;
  step: number;
  stepCount: number;
  percent: number;
  gates: GateConfig;
  /** The plan's metric gates; absent in rollouts planned before they existed. */
  analysis?: AnalysisMetric[];
}

export interface PlanInput {
  lane: Lane;
  /** Digest of the uploaded bundle in pkg_bundles. */
  digest: string;
  /** The command line's rollout layer. */
  overrides?: RolloutOverrides;
}

export interface RolloutPlan extends RolloutConfig {
  version: string;
  approvalSteps: number[];
  /**
   * The lane's env is one of PKG_VERIFIED_ENVS: resume and approve need an identity the API
   * verified. Absent in plans made before identities existed.
   */
  verifiedIdentity?: boolean;
}

/**
 * Reads the bundle's manifest before anything is compiled or stored, and merges its `rollout:`
 * layer: a bad bundle, a wrong env or a loosened gate is refused here, non-retryable, by type.
 * The plan and its merge receipt are stored under the rollout's id for its decision record.
 */
function planRollout(
  pool: Pool,
  input: PlanInput,
  verifiedEnvs: readonly Env[],
  rolloutId: string,
): Promise<RolloutPlan> {
  return refusingBadInput(async () => {
    const { manifest } = loadBundle(await readUploadedBundle(pool, input.digest));
    if (manifest.env !== input.lane.env) {
      throw new PkgError(
        'InputInvalid',
        `manifest.yaml: env is ${manifest.env}, but the rollout targets ${input.lane.env}`,
      );
    }
    const commandLine = parseRolloutOverrides(input.overrides, 'command line');
    const layers = rolloutLayersFor(input.lane.env, manifest.rollout ?? {}, commandLine);
    // The plan that runs keeps its webhook URLs; the recorded one names them by origin and digest.
    const config = mergeRolloutLayers(layers);
    await assertLaneServed(pool, input.lane);
    await insertRolloutPlan(pool, { rolloutId, env: input.lane.env, ...mergeWithReceipt(layers) });
    return {
      ...config,
      version: manifest.version,
      approvalSteps: approvalStepIndexes(config),
      verifiedIdentity: verifiedEnvs.includes(input.lane.env),
    };
  });
}

/** A lane nobody serves would burn every extension on "0/0 evaluators" and roll back: refuse it now. */
async function assertLaneServed(pool: Pool, lane: Lane): Promise<void> {
  const live = await liveLanes(pool);
  if (live.some((l) => sameLane(l.lane, lane))) return;
  const served = live.map((l) => ({ lane: laneName(l.lane), evaluators: l.evaluators }));
  throw new PkgError('NoEvaluators', REASONS.noEvaluators(laneName(lane), served));
}

export interface GateDeps {
  pool: Pool;
  redis: Redis;
  settleMs?: number;
  now?: () => number;
  /** Where metric gates (rollout.analysis) are queried. */
  prometheusUrl: string;
  /** PKG_VERIFIED_ENVS: where resume and approve need a verified identity (prod when absent). */
  verifiedEnvs?: readonly Env[];
}

const DEFAULT_SETTLE_MS = 1500;

/**
 * The calling promotion's rollout id (`<workflow id>:<first run id>`, workflows/promotion.ts). An
 * activity sees only its own run's id, which is the first run's unless the workflow was reset to
 * before its plan: then the record holds the plan the first run merged from the same bundle and
 * flags, or none, never another rollout's.
 */
function rolloutIdOfCaller(): string {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('planRollout runs only as an activity of a promotion');
  return `${execution.workflowId}:${execution.runId}`;
}

export function createGateActivities(deps: GateDeps) {
  const now = deps.now ?? Date.now;
  return {
    planRollout: (input: PlanInput) =>
      planRollout(deps.pool, input, deps.verifiedEnvs ?? ['prod'], rolloutIdOfCaller()),
    async judgeLaneStep(input: GateInput): Promise<StepVerdict> {
      const toMs = now();
      await Context.current().sleep(deps.settleMs ?? DEFAULT_SETTLE_MS);
      const versions = { candidate: input.candidateVersion, baseline: input.baselineVersion };
      const window = { fromMs: input.fromMs, toMs: windowEndMs(toMs) };
      const metrics = await readLaneMetrics(deps.redis, input.lane, versions, window);
      const coverage = await readCoverage(deps.pool, input.lane);
      const scope = { ...versions, lane: input.lane, windowS: (window.toMs - input.fromMs) / 1000 };
      const analysis = await readAnalysis(deps.prometheusUrl, input.analysis ?? [], scope, window.toMs);
      const gates = withGateDefaults(input.gates);
      return { ...judgeStep({ ...input, ...metrics, coverage, analysis, gates }), window };
    },
  };
}
