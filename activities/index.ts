import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { createAuditActivities } from './audit';
import { createCompileActivities } from './compile';
import { createDecisionActivities } from './decisions';
import { createDecisionLogActivities } from './decision-logs';
import { createFactActivities } from './facts';
import { createGateActivities } from './gate';
import { createLaneActivities } from './lane';
import type { Env } from '../policy/lane';
import { createWebhookActivities } from './webhook';

/**
 * Every activity of the pipeline worker (task queue pkg-pipeline): compile (bundles → snapshots),
 * lane changes, gates, audit, decision records, fact cleanup, decision log retention, rollout webhooks. Evaluator activities live on their
 * own queue and are not here.
 */
export interface PipelineDeps {
  pool: Pool;
  redis: Redis;
  opaPath: string;
  signingKeyPath?: string;
  /** How long the gate waits for evaluators' last metric flush before reading. */
  metricsSettleMs?: number;
  /** Prometheus for the metric gates (rollout.analysis). */
  prometheusUrl: string;
  /** PKG_WEBHOOK_SECRET: signs rollout webhook calls. */
  webhookSecret?: string;
  /** Days of decision log partitions the retention keeps. */
  decisionLogRetentionDays: number;
  /** PKG_VERIFIED_ENVS: where resume and approve need an identity the API verified. */
  verifiedEnvs?: readonly Env[];
}

export function createPipelineActivities(deps: PipelineDeps) {
  return {
    ...createCompileActivities({ pool: deps.pool, opaPath: deps.opaPath }),
    ...createFactActivities({ pool: deps.pool }),
    ...createDecisionLogActivities({ pool: deps.pool, retentionDays: deps.decisionLogRetentionDays }),
    ...createLaneActivities({ pool: deps.pool, signingKeyPath: deps.signingKeyPath }),
    ...createAuditActivities({ pool: deps.pool }),
    ...createGateActivities({
      pool: deps.pool,
      redis: deps.redis,
      settleMs: deps.metricsSettleMs,
      prometheusUrl: deps.prometheusUrl,
      verifiedEnvs: deps.verifiedEnvs,
    }),
    ...createDecisionActivities({ pool: deps.pool, signingKeyPath: deps.signingKeyPath }),
    ...createWebhookActivities({ secret: deps.webhookSecret }),
  };
}
