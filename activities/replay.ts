import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Engine, EvaluationInput } from '../policy/engine/evaluation';
import { parseEvaluationInput } from '../policy/engine/evaluation-request';
import type { Lane } from '../policy/lane';
import { createImpactTally, type ImpactReport, type ReplayOutcome } from '../policy/rollout/impact';
import type { VersionEngine } from './evaluator';
import { readLoggedDecisions } from './store/decision-log-read';
import { readDesiredLaneState } from './store/lane-state';
import { snapshotIdOfVersion } from './store/snapshot-read';

/**
 * Replays a lane's logged decisions on a candidate and on what the lane serves now, on the
 * evaluator pool (its registry verifies and caches both engines). Read-only, so a retry simply
 * replays again; heartbeats carry the count so a dead worker is noticed within the timeout.
 */
export interface ReplayInput {
  lane: Lane;
  candidate: { snapshotId: string } | { version: string };
  /** Decisions logged in the last windowMs, measured from when the replay runs. */
  windowMs: number;
  limit: number;
  maxExamples: number;
}

export interface ReplayDeps {
  pool: Pool;
  snapshots: { load(snapshotId: string): Promise<VersionEngine> };
  now?: () => number;
}

export async function replayDecisions(deps: ReplayDeps, input: ReplayInput): Promise<ImpactReport> {
  const candidateId =
    'snapshotId' in input.candidate
      ? input.candidate.snapshotId
      : await snapshotIdOfVersion(deps.pool, input.candidate.version);
  const candidate = await deps.snapshots.load(candidateId);
  const serving = (await readDesiredLaneState(deps.pool, input.lane)).snapshotId;
  const baseline = serving === null ? null : await deps.snapshots.load(serving);
  const tally = createImpactTally(
    { candidate: candidate.version, baseline: baseline?.version ?? null },
    input.maxExamples,
  );
  if (baseline === null) return tally.report();
  const sinceMs = (deps.now ?? Date.now)() - input.windowMs;
  for await (const page of readLoggedDecisions(deps.pool, input.lane, sinceMs, input.limit)) {
    for (const logged of page) {
      const parsed = parseEvaluationInput(logged.input, logged.mode);
      if (!parsed.ok) {
        tally.skip();
        continue;
      }
      tally.add({
        decisionId: logged.decisionId,
        input: logged.input,
        baseline: decide(baseline.engine, parsed.value),
        candidate: decide(candidate.engine, parsed.value),
      });
    }
    Context.current().heartbeat(tally.report().decisions);
  }
  return tally.report();
}

/** Logged inputs carry the facts their decision saw, so a replay needs no pkg_facts. */
function decide(engine: Engine, input: EvaluationInput): ReplayOutcome {
  try {
    return { ok: true, decision: engine.evaluate(input, input.facts ?? []) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
