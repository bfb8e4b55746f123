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
      { cwd: ROOT, env: { ...process.env, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
