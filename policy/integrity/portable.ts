import canonicalize from 'canonicalize';
import { z } from 'zod';
import { CONDITION_TYPES, OPERATORS, RELATIONSHIPS, type CompiledSnapshot } from '../engine/compiled-snapshot';
import type { RunnableFixture } from '../bundle/fixtures';
import { PkgError } from '../errors';
import { ENVS } from '../lane';
import type { OpaArtifacts } from '../rego/artifacts';
import type { SealedSnapshot } from './seal';

/**
 * A portable snapshot (seed 004): one canonical JSON document that moves a stored snapshot from one
 * installation to another with its identity (id, version, checksum, signature, content hash, seal)
 * and everything the seal covers. Nothing in it is trusted on import: the rows are written, hashed
 * by the receiving database and verified like a load (seal.ts) before the transaction commits.
 */
export const PORTABLE_FORMAT = 'pkg-snapshot/1';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex');
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const params = z.record(z.string(), z.unknown());
const artifactSchema = z.strictObject({ sha256: hex64, bytes: z.base64() });

const compiledSchema = z.strictObject({
  version: z.string(),
  engine: z.enum(['native', 'wasm']),
  entrypoint: z.string(),
  subtaskTypes: z.array(z.strictObject({ name: z.string(), defaultParams: params })),
  rules: z.array(
    z.strictObject({
      id: z.string(),
      name: z.string(),
      priority: z.number().int(),
      enabled: z.boolean(),
      description: z.string().optional(),
      conditions: z.array(
        z.strictObject({
          type: z.enum(CONDITION_TYPES),
          key: z.string(),
          op: z.enum(OPERATORS),
          value: z.union([scalar, z.array(scalar)]).optional(),
        }),
      ),
      emissions: z.array(z.strictObject({ subtask: z.string(), relationship: z.enum(RELATIONSHIPS), params })),
    }),
  ),
});

const portableSchema = z.strictObject({
  format: z.literal(PORTABLE_FORMAT),
  snapshot_id: z.uuid(),
  version: z.string(),
  env: z.enum(ENVS),
  checksum: hex64,
  file_checksums: z.record(z.string(), hex64),
  signature: z.strictObject({ key_id: z.string(), signature: z.string() }).nullable(),
  content_sha256: hex64,
  seal: hex64,
  manifest: z.looseObject({ schema_version: z.string(), notes: z.string().optional() }),
  compiled: compiledSchema,
  // Objects only: the content hash, checked on import, says whether they are what was compiled.
  fixtures: z.array(
    z.strictObject({
      name: z.string(),
      input: z.custom<RunnableFixture['input']>(isObject, 'an object'),
      expect: z.custom<RunnableFixture['expect']>(isObject, 'an object'),
    }),
  ),
  artifacts: z.strictObject({ wasm: artifactSchema, rego: artifactSchema }),
});

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type PortableSnapshot = z.output<typeof portableSchema>;

/** What an export is made from: a stored snapshot as read back, verified. */
export interface ExportedParts {
  snapshotId: string;
  compiled: CompiledSnapshot;
  fixtures: readonly RunnableFixture[];
  manifest: Record<string, unknown>;
  sealed: SealedSnapshot;
}

export function portableOf(parts: ExportedParts): PortableSnapshot {
  const { sealed } = parts;
  if (!sealed.seal || !sealed.contentSha256 || !sealed.fileChecksums || !sealed.wasm || !sealed.rego)
    throw new PkgError(
      'NotFound',
      `snapshot ${sealed.version} has no seal or no artifacts (compiled before sealing, or written as rule rows): nothing to export it with`,
    );
  return portableSchema.parse({
    format: PORTABLE_FORMAT,
    snapshot_id: parts.snapshotId,
    version: sealed.version,
    env: sealed.env,
    checksum: sealed.checksum,
    file_checksums: sealed.fileChecksums,
    signature: sealed.signature && { key_id: sealed.signature.keyId, signature: sealed.signature.signature },
    content_sha256: sealed.contentSha256,
    seal: sealed.seal,
    manifest: parts.manifest,
    compiled: parts.compiled,
    fixtures: parts.fixtures,
    artifacts: {
      wasm: { sha256: sealed.wasm.sha256, bytes: sealed.wasm.bytes.toString('base64') },
      rego: { sha256: sealed.rego.sha256, bytes: sealed.rego.bytes.toString('base64') },
    },
  });
}

/** The file's text: RFC 8785 canonical JSON, so one snapshot always exports to the same bytes. */
export function portableText(snapshot: PortableSnapshot): string {
  return canonicalize(snapshot)!;
}

export function parsePortable(text: string, file: string): PortableSnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PkgError('InputInvalid', `${file}: not JSON (expected a ${PORTABLE_FORMAT} export)`);
  }
  const result = portableSchema.safeParse(parsed);
  if (result.success) return result.data;
  throw PkgError.fromProblems(
    'InputInvalid',
    `${file}: not a ${PORTABLE_FORMAT} export`,
    result.error.issues.map((issue) => ({ file, path: issue.path.join('.'), message: issue.message })),
  );
}

/** The snapshot as the receiving database holds it, for the same check a load makes. */
export function sealedOfPortable(snapshot: PortableSnapshot, contentSha256Now: string): SealedSnapshot {
  return {
    version: snapshot.version,
    env: snapshot.env,
    engine: snapshot.compiled.engine,
    checksum: snapshot.checksum,
    fileChecksums: snapshot.file_checksums,
    contentSha256: snapshot.content_sha256,
    contentSha256Now,
    seal: snapshot.seal,
    ...artifactsOfPortable(snapshot),
    signature: snapshot.signature && { keyId: snapshot.signature.key_id, signature: snapshot.signature.signature },
  };
}

export function artifactsOfPortable(snapshot: PortableSnapshot): OpaArtifacts {
  const artifact = (type: keyof OpaArtifacts) => ({
    bytes: Buffer.from(snapshot.artifacts[type].bytes, 'base64'),
    sha256: snapshot.artifacts[type].sha256,
  });
  return { wasm: artifact('wasm'), rego: artifact('rego') };
}
