import { sha256Hex } from '../bundle/checksum';
import { packBundle, unpackBundle } from '../bundle/pack';
import { PkgError } from '../errors';

/**
 * What a wasm snapshot runs, as stored when it was compiled: the module opa built, and the OPA
 * bundle it came from (the Rego sources plus `data.json`, the data document the module reads).
 * The data is stored rather than derived again at load time, so a later pipeline whose Rego
 * generator lays data out differently can never pair an old module with new data: a snapshot
 * keeps deciding exactly as it did when its fixtures passed.
 */
export interface StoredArtifact {
  bytes: Buffer;
  sha256: string;
}

export interface OpaArtifacts {
  wasm: StoredArtifact;
  rego: StoredArtifact;
}

export const DATA_FILE = 'data.json';

/** Packs the Rego opa compiled together with the data document its module expects. */
export function packRegoArtifact(rego: ReadonlyMap<string, string>, data: unknown): StoredArtifact {
  const files = new Map([...rego].map(([file, text]) => [file, Buffer.from(text)] as const));
  files.set(DATA_FILE, Buffer.from(JSON.stringify(data)));
  const bytes = packBundle(files);
  return { bytes, sha256: sha256Hex(bytes) };
}

/** Checks an artifact's bytes against the sha256 recorded when it was built. */
export function verifyArtifact(version: string, type: keyof OpaArtifacts, artifact: StoredArtifact): void {
  const actual = sha256Hex(artifact.bytes);
  if (actual === artifact.sha256) return;
  throw new PkgError(
    'ChecksumMismatch',
    `snapshot ${version}: ${type} artifact sha256 is ${actual}, recorded ${artifact.sha256}; refusing to load it`,
  );
}

/** The data document stored with a snapshot's Rego, after verifying the artifact. */
export function storedWasmData(version: string, rego: StoredArtifact): object {
  verifyArtifact(version, 'rego', rego);
  const data = unpackBundle(rego.bytes).get(DATA_FILE);
  if (!data) {
    throw new PkgError(
      'NotFound',
      `snapshot ${version}: its rego artifact carries no ${DATA_FILE} (compiled by an older pipeline); publish the bundle again under a new version`,
    );
  }
  return JSON.parse(data.toString('utf8')) as object;
}
