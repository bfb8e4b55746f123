import { execFile } from 'node:child_process';
import path from 'node:path';

/** `pkgctl` as CI or an operator runs it: a real process, its exit code and its output. */
export const ROOT = path.join(__dirname, '..', '..');

export interface PkgctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function pkgctl(args: string[], env: Record<string, string> = {}): Promise<PkgctlRun> {
  return new Promise((resolve) => {
    execFile(
      'node',
      [path.join(ROOT, 'bin', 'pkgctl'), ...args],
      // An exported snapshot carries its wasm: far more than execFile's default 1 MiB of stdout.
      { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
