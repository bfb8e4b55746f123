import type { Pool } from 'pg';
import { readBundleDir } from '../activities/bundle-dir';
import { buildArtifacts } from '../activities/compile';
import { loadFactsForSubject } from '../activities/store/facts';
import { artifactsOf, readSnapshot } from '../activities/store/snapshot-read';
import { loadBundle } from '../policy/bundle/bundle';
import { compileSnapshot } from '../policy/bundle/compile';
import type { CompiledSnapshot } from '../policy/engine/compiled-snapshot';
import type { Engine, EngineKind, EvaluationInput, EvaluationOutput, Fact } from '../policy/engine/evaluation';
import { createNativeEngine } from '../policy/engine/native';
import { createWasmEngine } from '../policy/engine/wasm';
import type { Env } from '../policy/lane';
import type { OpaArtifacts } from '../policy/rego/artifacts';

/**
 * One decision as `pkgctl evaluate` prints it (the ARCHITECTURE.md §4 output), from a bundle directory
 * (compiled here, nothing stored, no facts) or a stored snapshot version (facts from pkg_facts for
 * context.subject unless the input carries them).
 */
export interface LoadedSnapshot {
  compiled: CompiledSnapshot;
  artifacts: OpaArtifacts;
  lookupFacts: (subject: string) => Promise<Fact[]>;
}

export async function loadBundleDir(opaPath: string, dir: string): Promise<LoadedSnapshot> {
  const bundle = loadBundle(await readBundleDir(dir));
  const compiled = compileSnapshot(bundle);
  const artifacts = await buildArtifacts(opaPath, bundle, compiled);
  return { compiled, artifacts, lookupFacts: () => Promise.resolve([]) };
}

export async function loadStoredVersion(pool: Pool, version: string): Promise<LoadedSnapshot & { env: Env }> {
  const stored = await readSnapshot(pool, { version });
  return {
    env: stored.env,
    compiled: stored.compiled,
    artifacts: artifactsOf(stored),
    lookupFacts: (subject) => loadFactsForSubject(pool, subject),
  };
}

/** `engine` defaults to the snapshot manifest's. */
export async function evaluateLoaded(
  loaded: LoadedSnapshot,
  input: EvaluationInput,
  engine?: EngineKind,
): Promise<EvaluationOutput> {
  const facts =
    input.facts ?? (typeof input.context?.subject === 'string' ? await loaded.lookupFacts(input.context.subject) : []);
  const kind = engine ?? loaded.compiled.engine;
  const built =
    kind === 'wasm' ? await createWasmEngine(loaded.compiled, loaded.artifacts) : createNativeEngine(loaded.compiled);
  return decide(built, input, facts);
}

function decide(engine: Engine, input: EvaluationInput, facts: readonly Fact[]): EvaluationOutput {
  const started = process.hrtime.bigint();
  const decision = engine.evaluate(input, facts);
  const evalUs = Number((process.hrtime.bigint() - started) / 1000n);
  return {
    ok: true,
    snapshot: engine.version,
    ...decision,
    meta: { engine: engine.kind, mode: 'control', canary: false, eval_us: evalUs },
  };
}
