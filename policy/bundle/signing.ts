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

/**
 * Which envs demand a signature, and the public keys (PEM) trusted to sign. Several keys let a new
 * key sign while snapshots signed by the old one still load; dropping a key from the list is
 * what revokes it.
 */
export interface SigningPolicy {
  trustedKeys: readonly string[];
  signedEnvs: readonly Env[];
}

export const NO_SIGNING: SigningPolicy = { trustedKeys: [], signedEnvs: [] };

/** The signature that verified, as stored with the snapshot. */
export interface VerifiedSignature {
  keyId: string;
  signature: string;
}

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
 * when a signature file is present), and a signature by a trusted key must verify when keys are
 * configured; an env that requires signatures refuses an unsigned bundle or one no trusted key
 * verifies.
 */
export function verifyBundleSignature(
  files: ReadonlyMap<string, Uint8Array>,
  env: Env,
  policy: SigningPolicy,
): { signed: false } | ({ signed: true } & VerifiedSignature) {
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
  if (policy.trustedKeys.length === 0) {
    if (required)
      throw new PkgError(
        'SignatureInvalid',
        `env ${env} requires signed bundles but no verification key is configured (PKG_TRUSTED_KEYS)`,
      );
    return { signed: false };
  }
  const keyring = trustedKeyring(policy);
  const listing = checksumListing(recorded.files);
  const byTrusted = recorded.signatures.filter((s) => keyring.has(s.key_id));
  if (byTrusted.length === 0)
    throw new PkgError(
      'SignatureInvalid',
      `${SIGNATURES_FILE}: no signature by a trusted key (trusted: ${[...keyring.keys()].join(', ')})`,
    );
  const good = byTrusted.find((s) => signsListing(keyring.get(s.key_id)!, listing, s.signature));
  if (!good)
    throw new PkgError(
      'SignatureInvalid',
      `${SIGNATURES_FILE}: the signature by key ${byTrusted[0]!.key_id} does not verify (tampered signature or checksums)`,
    );
  return { signed: true, keyId: good.key_id, signature: good.signature };
}

/** Trusted keys by key id. */
export function trustedKeyring(policy: SigningPolicy): Map<string, KeyObject> {
  return new Map(
    policy.trustedKeys.map((pem) => {
      const key = createPublicKey(pem);
      return [keyIdOf(key), key] as const;
    }),
  );
}

/** Whether `signature` (base64) by `key` signs this checksum listing. */
export function signsListing(key: KeyObject, listing: string, signature: string): boolean {
  return verify(null, Buffer.from(listing), key, Buffer.from(signature, 'base64'));
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
