import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import canonicalize from 'canonicalize';
import { Pool } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { readBundleDir } from '../../activities/bundle-dir';
import { compileBundleFiles, createCompileActivities } from '../../activities/compile';
import { artifactsOf, readSnapshot } from '../../activities/store/snapshot-read';
import { storeSnapshot } from '../../activities/store/snapshot-write';
import { loadBundle, type BundleFiles } from '../../policy/bundle/bundle';
import { checksumListing, sha256Hex, SIGNATURES_FILE } from '../../policy/bundle/checksum';
import { compileSnapshot } from '../../policy/bundle/compile';
import { bundleDigest, packBundle, unpackBundle } from '../../policy/bundle/pack';
import { DATA_FILE, packRegoArtifact } from '../../policy/rego/artifacts';
import { regoData } from '../../policy/rego/data';
import { withVersionSuffix } from '../../policy/bundle/version';
import { loadConfig } from '../../policy/config';
import { PkgError } from '../../policy/errors';
import { runFixtures } from '../../policy/bundle/fixtures';
import { createNativeEngine } from '../../policy/engine/native';
import { keyIdOf, NO_SIGNING, signBundle, type SigningPolicy } from '../../policy/bundle/signing';
import { bundleFiles } from '../unit/bundle-builder';
import { BAD_BUNDLES } from './bundle-bad-inputs';
import { createWasmEngine } from '../../policy/engine/wasm';
import { pkgctl } from '../support/pkgctl';

const config = loadConfig();
let pool: Pool;
beforeAll(() => {
  pool = new Pool({ connectionString: config.DATABASE_URL, max: 4 });
});
afterAll(async () => {
  await pool.end();
});

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hotel-ops-v1');
const deps = (signing: SigningPolicy = NO_SIGNING) => ({ pool, opaPath: config.OPA_PATH, signing });
const uniqueExample = async (): Promise<BundleFiles> =>
  withVersionSuffix(await readBundleDir(EXAMPLE), `t${randomUUID().slice(0, 8)}`);
const versionOf = (files: BundleFiles) => loadBundle(files).manifest.version;

async function rowsFor(version: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM pkg_snapshots WHERE version = $1', [
    version,
  ]);
  return Number(rows[0]!.n);
}

async function refusal(action: Promise<unknown>): Promise<PkgError> {
  const error = await action.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof PkgError)) throw new Error(`expected a PkgError, got ${String(error)}`);
  return error;
}

/** A snapshot this suite compiled and stored, read back with both its artifacts. */
async function readCompiled(snapshotId: string) {
  const stored = await readSnapshot(pool, { id: snapshotId });
  return { ...stored, ...artifactsOf(stored) };
}

describe('compile and store', () => {
  it('stores a snapshot once; the same content again returns the same snapshot', async () => {
    const files = await uniqueExample();
    const first = await compileBundleFiles(deps(), files, null, 'test');
    const again = await compileBundleFiles(deps(), files, null, 'test');
    expect(first).toMatchObject({ created: true, env: 'dev', fixtureCount: 21 });
    expect(first.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(again).toEqual({ ...first, created: false });
    expect(await rowsFor(first.version)).toBe(1);
  });

  it('loads back the same compiled snapshot, whose fixtures pass on both engines', async () => {
    const files = await uniqueExample();
    const { snapshotId } = await compileBundleFiles(deps(), files, null, 'test');
    const stored = await readCompiled(snapshotId);
    const byName = <T extends { name: string }>(list: T[]) => [...list].sort((a, b) => (a.name < b.name ? -1 : 1));
    const fromBundle = compileSnapshot(loadBundle(files));
    expect(
      canonicalize({
        ...stored.compiled,
        rules: byName(stored.compiled.rules),
        subtaskTypes: byName(stored.compiled.subtaskTypes),
      }),
    ).toBe(
      canonicalize({ ...fromBundle, rules: byName(fromBundle.rules), subtaskTypes: byName(fromBundle.subtaskTypes) }),
    );
    const wasm = await createWasmEngine(stored.compiled, stored);
    for (const engine of [createNativeEngine(stored.compiled), wasm])
      expect(runFixtures(engine, stored.fixtures)).toMatchObject({ passed: 21, failed: 0 });
    expect((await readSnapshot(pool, { version: stored.version })).snapshotId).toBe(snapshotId);
  });

  it('refuses the same version with different content', async () => {
    const files = await uniqueExample();
    const first = await compileBundleFiles(deps(), files, null, 'test');
    const changed = new Map(files).set(
      'rules.yaml',
      Buffer.from(`${files.get('rules.yaml')!.toString()}\n# changed\n`),
    );
    expect((await refusal(compileBundleFiles(deps(), changed, null, 'test'))).type).toBe('VersionConflict');
    // The store refuses too when the early check is raced past.
    const bundle = loadBundle(changed);
    const artifacts = await readCompiled(first.snapshotId);
    const request = {
      bundle,
      compiled: compileSnapshot(bundle),
      artifacts: { wasm: artifacts.wasm, rego: artifacts.rego },
      bundleDigest: null,
      actor: 'test',
    };
    expect((await refusal(storeSnapshot(pool, request))).type).toBe('VersionConflict');
  });

  it.each(BAD_BUNDLES.filter(([name]) => name !== 'failing fixture'))(
    'refuses a bundle with %s and writes nothing',
    async (_, changes, message) => {
      const version = `test-policy@1.0.0-t${randomUUID().slice(0, 8)}`;
      const files = bundleFiles({
        'manifest.yaml': bundleFiles().get('manifest.yaml')!.toString().replace('test-policy@1.0.0', version),
        ...changes,
      });
      const error = await refusal(compileBundleFiles(deps(), files, null, 'test'));
      expect(error.message).toMatch(message);
      expect(await rowsFor(version)).toBe(0);
    },
  );

  it.each([
    ['Rego syntax error', 'RegoCompileFailed', 'package pkg\n\nresult := {"subtasks": [], "dag": [], "rules": [\n'],
    [
      'Rego using an unsupported builtin',
      'RegoCompileFailed',
      'package pkg\n\nresult := http.send({"method": "get", "url": "http://localhost"})\n',
    ],
  ])('refuses a %s and writes nothing', async (_, type, rego) => {
    const files = await uniqueExample();
    files.set(
      'manifest.yaml',
      Buffer.from(files.get('manifest.yaml')!.toString().replace('engine: native', 'engine: wasm')),
    );
    files.set('policy/main.rego', Buffer.from(rego));
    const error = await refusal(compileBundleFiles(deps(), files, null, 'test'));
    expect(error.type).toBe(type);
    expect(error.message).toMatch(/policy\/main\.rego:\d+/);
    expect(await rowsFor(versionOf(files))).toBe(0);
  });

  it("a stored snapshot decides from the data document stored with it, not from today's generator", async () => {
    const { snapshotId } = await compileBundleFiles(deps(), await uniqueExample(), null, 'test');
    const stored = await readCompiled(snapshotId);
    const files = unpackBundle(stored.rego.bytes);
    expect(JSON.parse(files.get(DATA_FILE)!.toString())).toEqual(regoData(stored.compiled));
    const vip = { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops' } };
    expect((await createWasmEngine(stored.compiled, stored)).evaluate(vip, []).subtasks.length).toBeGreaterThan(0);
    const rego = new Map(
      [...files].filter(([file]) => file !== DATA_FILE).map(([file, bytes]) => [file, bytes.toString()]),
    );
    // The same module over no data document, or one laid out as an earlier pipeline did (a rule's summary where its outputs belong), is refused.
    const summariesOnly = {
      pkg_snapshot: {
        version: stored.compiled.version,
        rules: regoData(stored.compiled).pkg_snapshot!.rules.map((rule) => rule.summary),
      },
    };
    for (const otherData of [{}, summariesOnly]) {
      await expect(
        createWasmEngine(stored.compiled, { ...stored, rego: packRegoArtifact(rego, otherData) }),
      ).rejects.toMatchObject({
        type: 'NotFound',
        message: expect.stringMatching(
          /no data.pkg_snapshot.rules table of rule outputs \(compiled by an older pipeline\); publish the bundle again under a new version/,
        ),
      });
    }
  });

  it('compiles a wasm bundle with its own Rego', async () => {
    const files = await uniqueExample();
    files.set(
      'manifest.yaml',
      Buffer.from(files.get('manifest.yaml')!.toString().replace('engine: native', 'engine: wasm')),
    );
    files.set('policy/main.rego', Buffer.from('package pkg\n\nresult := {"subtasks": [], "dag": [], "rules": []}\n'));
    for (const fixture of [...files.keys()].filter((f) => f.startsWith('fixtures/'))) files.delete(fixture);
    const { snapshotId } = await compileBundleFiles(deps(), files, null, 'test');
    const stored = await readCompiled(snapshotId);
    const wasm = await createWasmEngine(stored.compiled, stored);
    expect(wasm.evaluate({ tags: ['vip'] }, [])).toEqual({ subtasks: [], dag: [], rules: [] });
  });

  it('refuses a wasm artifact whose sha256 does not match', async () => {
    const files = await uniqueExample();
    const { snapshotId } = await compileBundleFiles(deps(), files, null, 'test');
    const stored = await readCompiled(snapshotId);
    const tampered = Buffer.from(stored.wasm.bytes);
    tampered.writeUInt8(tampered.readUInt8(100) ^ 1, 100);
    expect(
      (
        await refusal(
          createWasmEngine(stored.compiled, { ...stored, wasm: { bytes: tampered, sha256: stored.wasm.sha256 } }),
        )
      ).type,
    ).toBe('ChecksumMismatch');
  });

  describe('signatures', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signing: SigningPolicy = {
      trustedKeys: [publicKey.export({ type: 'spki', format: 'pem' }).toString()],
      signedEnvs: ['dev'],
    };
    const signed = async () => {
      const files = await uniqueExample();
      files.set(SIGNATURES_FILE, signBundle(files, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()));
      return files;
    };

    it('accepts a signed bundle where signatures are required and keeps its signature, key id and listing', async () => {
      const files = await signed();
      const { snapshotId, created, checksum } = await compileBundleFiles(deps(signing), files, null, 'test');
      expect(created).toBe(true);
      const { rows } = await pool.query(
        'SELECT signature, signature_key_id, file_checksums, seal FROM pkg_snapshots WHERE id = $1',
        [snapshotId],
      );
      const recorded = JSON.parse(files.get(SIGNATURES_FILE)!.toString());
      expect(rows[0]).toMatchObject({
        signature: recorded.signatures[0].signature,
        signature_key_id: keyIdOf(publicKey),
        file_checksums: recorded.files,
      });
      expect(sha256Hex(checksumListing(rows[0].file_checksums))).toBe(checksum);
      expect(rows[0].seal).toMatch(/^[0-9a-f]{64}$/);
    });

    it.each([
      ['unsigned', 'SignatureInvalid', (files: BundleFiles) => files.delete(SIGNATURES_FILE)],
      [
        'tampered signature',
        'SignatureInvalid',
        (files: BundleFiles) => {
          const content = JSON.parse(files.get(SIGNATURES_FILE)!.toString());
          content.signatures[0].signature = Buffer.alloc(64, 7).toString('base64');
          files.set(SIGNATURES_FILE, Buffer.from(JSON.stringify(content)));
        },
      ],
      [
        'file changed after signing (checksum mismatch)',
        'ChecksumMismatch',
        (files: BundleFiles) => {
          files.set('rules.yaml', Buffer.from(`${files.get('rules.yaml')!.toString()}# late edit\n`));
        },
      ],
    ])('refuses a bundle that is %s and writes nothing', async (_, type, spoil) => {
      const files = await signed();
      spoil(files);
      expect((await refusal(compileBundleFiles(deps(signing), files, null, 'test'))).type).toBe(type);
      expect(await rowsFor(versionOf(files))).toBe(0);
    });
  });
});

describe('compileBundle activity', () => {
  const activities = () => createCompileActivities(deps());
  async function upload(files: BundleFiles): Promise<string> {
    const packed = packBundle(files);
    const digest = bundleDigest(packed);
    await pool.query(
      'INSERT INTO pkg_bundles (digest, bytes, size, uploaded_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [digest, packed, packed.byteLength, 'test'],
    );
    return digest;
  }
  async function failureOf(action: Promise<unknown>): Promise<ApplicationFailure> {
    const error = await action.then(
      () => null,
      (e: unknown) => e,
    );
    if (!(error instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }

  it('compiles an uploaded bundle by digest and records the digest', async () => {
    const files = await uniqueExample();
    const digest = await upload(files);
    const result = await activities().compileBundle({ digest, actor: 'test' });
    expect(result).toMatchObject({ created: true, env: 'dev', rollout: null, fixtureCount: 21 });
    const { rows } = await pool.query('SELECT bundle_digest FROM pkg_snapshots WHERE id = $1', [result.snapshotId]);
    expect(rows[0].bundle_digest).toBe(digest);
  });

  it('turns a bad bundle into a non-retryable failure typed by the error', async () => {
    const files = await uniqueExample();
    const version = versionOf(files);
    files.set('rules.yaml', Buffer.from('rules: []\nsubtask_types: []\n'));
    const failure = await failureOf(activities().compileBundle({ digest: await upload(files), actor: 'test' }));
    expect(failure).toMatchObject({ type: 'BundleInvalid', nonRetryable: true });
    expect(await rowsFor(version)).toBe(0);
  });

  it('refuses an unknown digest and bytes that do not match their digest', async () => {
    expect(await failureOf(activities().compileBundle({ digest: 'f'.repeat(64), actor: 'test' }))).toMatchObject({
      type: 'NotFound',
    });
    const packed = packBundle(await uniqueExample());
    const wrongDigest = bundleDigest(Buffer.from(randomUUID()));
    await pool.query('INSERT INTO pkg_bundles (digest, bytes, size, uploaded_by) VALUES ($1, $2, $3, $4)', [
      wrongDigest,
      packed,
      packed.byteLength,
      'test',
    ]);
    expect(await failureOf(activities().compileBundle({ digest: wrongDigest, actor: 'test' }))).toMatchObject({
      type: 'ChecksumMismatch',
    });
  });
});

describe('pkgctl evaluate --version', () => {
  it('evaluates a stored snapshot, answering FACT conditions from pkg_facts for the subject', async () => {
    const { version } = await compileBundleFiles(deps(), await uniqueExample(), null, 'test');
    const subject = `guest:${randomUUID()}`;
    await pool.query(
      `INSERT INTO pkg_facts (subject, predicate, object, valid_to) VALUES ($1, 'hasTemporaryAccess', '{"service": "lounge"}', now() + interval '1 hour')`,
      [subject],
    );
    const dir = await mkdtemp(path.join(tmpdir(), 'pkg-eval-'));
    try {
      const input = path.join(dir, 'input.json');
      await writeFile(input, JSON.stringify({ context: { request: 'lounge_entry', channel: 'front_desk', subject } }));
      for (const engine of ['native', 'wasm']) {
        const run = await pkgctl(['evaluate', '--version', version, '--input', input, '--engine', engine]);
        expect(run.stderr).toBe('');
        const output = JSON.parse(run.stdout);
        expect(output).toMatchObject({ ok: true, snapshot: version, meta: { engine } });
        expect(output.subtasks.map((s: { name: string }) => s.name)).toEqual(['grant_lounge_access', 'notify_manager']);
      }
      // README "Exit codes": an unknown version is refused (4), not an unexpected error.
      expect(await pkgctl(['evaluate', '--version', `${version}-missing`, '--input', input])).toMatchObject({
        code: 4,
        stderr: expect.stringMatching(/no snapshot with version/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
