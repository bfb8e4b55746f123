import { generateKeyPairSync } from 'node:crypto';
import { checksumListing, sha256Hex } from '../../policy/bundle/checksum';
import { keyIdOf, NO_SIGNING, type SigningPolicy } from '../../policy/bundle/signing';
import { sign } from 'node:crypto';
import { sealOf, SnapshotRefused, verifySnapshotIntegrity, type SealedSnapshot } from '../../policy/integrity/seal';

/** The load-time chain, without a database: each broken link refused with its own reason. */
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signing: SigningPolicy = {
  trustedKeys: [publicKey.export({ type: 'spki', format: 'pem' }).toString()],
  signedEnvs: ['prod'],
};

function sealed(): SealedSnapshot {
  const fileChecksums = { 'manifest.yaml': sha256Hex('m'), 'rules.yaml': sha256Hex('r') };
  const listing = checksumListing(fileChecksums);
  const wasm = { bytes: Buffer.from('wasm'), sha256: sha256Hex('wasm') };
  const rego = { bytes: Buffer.from('rego'), sha256: sha256Hex('rego') };
  const checksum = sha256Hex(listing);
  const contentSha256 = sha256Hex('rules');
  return {
    version: 'p@1.0.0',
    env: 'prod',
    engine: 'native',
    checksum,
    fileChecksums,
    contentSha256,
    contentSha256Now: contentSha256,
    seal: sealOf({ checksum, contentSha256, wasmSha256: wasm.sha256, regoSha256: rego.sha256 }),
    wasm,
    rego,
    signature: {
      keyId: keyIdOf(publicKey),
      signature: sign(null, Buffer.from(listing), privateKey).toString('base64'),
    },
  };
}

/** A native snapshot written as seed rows, then sealed: no file listing, no artifacts, no signature. */
function sealedRows(): SealedSnapshot {
  const checksum = sha256Hex('seed-rules@1.0.0');
  const contentSha256 = sha256Hex('rows');
  return {
    version: 'seed-rules@1.0.0',
    env: 'dev',
    engine: 'native',
    checksum,
    fileChecksums: null,
    contentSha256,
    contentSha256Now: contentSha256,
    seal: sealOf({ checksum, contentSha256, wasmSha256: null, regoSha256: null }),
    wasm: null,
    rego: null,
    signature: null,
  };
}

const reasonOf = (snapshot: SealedSnapshot, policy = signing) => {
  try {
    verifySnapshotIntegrity(snapshot, policy);
  } catch (error) {
    if (error instanceof SnapshotRefused) return error.reason;
    throw error;
  }
  return 'loaded';
};

describe('verifySnapshotIntegrity', () => {
  it('loads a snapshot whose every link holds', () => {
    expect(reasonOf(sealed())).toBe('loaded');
  });

  it('names each broken link', () => {
    const base = sealed();
    expect(reasonOf({ ...base, seal: null })).toBe('unsealed');
    expect(reasonOf({ ...base, wasm: { ...base.wasm!, bytes: Buffer.from('other') } })).toBe('artifact_mismatch');
    expect(reasonOf({ ...base, rego: null })).toBe('artifact_mismatch');
    expect(reasonOf({ ...base, wasm: null, rego: null, seal: null })).toBe('unsealed');
    expect(reasonOf({ ...base, contentSha256Now: sha256Hex('changed') })).toBe('rules_mismatch');
    const rewritten = { bytes: Buffer.from('other'), sha256: sha256Hex('other') };
    expect(reasonOf({ ...base, rego: rewritten })).toBe('seal_mismatch');
    expect(reasonOf({ ...base, fileChecksums: { 'rules.yaml': sha256Hex('r') } })).toBe('files_mismatch');
    expect(reasonOf({ ...base, signature: null })).toBe('unsigned');
    expect(reasonOf({ ...base, signature: { ...base.signature!, keyId: '0123456789abcdef' } })).toBe('untrusted_key');
    const forged = Buffer.alloc(64).toString('base64');
    expect(reasonOf({ ...base, signature: { ...base.signature!, signature: forged } })).toBe('bad_signature');
  });

  it('seals an absent artifact as none, which no recorded sha256 can be', () => {
    const parts = { checksum: 'c', contentSha256: 'x' };
    expect(sealOf({ ...parts, wasmSha256: null, regoSha256: null })).toBe(
      sha256Hex('pkg-seal/1\nchecksum c\ncontent x\nwasm none\nrego none\n'),
    );
    expect(sealOf({ ...parts, wasmSha256: null, regoSha256: null })).not.toBe(
      sealOf({ ...parts, wasmSha256: '', regoSha256: '' }),
    );
  });

  it('loads a native snapshot without artifacts whose seal says it has none, and checks its rows like any other', () => {
    const rows = sealedRows();
    expect(reasonOf(rows)).toBe('loaded');
    expect(reasonOf({ ...rows, contentSha256Now: sha256Hex('changed') })).toBe('rules_mismatch');
    expect(reasonOf({ ...rows, seal: null })).toBe('unsealed');
    expect(reasonOf({ ...rows, engine: 'wasm' })).toBe('artifact_mismatch');
    const { wasm } = sealed();
    expect(reasonOf({ ...rows, wasm })).toBe('artifact_mismatch');
    expect(reasonOf({ ...rows, env: 'prod' })).toBe('unsigned');
  });

  it('refuses a compiled snapshot stripped of its artifacts: its seal covers them', () => {
    const base = sealed();
    const stripped = { ...base, wasm: null, rego: null };
    expect(reasonOf(stripped)).toBe('artifact_mismatch');
    // Without the file listing that marks it compiled, the seal over its artifacts still refuses it.
    expect(reasonOf({ ...stripped, env: 'dev', fileChecksums: null, signature: null })).toBe('seal_mismatch');
  });

  it('asks for a signature only where the env requires one, but checks one it can check everywhere', () => {
    const dev = { ...sealed(), env: 'dev' as const };
    expect(reasonOf({ ...dev, signature: null })).toBe('loaded');
    expect(reasonOf({ ...dev, signature: { ...dev.signature!, keyId: '0123456789abcdef' } })).toBe('loaded');
    const forged = Buffer.alloc(64).toString('base64');
    expect(reasonOf({ ...dev, signature: { ...dev.signature!, signature: forged } })).toBe('bad_signature');
    expect(reasonOf({ ...dev, signature: null }, NO_SIGNING)).toBe('loaded');
  });

  it('refuses as ChecksumMismatch or SignatureInvalid, naming the version', () => {
    const error = (() => {
      try {
        verifySnapshotIntegrity({ ...sealed(), signature: null }, signing);
      } catch (caught) {
        return caught as SnapshotRefused;
      }
    })();
    expect(error?.type).toBe('SignatureInvalid');
    expect(error?.message).toMatch(/^snapshot p@1\.0\.0: /);
  });
});
