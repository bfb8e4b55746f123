import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { loadConfig } from '../../policy/config';
import { applyMigrations } from '../../scripts/migrate';
import { buildSnapshot } from '../../worker/evaluator/snapshots';
import { suffix } from './schema-fixtures';
import { storeExample } from './evaluator-harness';
import { pkgctl } from '../support/pkgctl';
import { parsePortable, type PortableSnapshot } from '../../policy/integrity/portable';

/**
 * Portable snapshots: exported from this database, imported into a scratch one (dropped after),
 * with the same identity on both sides; tampered exports refused with nothing written.
 */
const databaseUrl = loadConfig().DATABASE_URL;
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signing = {
  PKG_TRUSTED_KEYS: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  PKG_SIGNED_ENVS: 'dev',
};

let source: Pool;
let admin: Client;
let scratchName: string;
let scratchUrl: string;
let scratch: Pool;
let dir: string;

beforeAll(async () => {
  source = new Pool({ connectionString: databaseUrl, max: 2 });
  admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  scratchName = `pkg_transfer_test_${suffix()}`;
  await admin.query(`CREATE DATABASE ${scratchName}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${scratchName}`;
  scratchUrl = url.toString();
  await applyMigrations(scratchUrl);
  scratch = new Pool({ connectionString: scratchUrl, max: 2 });
  // DROP DATABASE … WITH (FORCE) ends whatever connection is still closing.
  scratch.on('error', () => undefined);
  dir = await mkdtemp(path.join(os.tmpdir(), 'pkg-transfer-'));
});

afterAll(async () => {
  await scratch?.end();
  await source?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${scratchName} WITH (FORCE)`);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
});

const IDENTITY = `SELECT s.id, s.version, s.env, s.checksum, s.file_checksums, s.signature, s.signature_key_id,
    s.content_sha256, s.seal, pkg_snapshot_content_sha256(s.id) AS content_now,
    (SELECT jsonb_object_agg(a.artifact_type, a.sha256) FROM pkg_snapshot_artifacts a WHERE a.snapshot_uuid = s.id)
      AS artifacts
  FROM pkg_snapshots s WHERE s.version = $1`;

async function exported(version: string): Promise<string> {
  const run = await pkgctl(['bundle', 'export', version], signing);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  return run.stdout;
}

async function importFile(text: string, name = `${suffix()}.json`) {
  const file = path.join(dir, name);
  await writeFile(file, text);
  const run = await pkgctl(['bundle', 'import', file, '--json'], { ...signing, DATABASE_URL: scratchUrl });
  return { ...run, file, result: JSON.parse(run.stdout) as Record<string, unknown> };
}

const countIn = async (pool: Pool, version: string) =>
  Number((await pool.query('SELECT count(*) FROM pkg_snapshots WHERE version = $1', [version])).rows[0].count);

test('export → import on a second database keeps id, version, checksums, signature and seal, and loads there', async () => {
  const { version } = await storeExample(
    source,
    'hotel-ops-v1',
    undefined,
    undefined,
    privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  const text = await exported(version);

  const first = await importFile(text);
  expect(first.code).toBe(0);
  expect(first.result).toMatchObject({ version, created: true });
  const [here, there] = [
    (await source.query(IDENTITY, [version])).rows[0],
    (await scratch.query(IDENTITY, [version])).rows[0],
  ];
  expect(there).toEqual(here);
  expect(there.content_now).toBe(there.content_sha256);
  expect(there.signature).not.toBeNull();

  // An evaluator of the receiving installation, requiring signatures, loads it.
  const loaded = await buildSnapshot(scratch, String(there.id), {
    trustedKeys: [signing.PKG_TRUSTED_KEYS],
    signedEnvs: ['dev'],
  });
  expect(loaded.version).toBe(version);
  // The same bytes out again, and importing twice changes nothing.
  expect((await pkgctl(['bundle', 'export', version], { ...signing, DATABASE_URL: scratchUrl })).stdout).toBe(text);
  expect((await importFile(text)).result).toMatchObject({ version, created: false });
  expect(await countIn(scratch, version)).toBe(1);
  // A changed copy of what is already here is a conflict, never an overwrite.
  const changed = JSON.parse(text);
  changed.compiled.rules[0].priority += 1;
  const conflict = await importFile(JSON.stringify(changed));
  expect(conflict).toMatchObject({ code: 3, result: { type: 'VersionConflict' } });
  expect((await scratch.query(IDENTITY, [version])).rows[0]).toEqual(here);
});

describe('a tampered export is refused and nothing is imported', () => {
  let version: string;
  let genuine: PortableSnapshot;
  beforeAll(async () => {
    ({ version } = await storeExample(
      source,
      'hotel-ops-v1',
      undefined,
      undefined,
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ));
    genuine = parsePortable(await exported(version), 'export');
  });

  const tampered = (change: (doc: PortableSnapshot) => void) => {
    const doc = structuredClone(genuine);
    change(doc);
    return JSON.stringify(doc);
  };

  test.each([
    [
      'a changed rule condition',
      'ChecksumMismatch',
      /its content .* hashes to/,
      (doc: PortableSnapshot) => {
        doc.compiled.rules[0]!.conditions[0]!.value = 'tampered';
      },
    ],
    [
      'a changed fixture',
      'ChecksumMismatch',
      /its content .* hashes to/,
      (doc: PortableSnapshot) => {
        doc.fixtures[0]!.expect.subtasks = ['tampered'];
      },
    ],
    [
      'wasm bytes rewritten with their sha256',
      'ChecksumMismatch',
      /sealed as/,
      (doc: PortableSnapshot) => {
        const bytes = Buffer.from(doc.artifacts.wasm.bytes, 'base64');
        bytes[99] = bytes[99]! ^ 0xff;
        doc.artifacts.wasm.bytes = bytes.toString('base64');
        doc.artifacts.wasm.sha256 = createHash('sha256').update(bytes).digest('hex');
      },
    ],
    [
      'wasm bytes changed alone',
      'ChecksumMismatch',
      /wasm artifact sha256/,
      (doc: PortableSnapshot) => {
        doc.artifacts.wasm.bytes = Buffer.from('not wasm').toString('base64');
      },
    ],
    [
      'its signature removed',
      'SignatureInvalid',
      /requires signed snapshots/,
      (doc: PortableSnapshot) => {
        doc.signature = null;
      },
    ],
    [
      'a file checksum changed',
      'ChecksumMismatch',
      /file listing/,
      (doc: PortableSnapshot) => {
        doc.file_checksums['rules.yaml'] = '0'.repeat(64);
      },
    ],
  ])('%s', async (_, type, message, change) => {
    const run = await importFile(tampered(change));
    expect(run.code).toBe(3);
    expect(run.result).toMatchObject({ outcome: 'error', type });
    expect(String(run.result.message)).toContain(run.file);
    expect(String(run.result.message)).toMatch(message);
    expect(await countIn(scratch, version)).toBe(0);
  });

  test('a file that is not an export is refused naming what is wrong', async () => {
    const run = await importFile(tampered((doc) => delete (doc as Partial<PortableSnapshot>).seal));
    expect(run.code).toBe(2);
    expect(run.result).toMatchObject({ outcome: 'error', type: 'InputInvalid' });
    expect(String(run.result.message)).toMatch(/seal/);
    expect((await importFile('{"format": "pkg-snapshot/1"')).result).toMatchObject({ type: 'InputInvalid' });
  });
});
