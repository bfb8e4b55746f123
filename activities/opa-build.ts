import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PkgError } from '../policy/errors';

const run = promisify(execFile);

/**
 * `opa build -t wasm` with the builtins @open-policy-agent/opa-wasm can actually run, so a policy
 * that calls anything else (http.send, time.now_ns, ...) is refused here rather than failing in an
 * evaluator. The package ships its builtin list without a features section; Rego v1 syntax needs
 * the `rego_v1` feature, so it is added here.
 */
export interface WasmArtifact {
  bytes: Buffer;
  sha256: string;
}

const OPA_TIMEOUT_MS = 60_000;

export function opaWasmCapabilitiesPath(): string {
  return path.join(path.dirname(require.resolve('@open-policy-agent/opa-wasm')), '..', 'capabilities.json');
}

/** `regoFiles`: bundle-relative path → source; opa's messages name those same paths. */
export async function buildWasm(
  opaPath: string,
  regoFiles: ReadonlyMap<string, string>,
  entrypoint: string,
): Promise<WasmArtifact> {
  const work = await mkdtemp(path.join(tmpdir(), 'pkg-opa-'));
  try {
    const source = path.join(work, 'bundle');
    for (const [file, text] of regoFiles) {
      await mkdir(path.dirname(path.join(source, file)), { recursive: true });
      await writeFile(path.join(source, file), text);
    }
    const capabilities = path.join(work, 'capabilities.json');
    await writeFile(capabilities, await capabilitiesText());
    await runOpa(
      opaPath,
      [
        'build',
        '-t',
        'wasm',
        '-e',
        entrypoint,
        '--capabilities',
        capabilities,
        '-o',
        path.join(work, 'out.tar.gz'),
        '.',
      ],
      source,
    );
    await run('tar', ['-xzf', path.join(work, 'out.tar.gz'), '-C', work, '/policy.wasm'], { timeout: OPA_TIMEOUT_MS });
    const bytes = await readFile(path.join(work, 'policy.wasm'));
    return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function capabilitiesText(): Promise<string> {
  const shipped = JSON.parse(await readFile(opaWasmCapabilitiesPath(), 'utf8')) as Record<string, unknown>;
  return JSON.stringify({ ...shipped, features: ['rego_v1'] });
}

async function runOpa(opaPath: string, args: string[], cwd: string): Promise<void> {
  try {
    // opa runs inside the work directory, so a relative OPA_PATH must be resolved first.
    await run(opaPath.includes('/') ? path.resolve(opaPath) : opaPath, args, {
      cwd,
      timeout: OPA_TIMEOUT_MS,
      maxBuffer: 4 * 1024 * 1024,
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error(`opa not found at ${opaPath} (set OPA_PATH)`, { cause: error });
    }
    // opa prints compile errors on stdout, operational failures on stderr.
    const detail = [failure.stdout, failure.stderr].filter(Boolean).join('\n').trim() || failure.message;
    throw new PkgError(
      'RegoCompileFailed',
      `opa build refused the policy: ${detail.replace(/^error: /, '').replace(/\s*\n\s*/g, '; ')}`,
    );
  }
}
