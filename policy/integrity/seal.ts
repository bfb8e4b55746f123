import { checksumListing, sha256Hex } from '../bundle/checksum';
import { signsListing, trustedKeyring, type SigningPolicy, type VerifiedSignature } from '../bundle/signing';
import { PkgError, type ErrorType } from '../errors';
import type { EngineKind } from '../engine/evaluation';
import type { Env } from '../lane';
import type { StoredArtifact } from '../rego/artifacts';

/**
 * Load = verify. A snapshot is served only when everything an engine is built from chains up to
 * its checksum: its content (rule rows, fixtures, manifest: pkg_snapshot_content_sha256) hashes to
 * what was recorded at compile, the artifacts' bytes hash to their recorded sha256, and the seal
 * (sha256 over checksum, content and artifacts, written in
 * the compile's transaction) matches all of them, so no part can change alone. The file listing
 * hashes to the checksum, and where a signature is required it must verify over that listing by
 * a trusted key. Signatures are the only link a database writer cannot forge; the seal catches
 * any change that does not rewrite it too. A native snapshot written as rows has no artifacts: its
 * seal (pkg_seal_snapshot, `pkgctl snapshot seal`) covers that there are none.
 */
export const REFUSAL_REASONS = [
  'unsealed', // never sealed (compiled before sealing, or rows written the seed's way): nothing to verify them against
  'artifact_mismatch', // an artifact's bytes do not hash to its recorded sha256
  'rules_mismatch', // rule, condition, emission, subtask type or fixture rows (or the manifest) changed since compile
  'seal_mismatch', // checksum, rule hash and artifact sha256 no longer hash to the seal
  'files_mismatch', // the stored file listing does not hash to the snapshot checksum
  'unsigned', // the env requires signatures and the snapshot has none
  'untrusted_key', // signed by a key that is not (or no longer) trusted
  'bad_signature', // the stored signature does not verify over the file listing
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export class SnapshotRefused extends PkgError {
  constructor(
    readonly version: string,
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(errorTypeOf(reason), `snapshot ${version}: ${message}`);
  }
}

function errorTypeOf(reason: RefusalReason): ErrorType {
  return ['unsigned', 'untrusted_key', 'bad_signature'].includes(reason) ? 'SignatureInvalid' : 'ChecksumMismatch';
}

export interface SealParts {
  checksum: string;
  contentSha256: string;
  /** Null: the snapshot has no such artifact (sealed as `none`). */
  wasmSha256: string | null;
  regoSha256: string | null;
}

/**
 * Byte for byte the text pkg_seal_of() hashes in migrations (integrity, snapshot seals). Seals are
 * written only by pkg_seal_snapshot() in SQL; this copy checks them away from the functions a
 * database writer could replace.
 */
export function sealOf(parts: SealParts): string {
  const { checksum, contentSha256 } = parts;
  const [wasm, rego] = [parts.wasmSha256 ?? 'none', parts.regoSha256 ?? 'none'];
  return sha256Hex(`pkg-seal/1\nchecksum ${checksum}\ncontent ${contentSha256}\nwasm ${wasm}\nrego ${rego}\n`);
}

/** What the store reads for the check: recorded values beside the content hash taken with the rows. */
export interface SealedSnapshot {
  version: string;
  env: Env;
  /** Only a native snapshot may have no artifacts. */
  engine: EngineKind;
  checksum: string;
  fileChecksums: Record<string, string> | null;
  /** Recorded at compile. */
  contentSha256: string | null;
  /** Hashed from the rows the engine is built from, in the same read. */
  contentSha256Now: string;
  seal: string | null;
  /** Null when the snapshot has no such artifact (written the seed's way, as rule rows only). */
  wasm: StoredArtifact | null;
  rego: StoredArtifact | null;
  signature: VerifiedSignature | null;
}

export function verifySnapshotIntegrity(snapshot: SealedSnapshot, policy: SigningPolicy): void {
  const refuse = (reason: RefusalReason, message: string) => new SnapshotRefused(snapshot.version, reason, message);
  const { seal, contentSha256 } = snapshot;
  if (seal === null || contentSha256 === null)
    throw refuse('unsealed', 'it has no seal (compiled before sealing, or written as rows and never sealed)');
  const artifacts = verifiedArtifacts(snapshot, refuse);
  if (snapshot.contentSha256Now !== contentSha256)
    throw refuse(
      'rules_mismatch',
      `its content (rule rows, fixtures, manifest) hashes to ${snapshot.contentSha256Now}, sealed as ${contentSha256}`,
    );
  const parts = { checksum: snapshot.checksum, contentSha256, ...artifacts };
  if (sealOf(parts) !== seal)
    throw refuse('seal_mismatch', `checksum, content and artifacts hash to ${sealOf(parts)}, sealed as ${seal}`);
  verifyStoredSignature(snapshot, policy, refuse);
}

/**
 * The artifacts' recorded sha256 for the seal, once their bytes hash to it. No artifacts at all is
 * what a native snapshot written as rows has; the seal then says `none`, so a compiled snapshot
 * stripped of its artifacts still fails it, and one with its file listing is refused before that.
 */
function verifiedArtifacts(
  snapshot: SealedSnapshot,
  refuse: (reason: RefusalReason, message: string) => SnapshotRefused,
): Pick<SealParts, 'wasmSha256' | 'regoSha256'> {
  const { wasm, rego } = snapshot;
  if (!wasm && !rego) {
    if (snapshot.engine !== 'native')
      throw refuse('artifact_mismatch', `it has no artifacts, and engine ${snapshot.engine} is built from them`);
    if (snapshot.fileChecksums !== null)
      throw refuse('artifact_mismatch', 'it was compiled from a bundle (it has a file listing) but has no artifacts');
    return { wasmSha256: null, regoSha256: null };
  }
  if (!wasm || !rego) throw refuse('artifact_mismatch', `it is sealed but has no ${wasm ? 'rego' : 'wasm'} artifact`);
  for (const [type, artifact] of [
    ['wasm', wasm],
    ['rego', rego],
  ] as const) {
    const actual = sha256Hex(artifact.bytes);
    if (actual !== artifact.sha256)
      throw refuse('artifact_mismatch', `${type} artifact sha256 is ${actual}, recorded ${artifact.sha256}`);
  }
  return { wasmSha256: wasm.sha256, regoSha256: rego.sha256 };
}

function verifyStoredSignature(
  snapshot: SealedSnapshot,
  policy: SigningPolicy,
  refuse: (reason: RefusalReason, message: string) => SnapshotRefused,
): void {
  const listing = snapshot.fileChecksums === null ? null : checksumListing(snapshot.fileChecksums);
  if (listing !== null && sha256Hex(listing) !== snapshot.checksum)
    throw refuse('files_mismatch', `its file listing hashes to ${sha256Hex(listing)}, not its checksum`);
  const required = policy.signedEnvs.includes(snapshot.env);
  const { signature } = snapshot;
  if (!signature || listing === null) {
    if (required) throw refuse('unsigned', `env ${snapshot.env} requires signed snapshots and it has no signature`);
    return;
  }
  const key = trustedKeyring(policy).get(signature.keyId);
  if (!key) {
    if (required) throw refuse('untrusted_key', `signed by key ${signature.keyId}, which is not trusted`);
    return;
  }
  if (!signsListing(key, listing, signature.signature))
    throw refuse('bad_signature', `the signature by key ${signature.keyId} does not verify over its file listing`);
}
