import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { readBundleDir } from '../../activities/bundle-dir';
import { buildArtifacts } from '../../activities/compile';
import { signingPolicyFromConfig } from '../../activities/signing-policy';
import { loadBundle, type BundleFiles } from '../../policy/bundle/bundle';
import { SIGNATURES_FILE } from '../../policy/bundle/checksum';
import { compileSnapshot } from '../../policy/bundle/compile';
import { loadConfig } from '../../policy/config';
import { PkgError } from '../../policy/errors';
import { validateSnapshot, type ValidationReport } from '../../policy/bundle/validation';
import { keyIdOf, signBundle, verifyBundleSignature } from '../../policy/bundle/signing';
import { EXIT } from '../exit-codes';
import { printResult, printText } from '../output';
import { registerBundleTransferCommands } from './bundle-transfer';

/**
 * `pkgctl bundle validate|sign|keygen`: local checks for authors and CI; no database needed.
 * `export|import` move stored snapshots between databases (bundle-transfer.ts).
 */
export function registerBundleCommands(program: Command): void {
  const bundle = program.command('bundle').description('policy bundles: validate, sign, export, import');
  bundle
    .command('validate')
    .argument('<dir>', 'bundle directory')
    .description('check every file, verify signatures, build the wasm with opa and run the fixtures on both engines')
    .option('--json', 'print one JSON result')
    .action(async (dir: string, options: { json?: boolean }) => {
      const report = await validateBundle(dir);
      printResult(options.json, report, () => describeValidation(report));
      // Failing fixtures reject the bundle, as the workflow's validation would.
      if (report.failed > 0) process.exitCode = EXIT.rejected;
    });
  bundle
    .command('sign')
    .argument('<dir>', 'bundle directory')
    .requiredOption('--key <file>', 'PEM file of an Ed25519 private key')
    .description(`sign the bundle's file checksums into ${SIGNATURES_FILE}`)
    .action(async (dir: string, options: { key: string }) => {
      const files = await readBundleDir(dir);
      files.delete(SIGNATURES_FILE);
      loadBundle(files);
      const pem = await readFile(options.key, 'utf8').catch(() => {
        throw new PkgError('InputInvalid', `--key: cannot read ${options.key}`);
      });
      const signature = signBundle(files, pem);
      await writeFile(path.join(dir, SIGNATURES_FILE), signature);
      printText(`signed ${files.size} files of ${dir} (${path.join(dir, SIGNATURES_FILE)})`);
    });
  bundle
    .command('keygen')
    .requiredOption('--out <prefix>', 'writes <prefix>.key (private) and <prefix>.pub (public)')
    .description('create an Ed25519 key pair for bundle signing')
    .action(async (options: { out: string }) => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      await writeFile(`${options.out}.key`, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      await writeFile(`${options.out}.pub`, publicKey.export({ type: 'spki', format: 'pem' }));
      printText(
        `key ${keyIdOf(publicKey)}: ${options.out}.key, ${options.out}.pub (set PKG_SIGNING_PUBLIC_KEY=${options.out}.pub)`,
      );
    });
  registerBundleTransferCommands(bundle);
}

export interface BundleValidation extends ValidationReport {
  version: string;
  env: string;
  checksum: string;
  rules: number;
  signed: boolean;
  wasmSha256: string;
}

export async function validateBundle(dir: string): Promise<BundleValidation> {
  return validateBundleFiles(await readBundleDir(dir));
}

/** The same checks on an uploaded bundle (the API's validate). */
export async function validateBundleFiles(files: BundleFiles): Promise<BundleValidation> {
  const config = loadConfig();
  const bundle = loadBundle(files);
  const { signed } = verifyBundleSignature(files, bundle.manifest.env, signingPolicyFromConfig(config));
  const compiled = compileSnapshot(bundle);
  const artifacts = await buildArtifacts(config.OPA_PATH, bundle, compiled);
  return {
    ...(await validateSnapshot(compiled, artifacts, bundle.fixtures)),
    version: compiled.version,
    env: bundle.manifest.env,
    checksum: bundle.checksum,
    rules: compiled.rules.length,
    signed,
    wasmSha256: artifacts.wasm.sha256,
  };
}

function describeValidation(report: BundleValidation): string {
  const lines = [
    `${report.version} (${report.env}, checksum ${report.checksum.slice(0, 12)}, ${report.rules} rules, ${report.signed ? 'signed' : 'unsigned'})`,
  ];
  for (const [engine, { passed, failed }] of Object.entries(report.engines)) {
    lines.push(`  ${engine}: ${passed} fixtures passed, ${failed} failed`);
  }
  for (const result of report.results.filter((r) => !r.ok)) lines.push(`    - ${result.name}: ${result.message}`);
  return lines.join('\n');
}
