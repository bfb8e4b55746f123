import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { PkgError } from '../policy/errors';
import type { Engine, EvaluationOutput, Fact, Mode } from '../policy/engine/evaluation';
import { parseEvaluationInput } from '../policy/engine/evaluation-request';
import { createNativeEngine } from '../policy/engine/native';
import { createWasmEngine } from '../policy/engine/wasm';
import { runFixtures, type FixtureReport } from '../policy/bundle/fixtures';
import { loadSnapshot } from './snapshot-store';
import { loadFactsForSubject } from './fact-store';

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
}

export interface FixtureRunReport {
  passed: number;
  failed: number;
  results: { name: string; ok: boolean; message?: string }[];
  engines: { native: { passed: number; failed: number }; wasm: { passed: number; failed: number } };
}

export interface BatchInput {
  version: string;
  inputs: unknown[];
  mode?: Mode;
}

export const MAX_BATCH = 10_000;

export function createEvaluatorActivities(deps: EvaluatorActivityDeps) {
  return {
    async runSnapshotFixtures({ snapshotId, runKey }: FixtureRunInput): Promise<FixtureRunReport> {
      const recorded = await findRun(deps.pool, runKey);
      if (recorded) return recorded;
      const stored = await nonRetryable(() => loadSnapshot(deps.pool, { id: snapshotId }));
      const native = createNativeEngine(stored.compiled);
      const wasm = await nonRetryable(() => createWasmEngine(stored.compiled, stored));
      const report = combineReports(runFixtures(native, stored.fixtures), runFixtures(wasm, stored.fixtures));
      await deps.pool.query(
        `INSERT INTO pkg_validation_runs (snapshot_id, run_key, engine, passed, failed, report)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_key) DO NOTHING`,
        [snapshotId, runKey, stored.compiled.engine, report.passed, report.failed, JSON.stringify(report)],
      );
      return (await findRun(deps.pool, runKey)) ?? report;
    },

    async evaluateBatch({ version, inputs, mode = 'control' }: BatchInput): Promise<EvaluationOutput[]> {
      if (inputs.length > MAX_BATCH)
        throw failure(new PkgError('InputInvalid', `batch of ${inputs.length} inputs exceeds ${MAX_BATCH}`));
      const snapshotId = await snapshotIdOf(deps.pool, version);
      const snapshot = await nonRetryable(() => deps.snapshots.load(snapshotId));
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

/** A fixture passes only if it passes on both engines. */
export function combineReports(native: FixtureReport, wasm: FixtureReport): FixtureRunReport {
  const wasmByName = new Map(wasm.results.map((result) => [result.name, result]));
  const results = native.results.map((result) => {
    const other = wasmByName.get(result.name);
    const problems = [
      result.ok ? null : `native: ${result.message ?? 'failed'}`,
      other?.ok ? null : `wasm: ${other?.message ?? 'not run'}`,
    ].filter((problem): problem is string => problem !== null);
    return problems.length === 0
      ? { name: result.name, ok: true }
      : { name: result.name, ok: false, message: problems.join('; ') };
  });
  const passed = results.filter((result) => result.ok).length;
  return {
    passed,
    failed: results.length - passed,
    results,
    engines: {
      native: { passed: native.passed, failed: native.failed },
      wasm: { passed: wasm.passed, failed: wasm.failed },
    },
  };
}

async function findRun(pool: Pool, runKey: string): Promise<FixtureRunReport | null> {
  const { rows } = await pool.query<{ report: FixtureRunReport }>(
    'SELECT report FROM pkg_validation_runs WHERE run_key = $1',
    [runKey],
  );
  return rows[0]?.report ?? null;
}

async function snapshotIdOf(pool: Pool, version: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM pkg_snapshots WHERE version = $1', [version]);
  if (!rows[0]) throw failure(new PkgError('NotFound', `snapshot ${version} does not exist`));
  return rows[0].id;
}

/** Bad input or a bad artifact will not get better on retry; anything else may. */
async function nonRetryable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw error instanceof PkgError ? failure(error) : error;
  }
}

function failure(error: PkgError): ApplicationFailure {
  return ApplicationFailure.create({ type: error.type, message: error.message, nonRetryable: true });
}
