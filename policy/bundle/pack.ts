import { PkgError } from '../errors';
import { BUNDLE_LIMITS } from './limits';
import type { BundleFiles } from './bundle';
import { sha256Hex } from './checksum';

/**
 * The upload format: canonical JSON {format, files: {path: base64}} with paths sorted, so the same
 * files always pack to the same bytes and the same content digest (sha256 of the packed bytes).
 */
const FORMAT = 'pkg-bundle/1';
/** Base64 inflates by 4/3; the envelope adds a little per file. */
export const MAX_PACKED_BYTES = Math.ceil((BUNDLE_LIMITS.totalBytes * 4) / 3) + BUNDLE_LIMITS.files * 1024;

export function packBundle(files: ReadonlyMap<string, Uint8Array>): Buffer {
  const encoded: Record<string, string> = {};
  for (const file of [...files.keys()].sort()) encoded[file] = Buffer.from(files.get(file)!).toString('base64');
  return Buffer.from(JSON.stringify({ format: FORMAT, files: encoded }));
}

export function bundleDigest(packed: Uint8Array): string {
  return sha256Hex(packed);
}

export function unpackBundle(packed: Uint8Array): BundleFiles {
  if (packed.byteLength > MAX_PACKED_BYTES) {
    throw new PkgError(
      'BundleTooLarge',
      `packed bundle is ${packed.byteLength} bytes, over the ${MAX_PACKED_BYTES}-byte limit`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(packed).toString('utf8'));
  } catch {
    throw new PkgError('BundleInvalid', `packed bundle is not ${FORMAT} JSON`);
  }
  const envelope = parsed as { format?: unknown; files?: unknown };
  if (envelope?.format !== FORMAT || typeof envelope.files !== 'object' || envelope.files === null) {
    throw new PkgError('BundleInvalid', `packed bundle is not in the ${FORMAT} format`);
  }
  const files: BundleFiles = new Map();
  for (const [file, data] of Object.entries(envelope.files as Record<string, unknown>)) {
    if (typeof data !== 'string' || file.startsWith('/') || file.split('/').includes('..')) {
      throw new PkgError('BundleInvalid', `packed bundle has a bad entry ${JSON.stringify(file)}`);
    }
    files.set(file, Buffer.from(data, 'base64'));
  }
  return files;
}
