import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BundleFiles } from '../policy/bundle/bundle';
import { SIGNATURES_FILE } from '../policy/bundle/checksum';
import { BUNDLE_LIMITS } from '../policy/bundle/limits';
import { PkgError } from '../policy/errors';

/**
 * Reads a bundle directory into the in-memory file map loadBundle parses. Hidden entries (.git,
 * editor files) are skipped, except the signature file. Sizes are checked before reading, so a
 * directory that is far too large is refused without loading it.
 */
export async function readBundleDir(dir: string): Promise<BundleFiles> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new PkgError('NotFound', `bundle directory ${dir} does not exist`);
  const files: BundleFiles = new Map();
  let total = 0;
  for (const relative of await listFiles(dir, '')) {
    total += (await stat(path.join(dir, relative))).size;
    if (total > BUNDLE_LIMITS.totalBytes || files.size >= BUNDLE_LIMITS.files) {
      throw new PkgError(
        'BundleTooLarge',
        `bundle ${dir} is over the limit of ${BUNDLE_LIMITS.totalBytes} bytes / ${BUNDLE_LIMITS.files} files`,
      );
    }
    files.set(relative, await readFile(path.join(dir, relative)));
  }
  return files;
}

async function listFiles(root: string, prefix: string): Promise<string[]> {
  const entries = await readdir(path.join(root, prefix), { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.name.startsWith('.') && relative !== SIGNATURES_FILE) continue;
    if (entry.isDirectory()) found.push(...(await listFiles(root, relative)));
    else if (entry.isFile()) found.push(relative);
  }
  return found;
}
