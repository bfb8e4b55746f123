import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Pool } from 'pg';
import { parse as parseYamlText } from 'yaml';
import { readBundleDir } from '../../activities/bundle-dir';
import { buildArtifacts } from '../../activities/compile';
import { loadFactsForSubject } from '../../activities/store/facts';
import { artifactsOf, readSnapshot } from '../../activities/store/snapshot-read';
import { loadBundle } from '../../policy/bundle/bundle';
import { compileSnapshot } from '../../policy/bundle/compile';
import type { CompiledSnapshot } from '../../policy/engine/compiled-snapshot';
import { PkgError } from '../../policy/errors';
import type { Engine, EngineKind, EvaluationInput, EvaluationOutput, Fact } from '../../policy/engine/evaluation';
import { parseEvaluationInput } from '../../policy/engine/evaluation-request';
import { createNativeEngine } from '../../policy/engine/native';
import { createWasmEngine } from '../../policy/engine/wasm';
import type { OpaArtifacts } from '../../policy/rego/artifacts';
import { printDocument } from '../output';
import { withSession } from '../session';

/**
 * `pkgctl evaluate`: one decision, printed as the ARCHITECTURE.md §4 output. From a bundle directory (compiled
 * locally, nothing stored) or a stored version; facts come from the input, else (stored versions
 * only) from pkg_facts for context.subject.
 */
interface EvaluateOptions {
  bundle?: string;
  version?: string;
  input: string;
  engine?: string;
}

interface Loaded {
  compiled: CompiledSnapshot;
  artifacts: OpaArtifacts;
  lookupFacts: (subject: string) => Promise<Fact[]>;
}

export function registerEvaluateCommands(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate one input against a bundle directory or a stored snapshot version')
    .option('--bundle <dir>', 'bundle directory (compiled locally)')
    .option('--version <version>', 'stored snapshot version, e.g. hotel-ops@1.0.0')
    .requiredOption('--input <file>', 'JSON or YAML evaluation input')
    .option('--engine <engine>', 'native or wasm (default: the snapshot manifest engine)')
    .action(async (options: EvaluateOptions) => {
      if (Boolean(options.bundle) === Boolean(options.version))
        throw new PkgError('InputInvalid', 'give exactly one of --bundle DIR or --version V');
      if (options.engine !== undefined && options.engine !== 'native' && options.engine !== 'wasm') {
        throw new PkgError('InputInvalid', `--engine: expected native or wasm, got ${JSON.stringify(options.engine)}`);
      }
      const input = await readInput(options.input);
      await withSession(async ({ config, pool }) => {
        const loaded = options.bundle
          ? await fromBundle(config.OPA_PATH, options.bundle)
          : await fromStore(pool(), options.version!);
        const facts =
          input.facts ??
          (typeof input.context?.subject === 'string' ? await loaded.lookupFacts(input.context.subject) : []);
        const kind = (options.engine as EngineKind | undefined) ?? loaded.compiled.engine;
        const engine =
          kind === 'wasm'
            ? await createWasmEngine(loaded.compiled, loaded.artifacts)
            : createNativeEngine(loaded.compiled);
        printDocument(decide(engine, input, facts));
      });
    });
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

async function readInput(file: string): Promise<EvaluationInput> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new PkgError('InputInvalid', `--input: cannot read ${file}`);
  });
  let value: unknown;
  try {
    value = parseYamlText(text);
  } catch (error) {
    throw new PkgError(
      'InputInvalid',
      `${file}: not JSON or YAML (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const parsed = parseEvaluationInput(value, 'control');
  if (!parsed.ok) throw new PkgError('InputInvalid', `${file}: ${parsed.reason}`);
  return parsed.value;
}

async function fromBundle(opaPath: string, dir: string): Promise<Loaded> {
  const bundle = loadBundle(await readBundleDir(dir));
  const compiled = compileSnapshot(bundle);
  const artifacts = await buildArtifacts(opaPath, bundle, compiled);
  return { compiled, artifacts, lookupFacts: () => Promise.resolve([]) };
}

async function fromStore(pool: Pool, version: string): Promise<Loaded> {
  const stored = await readSnapshot(pool, { version });
  return {
    compiled: stored.compiled,
    artifacts: artifactsOf(stored),
    lookupFacts: (subject) => loadFactsForSubject(pool, subject),
  };
}
