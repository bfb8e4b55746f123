import type { Pool } from 'pg';
import { PkgError } from '../policy/errors';
import type { Engine, EvaluationOutput, Fact, Mode } from '../policy/engine/evaluation';
import { parseEvaluationInput } from '../policy/engine/evaluation-request';
import { validateSnapshot, type ValidationReport } from '../policy/bundle/validation';
import { artifactsOf, readSnapshot, snapshotIdOfVersion } from './store/snapshot-read';
import { findValidationReport, insertValidationRun } from './store/validation-runs';
import { refusingBadInput } from './failure';
import { loadFactsForSubject } from './store/facts';
import { replayDecisions, type ReplayInput } from './replay';

/**
 * Activities of the evaluator pool (task queue pkg-evaluator). Fixture runs use both engines, so
 * a snapshot whose wasm and native engines disagree never reaches a lane; the run is recorded once
 * per run_key, so a retried or replayed activity returns the first run's report.
 */
export interface VersionEngine {
  version: string;
  engine: Engine;
  usesFacts: boolean;
}

export interface EvaluatorActivityDeps {
  pool: Pool;
  /** Loaded, verified snapshots by id (the evaluator's registry, so batches reuse its engines). */
  snapshots: { load(snapshotId: string): Promise<VersionEngine> };
}

export interface FixtureRunInput {
  snapshotId: string;
  runKey: string;
  /** Who the run is for and whether the API verified it; absent in histories recorded before identities. */
  actor?: string;
  actorVerified?: boolean;
}

export interface BatchInput {
  version: string;
  inputs: unknown[];
  mode?: Mode;
}

export const MAX_BATCH = 10_000;

export function createEvaluatorActivities(deps: EvaluatorActivityDeps) {
  return {
    async runSnapshotFixtures({
      snapshotId,
      runKey,
      actor,
      actorVerified,
    }: FixtureRunInput): Promise<ValidationReport> {
      const recorded = await findValidationReport<ValidationReport>(deps.pool, runKey);
      if (recorded) return recorded;
      const stored = await refusingBadInput(() => readSnapshot(deps.pool, { id: snapshotId }));
      const report = await refusingBadInput(() =>
        validateSnapshot(stored.compiled, artifactsOf(stored), stored.fixtures),
      );
      const { engine } = stored.compiled;
      await insertValidationRun(deps.pool, { snapshotId, runKey, engine, ...report, report, actor, actorVerified });
      return (await findValidationReport<ValidationReport>(deps.pool, runKey)) ?? report;
    },

    replayDecisions: (input: ReplayInput) => replayDecisions(deps, input),

    async evaluateBatch({ version, inputs, mode = 'control' }: BatchInput): Promise<EvaluationOutput[]> {
      const snapshot = await refusingBadInput(async () => {
        if (inputs.length > MAX_BATCH)
          throw new PkgError('InputInvalid', `batch of ${inputs.length} inputs exceeds ${MAX_BATCH}`);
        return deps.snapshots.load(await snapshotIdOfVersion(deps.pool, version));
      });
      const outputs: EvaluationOutput[] = [];
      // One read per subject per batch: the batch sees one consistent set of facts for each subject.
      const factsBySubject = new Map<string, Promise<readonly Fact[]>>();
      const factsFor = (subject: string) => {
        if (!factsBySubject.has(subject)) factsBySubject.set(subject, loadFactsForSubject(deps.pool, subject));
        return factsBySubject.get(subject)!;
      };
      for (const [index, raw] of inputs.entries())
        outputs.push(await evaluateOne(snapshot, raw, mode, index, factsFor));
      return outputs;
    },
  };
}

async function evaluateOne(
  snapshot: VersionEngine,
  raw: unknown,
  mode: Mode,
  index: number,
  factsFor: (subject: string) => Promise<readonly Fact[]>,
): Promise<EvaluationOutput> {
  const meta = { engine: snapshot.engine.kind, mode, canary: false, eval_us: 0 };
  const parsed = parseEvaluationInput(raw, mode);
  if (!parsed.ok) return { ok: false, snapshot: snapshot.version, reason: `inputs[${index}]: ${parsed.reason}`, meta };
  const input = parsed.value;
  const subject = input.context?.subject;
  const facts: readonly Fact[] =
    input.facts ?? (snapshot.usesFacts && typeof subject === 'string' ? await factsFor(subject) : []);
  const started = process.hrtime.bigint();
  try {
    const decision = snapshot.engine.evaluate(input, facts);
    const evalUs = Number((process.hrtime.bigint() - started) / 1000n);
    return { ok: true, snapshot: snapshot.version, ...decision, meta: { ...meta, eval_us: evalUs } };
  } catch (error) {
    return { ok: false, snapshot: snapshot.version, reason: `inputs[${index}]: ${(error as Error).message}`, meta };
  }
}
