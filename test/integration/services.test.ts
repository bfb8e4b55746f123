import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { Redis } from 'ioredis';
import { loadConfig } from '../../policy/config';

/** The two real services besides Temporal and Postgres, end to end: the opa compiler and Redis. */
const run = promisify(execFile);
const config = loadConfig();

const REGO = `package smoke

default allow := false

allow if input.role == "admin"

greeting := concat(" ", ["hello", input.name])
`;

test('a Rego file compiled to wasm by the real opa evaluates through @open-policy-agent/opa-wasm', async () => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'pkg-opa-smoke-'));
  try {
    await writeFile(path.join(work, 'smoke.rego'), REGO);
    const args = [
      'build',
      '-t',
      'wasm',
      '-e',
      'smoke/allow',
      '-e',
      'smoke/greeting',
      '-o',
      'bundle.tar.gz',
      'smoke.rego',
    ];
    await run(path.resolve(config.OPA_PATH), args, { cwd: work });
    await run('tar', ['-xzf', 'bundle.tar.gz', '/policy.wasm'], { cwd: work });
    const policy = await loadPolicy(await readFile(path.join(work, 'policy.wasm')));

    expect(policy.evaluate({ role: 'admin', name: 'Ben' }, 'smoke/allow')).toEqual([{ result: true }]);
    expect(policy.evaluate({ role: 'guest', name: 'Ben' }, 'smoke/allow')).toEqual([{ result: false }]);
    expect(policy.evaluate({ role: 'guest', name: 'Ben' }, 'smoke/greeting')).toEqual([{ result: 'hello Ben' }]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('a message published on Redis reaches a subscriber', async () => {
  const channel = `pkg-test-${randomUUID()}`;
  const subscriber = new Redis(config.REDIS_URL);
  const publisher = new Redis(config.REDIS_URL);
  try {
    const received = new Promise<string>((resolve) =>
      subscriber.on('message', (from, message) => from === channel && resolve(message)),
    );
    await subscriber.subscribe(channel);
    const payload = JSON.stringify({ type: 'activate', version: `smoke@1.0.0-${randomUUID().slice(0, 8)}` });
    expect(await publisher.publish(channel, payload)).toBe(1);
    expect(await received).toBe(payload);
  } finally {
    subscriber.disconnect();
    publisher.disconnect();
  }
});
