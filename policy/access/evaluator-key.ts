import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The text of an evaluator key: `pkek_<id>_<secret>`, a public id of 8 random bytes (hex) and a
 * secret of 32 random bytes (base64url). The id finds the stored row without the secret, so the
 * digest is compared with one row, in constant time; the id is what logs and `pkgctl` print.
 * Randomness is passed in: this module has no I/O.
 */
export const KEY_PREFIX = 'pkek_';
export const KEY_ID_BYTES = 8;
export const KEY_SECRET_BYTES = 32;

const KEY_PATTERN = /^pkek_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;
const BEARER = 'Bearer ';

export interface NewKey {
  id: string;
  text: string;
  sha256: Buffer;
}

/** A key from fresh random bytes (KEY_ID_BYTES for the id, KEY_SECRET_BYTES for the secret). */
export function formatKey(idBytes: Buffer, secretBytes: Buffer): NewKey {
  if (idBytes.length !== KEY_ID_BYTES || secretBytes.length !== KEY_SECRET_BYTES)
    throw new Error(`an evaluator key needs ${KEY_ID_BYTES} id bytes and ${KEY_SECRET_BYTES} secret bytes`);
  const id = idBytes.toString('hex');
  const text = `${KEY_PREFIX}${id}_${secretBytes.toString('base64url')}`;
  return { id, text, sha256: keyDigest(text) };
}

export function keyDigest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The key id of an `Authorization: Bearer pkek_…` header, or null when it is not one. */
export function presentedKeyId(authorization: string): string | null {
  if (!authorization.startsWith(BEARER)) return null;
  const match = KEY_PATTERN.exec(authorization.slice(BEARER.length).trim());
  return match ? match[1]! : null;
}

/** Whether the header's key hashes to `stored`; the digests are compared in constant time. */
export function keyMatches(authorization: string, stored: Buffer): boolean {
  const digest = keyDigest(authorization.slice(BEARER.length).trim());
  return digest.length === stored.length && timingSafeEqual(digest, stored);
}
