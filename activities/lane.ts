import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Coverage } from '../policy/rollout/gates';
import type { Lane } from '../policy/lane';
import { abandonLeftover, type AbandonDeps } from './abort';
import {
  promoteCandidate,
  readCoverage,
  rollbackLane,
  setLaneStep,
  type LaneChangeInput,
  type LeftoverInput,
  type LaneStepInput,
} from './store/deployments';

export interface CoverageInput {
  lane: Lane;
  required: number;
  timeoutMs: number;
  pollMs?: number;
}

export interface CoverageResult extends Coverage {
  reached: boolean;
  /** Wall-clock ms when the lane was covered (or the wait gave up): the start of the step window. */
  atMs: number;
}

const covered = (c: Coverage, required: number) => c.evaluators > 0 && c.serving / c.evaluators >= required;

/** Polls until the lane's live evaluators serve its desired state; gives up (reached=false) at the timeout. */
async function awaitCoverage(pool: Pool, input: CoverageInput): Promise<CoverageResult> {
  const deadline = Date.now() + input.timeoutMs;
  for (;;) {
    const coverage = await readCoverage(pool, input.lane);
    Context.current().heartbeat(coverage);
    if (covered(coverage, input.required) || Date.now() >= deadline) {
      return { ...coverage, reached: covered(coverage, input.required), atMs: Date.now() };
    }
    await Context.current().sleep(input.pollMs ?? 250);
  }
}

/** Lane changes as activities; the writes and their idempotency live in store/deployments. */
export function createLaneActivities(deps: AbandonDeps) {
  const { pool } = deps;
  return {
    setLaneStep: (input: LaneStepInput) => setLaneStep(pool, input),
    promoteCandidate: (input: LaneChangeInput) => promoteCandidate(pool, input),
    rollbackLane: (input: LaneChangeInput) => rollbackLane(pool, input),
    /**
     * A promotion's first step: the leftover of a rollout that died on the lane is withdrawn, and
     * the dead rollout's decision (aborted, superseded by this promotion) joins the env's chain.
     */
    withdrawLeftover: async (input: LeftoverInput) => (await abandonLeftover(deps, input, input.reason)).withdrawn,
    awaitCoverage: (input: CoverageInput) => awaitCoverage(pool, input),
  };
}
