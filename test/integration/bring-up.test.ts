import { spawnSync } from 'node:child_process';
import path from 'node:path';

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
  for (const service of ['postgres', 'redis', 'temporal', 'ui', 'opa']) {
    expect(run.stdout).toMatch(new RegExp(`^${service}\\s+up\\b`, 'm'));
  }
});
