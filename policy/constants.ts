/** Names shared by workflows, workers, client and scripts: one home so they never drift. */
export const PIPELINE_TASK_QUEUE = 'pkg-pipeline';
export const EVALUATOR_TASK_QUEUE = 'pkg-evaluator';
export const UPDATES_CHANNEL = 'pkg_updates';
/** Redis channel announcing a created or revoked evaluator key (README "Evaluator keys"). */
export const EVALUATOR_KEYS_CHANNEL = 'pkg_evaluator_keys';
export const FACT_CLEANUP_SCHEDULE_ID = 'pkg-fact-cleanup';
export const DECISION_LOG_RETENTION_SCHEDULE_ID = 'pkg-decision-log-retention';
export const ROLLOUT_WORKFLOW_ID_PREFIX = 'rollout';

/** Custom search attributes; scripts/services.sh registers the same names on the dev server. */
export const SEARCH_ATTRIBUTES = {
  version: 'PkgVersion',
  env: 'PkgEnv',
  lane: 'PkgLane',
  stage: 'PkgStage',
  percent: 'PkgPercent',
} as const;
