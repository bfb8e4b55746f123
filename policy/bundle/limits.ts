import { PkgError } from '../errors';

/**
 * Size limits. A bundle is authored text: rules, Rego, fixtures. 2 MiB of files and 1 MiB per
 * file are far above any realistic policy (the 500-rule benchmark bundle is ~150 KiB) yet keep
 * a bundle comfortably inside one Postgres row, a Temporal payload-free digest hand-off, and an
 * evaluator's memory. 500 files bounds the fixture directory.
 */
export const BUNDLE_LIMITS = {
  totalBytes: 2 * 1024 * 1024,
  fileBytes: 1024 * 1024,
  files: 500,
} as const;

export function checkBundleSize(files: ReadonlyMap<string, Uint8Array>): void {
  const problems = [...files]
    .filter(([, bytes]) => bytes.byteLength > BUNDLE_LIMITS.fileBytes)
    .map(([file, bytes]) => ({
      file,
      message: `${bytes.byteLength} bytes, over the ${BUNDLE_LIMITS.fileBytes}-byte per-file limit`,
    }));
  const total = [...files.values()].reduce((sum, bytes) => sum + bytes.byteLength, 0);
  if (total > BUNDLE_LIMITS.totalBytes)
    problems.push({
      file: '(bundle)',
      message: `${total} bytes in total, over the ${BUNDLE_LIMITS.totalBytes}-byte limit`,
    });
  if (files.size > BUNDLE_LIMITS.files)
    problems.push({ file: '(bundle)', message: `${files.size} files, over the ${BUNDLE_LIMITS.files}-file limit` });
  if (problems.length > 0) throw PkgError.fromProblems('BundleTooLarge', 'bundle is too large', problems);
}
