import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { signingPolicyFromConfig } from '../../activities/signing-policy';
import { exportSnapshot, importSnapshot, type ImportedSnapshot } from '../../activities/store/snapshot-transfer';
import { PkgError } from '../../policy/errors';
import { parsePortable, portableText, PORTABLE_FORMAT } from '../../policy/integrity/portable';
import { printResult, printText } from '../output';
import { withSession } from '../session';
import { actorOption } from './rollout-options';

/** `pkgctl bundle export|import`: a stored snapshot to a file and back, e.g. staging's database → prod's. */
export function registerBundleTransferCommands(bundle: Command): void {
  bundle
    .command('export')
    .argument('<version>', 'a stored snapshot, e.g. hotel-ops@1.2.0')
    .description(`write a stored snapshot, verified, as one ${PORTABLE_FORMAT} JSON document to stdout`)
    .action(async (version: string) => {
      const snapshot = await withSession(({ pool, config }) =>
        exportSnapshot(pool(), version, signingPolicyFromConfig(config)),
      );
      printText(portableText(snapshot));
    });
  bundle
    .command('import')
    .argument('<file>', `a ${PORTABLE_FORMAT} export`)
    .description('store an exported snapshot here with its id, version, checksums and signature, verified first')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action(async (file: string, options: { actor: string; json?: boolean }) => {
      const text = await readFile(file, 'utf8').catch(() => {
        throw new PkgError('InputInvalid', `cannot read ${file}`);
      });
      const snapshot = parsePortable(text, file);
      const imported = await withSession(({ pool, config }) =>
        importSnapshot(pool(), snapshot, signingPolicyFromConfig(config), options.actor),
      ).catch((error: unknown) => {
        if (error instanceof PkgError) throw new PkgError(error.type, `${file}: ${error.message}; nothing imported`);
        throw error;
      });
      printResult(options.json, imported, () => describeImport(imported));
    });
}

function describeImport(imported: ImportedSnapshot): string {
  const what = `${imported.version} (${imported.snapshotId}, checksum ${imported.checksum}, seal ${imported.seal})`;
  return imported.created ? `imported ${what}` : `${what} is already here`;
}
