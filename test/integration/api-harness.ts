import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import { insertToken } from '../../activities/store/api-tokens';
import type { Role } from '../../policy/identity/access';
import { formatToken, tokenHash, TOKEN_BYTES } from '../../policy/identity/tokens';
import { ENVS, type Env } from '../../policy/lane';

/** The control-plane API as `npm run api` starts it: its own process, on a free port. */
const ROOT = path.join(__dirname, '..', '..');

export interface RunningApi {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startApi(env: Record<string, string> = {}): Promise<RunningApi> {
  const port = await freePort();
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'worker', 'api', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, PKG_API_PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`API did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return { url, process: child, stop };
}

export interface TestToken {
  name: string;
  token: string;
}

/** A token straight in the table (as `pkgctl token create` without an API does); expired when lifetime < 0. */
export async function createTestToken(
  pool: Pool,
  role: Role,
  envs: readonly Env[] = ENVS,
  lifetimeMs = 3_600_000,
): Promise<TestToken> {
  const name = `t-${role}-${randomUUID().slice(0, 8)}`;
  const token = formatToken(randomBytes(TOKEN_BYTES));
  await insertToken(pool, { name, hash: tokenHash(token), role, envs, createdBy: 'test', expiresInMs: lifetimeMs });
  return { name, token };
}

export interface ApiAnswer {
  status: number;
  body: { outcome?: string; type?: string; message?: string } & Record<string, unknown>;
}

export async function callApi(
  url: string,
  method: string,
  route: string,
  token: string | null,
  body?: unknown,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${url}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as ApiAnswer['body'] };
}
