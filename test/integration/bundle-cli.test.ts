import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readBundleDir } from '../../activities/bundle-dir';
import { SIGNATURES_FILE } from '../../policy/bundle/checksum';
import { bundleFiles } from '../unit/bundle-builder';
import { BAD_BUNDLES } from './bundle-bad-inputs';
import { pkgctl, ROOT } from '../support/pkgctl';

/** `pkgctl bundle validate|sign` and `pkgctl evaluate` as CI runs them: a real process, its exit code and output. */
const EXAMPLE = path.join(ROOT, 'examples', 'hotel-ops-v1');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'pkg-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function writeBundle(name: string, files: Map<string, Buffer>): Promise<string> {
  const dir = path.join(work, name);
  for (const [file, bytes] of files) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), bytes);
  }
  return dir;
}

describe('pkgctl bundle validate', () => {
  it('accepts the example and runs its fixtures on both engines', async () => {
    const run = await pkgctl(['bundle', 'validate', EXAMPLE]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/native: 21 fixtures passed, 0 failed\n\s+wasm: 21 fixtures passed, 0 failed/);
  });

  it.concurrent.each(BAD_BUNDLES)(
    'refuses %s with a clear error and exit 3 (rejected)',
    async (name, changes, expected) => {
      const dir = await writeBundle(name.replace(/\W+/g, '-'), bundleFiles(changes));
      const run = await pkgctl(['bundle', 'validate', dir]);
      expect(run.code).toBe(3);
      expect(`${run.stdout}${run.stderr}`).toMatch(expected);
    },
  );
});

describe('pkgctl bundle sign', () => {
  it('signs a bundle that then verifies; a tampered signature or a changed file is refused', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyFile = path.join(work, 'signer.key');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const env = {
      PKG_SIGNING_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      PKG_SIGNED_ENVS: 'dev',
    };
    const dir = await writeBundle('signed', await readBundleDir(EXAMPLE));
    expect((await pkgctl(['bundle', 'validate', dir], env)).stderr).toMatch(/SIGNATURES|\.signatures\.json: missing/);
    expect((await pkgctl(['bundle', 'sign', dir, '--key', keyFile])).code).toBe(0);
    expect((await pkgctl(['bundle', 'validate', dir], env)).stdout).toMatch(/, signed\)/);

    const signature = await readFile(path.join(dir, SIGNATURES_FILE), 'utf8');
    await writeFile(
      path.join(dir, SIGNATURES_FILE),
      signature.replace(/"signature": "(.)/, (_, c: string) => `"signature": "${c === 'A' ? 'B' : 'A'}`),
    );
    expect(await pkgctl(['bundle', 'validate', dir], env)).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/does not verify/),
    });

    await writeFile(path.join(dir, SIGNATURES_FILE), signature);
    await writeFile(
      path.join(dir, 'rules.yaml'),
      `${await readFile(path.join(dir, 'rules.yaml'), 'utf8')}# late edit\n`,
    );
    expect(await pkgctl(['bundle', 'validate', dir], env)).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/rules\.yaml: sha256 is [0-9a-f]{64}, signed as/),
    });
  });
});

describe('pkgctl evaluate', () => {
  it('prints the ARCHITECTURE.md §4 decision of a bundle on the chosen engine', async () => {
    const input = path.join(work, 'input.json');
    await writeFile(
      input,
      JSON.stringify({ tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops' } }),
    );
    const runs = await Promise.all(
      ['native', 'wasm'].map((engine) =>
        pkgctl(['evaluate', '--bundle', EXAMPLE, '--input', input, '--engine', engine]),
      ),
    );
    const [native, wasm] = runs.map((run) => JSON.parse(run.stdout));
    expect(native).toMatchObject({
      ok: true,
      snapshot: 'hotel-ops@1.0.0',
      meta: { engine: 'native', mode: 'control' },
    });
    expect(native.subtasks.map((s: { name: string }) => s.name)).toEqual([
      'escalate',
      'notify_manager',
      'compensation_offer',
      'concierge_callback',
    ]);
    expect({ ...wasm, meta: null }).toEqual({ ...native, meta: null });
  });

  it('refuses an input with an unknown top-level key, and an unknown engine', async () => {
    const input = path.join(work, 'bad-input.json');
    await writeFile(input, JSON.stringify({ tagz: ['vip'] }));
    expect(await pkgctl(['evaluate', '--bundle', EXAMPLE, '--input', input])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/tagz/),
    });
    expect(await pkgctl(['evaluate', '--bundle', EXAMPLE, '--input', input, '--engine', 'lua'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--engine/),
    });
  });
});
