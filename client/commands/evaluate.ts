import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYamlText } from 'yaml';
import { loadConfig } from '../../policy/config';
import { PkgError } from '../../policy/errors';
import type { EvaluationInput } from '../../policy/engine/evaluation';
import { parseEvaluationInput } from '../../policy/engine/evaluation-request';
import { withControlPlane } from '../control-plane';
import { evaluateLoaded, loadBundleDir } from '../evaluation';
import { printDocument } from '../output';

/**
 * `pkgctl evaluate`: one decision, printed as the ARCHITECTURE.md §4 output. From a bundle directory
 * (compiled here with the local OPA, nothing stored, no database) or a stored version (through the
 * API when one is configured; facts from the input, else from pkg_facts for context.subject).
 */
interface EvaluateOptions {
  bundle?: string;
  version?: string;
  input: string;
  engine?: string;
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
      const engine = options.engine;
      if (options.bundle) {
        return printDocument(
          await evaluateLoaded(await loadBundleDir(loadConfig().OPA_PATH, options.bundle), input, engine),
        );
      }
      const version = options.version!;
      const evaluation = await withControlPlane((plane) => plane.evaluate({ version, input, engine }));
      printDocument(evaluation.output);
    });
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
