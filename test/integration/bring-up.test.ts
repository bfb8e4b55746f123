import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './evaluator-harness';

const root = path.join(__dirname, '..', '..');

test('npm run up with a bad DATABASE_URL stops with one clear line and exit 1, no stack trace', () => {
  const run = spawnSync('bash', ['scripts/up'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: 'nonsense' },
    encoding: 'utf8',
  });
  expect(run.status).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toEqual([expect.stringContaining('DATABASE_URL="nonsense": expected a URL')]);
  expect(run.stderr).not.toMatch(/\s+at /);
});

test('npm run status reports every service up while the stack runs', () => {
  const run = spawnSync('bash', ['scripts/status'], { cwd: root, encoding: 'utf8' });
  for (const service of ['postgres', 'redis', 'temporal', 'ui', 'prometheus', 'opa']) {
    expect(run.stdout).toMatch(new RegExp(`^${service}\\s+up\\b`, 'm'));
  }
});

test("the Prometheus config scripts/up writes is valid and discovers evaluators from the pipeline's file", () => {
  const data = mkdtempSync(path.join(tmpdir(), 'pkg-prometheus-'));
  try {
    const targets = path.join(data, 'targets', 'evaluators.json');
    const env = { ...process.env, PROMETHEUS_TARGETS_FILE: targets };
    const script = `source scripts/services.sh && PROMETHEUS_DIR=${data} && write_prometheus_config`;
    expect(spawnSync('bash', ['-c', script], { cwd: root, env, encoding: 'utf8' }).status).toBe(0);
    const config = path.join(data, 'prometheus.yml');
    const check = spawnSync('promtool', ['check', 'config', config], { encoding: 'utf8' });
    expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(config, 'utf8')).toContain(`files: ["${targets}"]`);
    expect(readFileSync(targets, 'utf8')).toBe('[]\n');
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('a clone under a 0700 directory brings its own PostgreSQL up, also as root', async () => {
  const parent = mkdtempSync(path.join(tmpdir(), 'pkg-private-'));
  chmodSync(parent, 0o700);
  const clone = path.join(parent, 'checkout');
  try {
    expect(spawnSync('git', ['clone', '-q', root, clone]).status).toBe(0);
    const env: NodeJS.ProcessEnv = { ...process.env, PKG_PG_PORT: String(await freePort()) };
    delete env.DATABASE_URL;
    const services = (script: string) =>
      spawnSync('bash', ['-c', `source scripts/services.sh && ${script}`], { cwd: clone, env, encoding: 'utf8' });
    // The first run fetches PostgreSQL 16 (and says so); starting it afterwards prints nothing.
    expect(services('install_pg16').status).toBe(0);
    const run = services('start_postgres && psql -h 127.0.0.1 -p "$PKG_PG_PORT" -U pkg -d pkg -tAc "select 1"');
    expect({ status: run.status, stdout: run.stdout.trim(), stderr: run.stderr }).toEqual({
      status: 0,
      stdout: '1',
      stderr: '',
    });
    const dir = services('pg_dir').stdout.trim();
    expect(services('stop_postgres').status).toBe(0);
    if (!dir.startsWith(clone)) rmSync(path.dirname(dir), { recursive: true, force: true });
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}, 120_000);
