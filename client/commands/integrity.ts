import type { Command } from 'commander';
import { readIntegrityChecks, type IntegrityCheck } from '../../activities/store/integrity';
import { EXIT } from '../exit-codes';
import { printResult } from '../output';
import { withSession } from '../session';

/** `pkgctl integrity check`: every check of pkg_integrity_findings(), failing on any finding. */
export function registerIntegrityCommands(program: Command): void {
  const integrity = program.command('integrity').description('is what the database holds what was compiled and signed');
  integrity
    .command('check')
    .description('run every integrity check; exit 3 naming each one that finds something')
    .option('--json', 'print one JSON result')
    .action(async (options: { json?: boolean }) => {
      const checks = await withSession(({ pool }) => readIntegrityChecks(pool()));
      const findings = checks.filter((check) => !check.ok);
      printResult(options.json, { ok: findings.length === 0, findings, checks }, () => describeChecks(checks));
      if (findings.length > 0) process.exitCode = EXIT.rejected;
    });
}

function describeChecks(checks: IntegrityCheck[]): string {
  const failed = checks.filter((check) => !check.ok).length;
  const lines = checks.map((check) => `${check.ok ? 'ok  ' : 'FAIL'} ${check.check}: ${check.detail}`);
  const summary =
    failed === 0 ? `all ${checks.length} checks pass` : `${failed} of ${checks.length} checks found something`;
  return [...lines, summary].join('\n');
}
