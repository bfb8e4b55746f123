import { createHash } from 'node:crypto';

/**
 * File checksums and the snapshot checksum. The snapshot checksum is sha256 over the lines
 * "<sha256>  <path>\n" sorted by path (paths included, so a rename is a change). The signature
 * file is left out: signing a bundle does not change what it contains.
 */
export const SIGNATURES_FILE = '.signatures.json';

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function fileChecksums(files: ReadonlyMap<string, Uint8Array>): Record<string, string> {
  const checksums: Record<string, string> = {};
  for (const file of [...files.keys()].sort()) {
    if (file !== SIGNATURES_FILE) checksums[file] = sha256Hex(files.get(file)!);
  }
  return checksums;
}

/** The exact text that is hashed into the snapshot checksum and that signatures sign. */
export function checksumListing(checksums: Readonly<Record<string, string>>): string {
  return Object.keys(checksums)
    .sort()
    .map((file) => `${checksums[file]}  ${file}\n`)
    .join('');
}

export function snapshotChecksum(checksums: Readonly<Record<string, string>>): string {
  return sha256Hex(checksumListing(checksums));
}
