import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { checksumListing, fileChecksums, sha256Hex, SIGNATURES_FILE } from './checksum';
import { PkgError, type Problem } from '../errors';
import type { Env } from '../lane';

/**
 * Bundle signatures: Ed25519 over the checksum listing (bundle-checksum.ts) of every file but the
 * signature file itself. `.signatures.json` records the checksums it signed, so a file changed
 * after signing is named (ChecksumMismatch) rather than reported as a bare bad signature.
 */
export interface SignatureFile {
  format: 'pkg-signatures/1';
  files: Record<string, string>;
  signatures: { algorithm: 'ed25519'; key_id: string; signature: string }[];
}

/** Which envs demand a signature, and the key that verifies it. */
export interface SigningPolicy {
  publicKeyPem: string | null;
  signedEnvs: readonly Env[];
}

export const NO_SIGNING: SigningPolicy = { publicKeyPem: null, signedEnvs: [] };

/** Key id: the first 16 hex of sha256 over the public key's DER, so rotations are visible. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export function signBundle(files: ReadonlyMap<string, Uint8Array>, privateKeyPem: string): Buffer {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new PkgError('InputInvalid', `signing key is ${key.asymmetricKeyType}, expected an Ed25519 private key`);
  const checksums = fileChecksums(files);
  const signature = sign(null, Buffer.from(checksumListing(checksums)), key).toString('base64');
  const content: SignatureFile = {
    format: 'pkg-signatures/1',
    files: checksums,
    signatures: [{ algorithm: 'ed25519', key_id: keyIdOf(key), signature }],
  };
  return Buffer.from(`${JSON.stringify(content, null, 2)}\n`);
}

/**
 * Checks a bundle against the policy for its env: recorded checksums must match the files (always,
 * when a signature file is present), and the signature must verify when a key is configured; an env
 * that requires signatures refuses an unsigned bundle or one no configured key can verify.
 */
export function verifyBundleSignature(
  files: ReadonlyMap<string, Uint8Array>,
  env: Env,
  policy: SigningPolicy,
): { signed: boolean; keyId?: string } {
  const required = policy.signedEnvs.includes(env);
  const raw = files.get(SIGNATURES_FILE);
  if (!raw) {
    if (required)
      throw new PkgError(
        'SignatureInvalid',
        `${SIGNATURES_FILE}: missing, but env ${env} requires signed bundles (pkgctl bundle sign DIR --key K)`,
      );
    return { signed: false };
  }
  const recorded = parseSignatureFile(raw);
  checkChecksums(recorded.files, fileChecksums(files));
  if (!policy.publicKeyPem) {
    if (required)
      throw new PkgError(
        'SignatureInvalid',
        `env ${env} requires signed bundles but no verification key is configured (PKG_SIGNING_PUBLIC_KEY)`,
      );
    return { signed: false };
  }
  const key = createPublicKey(policy.publicKeyPem);
  const keyId = keyIdOf(key);
  const payload = Buffer.from(checksumListing(recorded.files));
  const matching = recorded.signatures.filter((s) => s.key_id === keyId);
  if (matching.length === 0)
    throw new PkgError('SignatureInvalid', `${SIGNATURES_FILE}: no signature by the configured key ${keyId}`);
  if (!matching.some((s) => verify(null, payload, key, Buffer.from(s.signature, 'base64')))) {
    throw new PkgError(
      'SignatureInvalid',
      `${SIGNATURES_FILE}: the signature by key ${keyId} does not verify (tampered signature or checksums)`,
    );
  }
  return { signed: true, keyId };
}

function parseSignatureFile(raw: Uint8Array): SignatureFile {
  let parsed: Partial<SignatureFile>;
  try {
    parsed = JSON.parse(Buffer.from(raw).toString('utf8')) as Partial<SignatureFile>;
  } catch {
    throw new PkgError('SignatureInvalid', `${SIGNATURES_FILE}: not valid JSON`);
  }
  const wellFormed =
    parsed.format === 'pkg-signatures/1' &&
    typeof parsed.files === 'object' &&
    parsed.files !== null &&
    Array.isArray(parsed.signatures) &&
    parsed.signatures.every(
      (s) => typeof s?.key_id === 'string' && typeof s.signature === 'string' && s.algorithm === 'ed25519',
    );
  if (!wellFormed)
    throw new PkgError(
      'SignatureInvalid',
      `${SIGNATURES_FILE}: expected {format: "pkg-signatures/1", files, signatures: [{algorithm: "ed25519", key_id, signature}]}`,
    );
  return parsed as SignatureFile;
}

function checkChecksums(recorded: Record<string, string>, actual: Record<string, string>): void {
  const problems: Problem[] = [];
  for (const file of new Set([...Object.keys(recorded), ...Object.keys(actual)])) {
    if (!(file in actual)) problems.push({ file, message: 'signed but missing from the bundle' });
    else if (!(file in recorded)) problems.push({ file, message: 'added after signing' });
    else if (recorded[file] !== actual[file])
      problems.push({ file, message: `sha256 is ${actual[file]}, signed as ${recorded[file]}` });
  }
  if (problems.length > 0)
    throw PkgError.fromProblems(
      'ChecksumMismatch',
      `${SIGNATURES_FILE}: the bundle changed after it was signed`,
      problems,
    );
}
