import type { CompiledSnapshot } from '../engine/compiled-snapshot';
import type { EngineKind } from '../engine/evaluation';
import { createNativeEngine } from '../engine/native';
import { createWasmEngine } from '../engine/wasm';
import type { OpaArtifacts } from '../rego/artifacts';
import { runFixtures, type FixtureReport, type RunnableFixture } from './fixtures';

/**
 * Validation of a snapshot (ARCHITECTURE.md §3, §6): its fixtures on every engine it has. A fixture
 * passes only if it passes on each of them, so a snapshot whose engines disagree never reaches a
 * lane. One function serves `pkgctl bundle validate`, the workflow's fixture run and revert.
 */
export interface ValidationReport {
  passed: number;
  failed: number;
  results: { name: string; ok: boolean; message?: string }[];
  /** Per engine; an engine the snapshot does not have is absent. */
  engines: Partial<Record<EngineKind, { passed: number; failed: number }>>;
}

/**
 * The engines a snapshot has. A wasm bundle with its own Rego and no rules.yaml has no rules for the
 * native engine, which would emit nothing: only wasm can judge its fixtures.
 */
export function enginesOf(compiled: CompiledSnapshot): EngineKind[] {
  return compiled.engine === 'wasm' && compiled.rules.length === 0 ? ['wasm'] : ['native', 'wasm'];
}

export async function validateSnapshot(
  compiled: CompiledSnapshot,
  artifacts: OpaArtifacts,
  fixtures: readonly RunnableFixture[],
): Promise<ValidationReport> {
  const reports: Partial<Record<EngineKind, FixtureReport>> = {};
  for (const kind of enginesOf(compiled)) {
    const engine = kind === 'native' ? createNativeEngine(compiled) : await createWasmEngine(compiled, artifacts);
    reports[kind] = runFixtures(engine, fixtures);
  }
  return combineReports(fixtures, reports);
}

export function combineReports(
  fixtures: readonly RunnableFixture[],
  engines: Partial<Record<EngineKind, FixtureReport>>,
): ValidationReport {
  const ran = Object.entries(engines) as [EngineKind, FixtureReport][];
  const results = fixtures.map(({ name }) => {
    const problems = ran.flatMap(([kind, report]) => {
      const result = report.results.find((r) => r.name === name);
      return result?.ok ? [] : [{ kind, message: result?.message ?? 'not run' }];
    });
    if (problems.length === 0) return { name, ok: true };
    // Engines that agree on what is wrong say it once.
    const same = problems.every((p) => p.message === problems[0]!.message);
    const message = same
      ? `${problems[0]!.message} (${problems.map((p) => p.kind).join(', ')})`
      : problems.map((p) => `${p.kind}: ${p.message}`).join('; ');
    return { name, ok: false, message };
  });
  const passed = results.filter((result) => result.ok).length;
  const counts = Object.fromEntries(
    ran.map(([kind, report]) => [kind, { passed: report.passed, failed: report.failed }]),
  );
  return { passed, failed: results.length - passed, results, engines: counts };
}
