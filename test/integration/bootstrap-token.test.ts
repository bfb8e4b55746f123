import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { createPool } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import { tokenHash } from '../../policy/identity/tokens';
import { EXIT } from '../../client/exit-codes';
import { pkgctl } from '../support/pkgctl';

/**
 * The bootstrap admin token `npm run up` keeps (README "Identity and access"): made once into a
 * 0600 file, stored only as its hash, never printed; kept while live, replaced under a new name
 * once revoked.
 */
let pool: Pool;

beforeAll(() => {
  pool = createPool(loadConfig(), 2);
});

afterAll(async () => {
  await pool?.end();
});

interface Bootstrap {
  name: string;
  created: boolean;
}

async function bootstrap(file: string): Promise<Bootstrap & { output: string }> {
  const run = await pkgctl(['token', 'bootstrap', '--file', file, '--json']);
  expect(run.code).toBe(EXIT.ok);
  return { ...(JSON.parse(run.stdout) as Bootstrap), output: run.stdout + run.stderr };
}

test('a fresh install gets an admin token in a 0600 file, stored hashed; it is kept, and replaced once revoked', async () => {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'pkg-bootstrap-')), 'data', 'bootstrap-admin.token');
  const first = await bootstrap(file);
  const secret = (await readFile(file, 'utf8')).trim();
  expect(first.created).toBe(true);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect(first.output).not.toContain(secret);
  const { rows } = await pool.query<{ name: string; role: string; envs: string[]; raw: number }>(
    `SELECT name, role, envs::text[] AS envs,
            (SELECT count(*)::int FROM pkg_api_tokens t WHERE t::text LIKE '%' || $2 || '%') AS raw
       FROM pkg_api_tokens WHERE token_sha256 = $1`,
    [tokenHash(secret), secret],
  );
  expect(rows).toEqual([{ name: first.name, role: 'admin', envs: ['prod', 'staging', 'dev'], raw: 0 }]);

  expect(await bootstrap(file)).toMatchObject({ name: first.name, created: false });
  expect((await readFile(file, 'utf8')).trim()).toBe(secret);

  await pool.query(`UPDATE pkg_api_tokens SET revoked_at = now(), revoked_by = 'test' WHERE name = $1`, [first.name]);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // names carry the second they were made
  const replaced = await bootstrap(file);
  expect(replaced.created).toBe(true);
  expect(replaced.name).not.toBe(first.name);
  expect((await readFile(file, 'utf8')).trim()).not.toBe(secret);
});
