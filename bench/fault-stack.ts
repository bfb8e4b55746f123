import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep } from '../test/integration/evaluator-harness';

/**
 * A whole installation of its own for the fault benchmark, on loopback: PostgreSQL (a fresh
 * cluster from the binaries `npm run up` uses), Redis, the Temporal dev server (its SQLite file
 * keeps state through a restart), the pipeline worker and evaluators. Each part can be killed and
 * started again; nothing of the developer's own services is touched.
 */
const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);
const SEARCH_ATTRIBUTES = [
  'PkgVersion=Keyword',
  'PkgEnv=Keyword',
  'PkgLane=Keyword',
  'PkgStage=Keyword',
  'PkgPercent=Int',
];

export interface Part {
  readonly name: string;
  start: () => Promise<void>;
  /** SIGKILL, or the service's own fast stop: the fault. */
  kill: () => Promise<void>;
  running: () => boolean;
}

/** Runs a command as the postgres user when we are root: PostgreSQL refuses to run as root. */
function asPgOwner(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

async function pgBin(): Promise<string> {
  const { stdout } = await run('bash', ['-c', `source ${ROOT}/scripts/services.sh >/dev/null 2>&1; pg_bin`]);
  return stdout.trim();
}

export async function postgresPart(dir: string): Promise<Part & { url: string }> {
  const bin = await pgBin();
  const port = await freePort();
  const data = path.join(dir, 'pg');
  // The postgres user must be able to pass through the (private) bench directory to its own.
  chmodSync(dir, 0o711);
  mkdirSync(data, { mode: 0o700 });
  if (process.getuid?.() === 0) chownSync(data, ...(await postgresIds()));
  await run(...asPgOwner(`${bin}/initdb`, ['-D', data, '-U', 'pkg', '--auth=trust', '-E', 'UTF8']), { cwd: '/' });
  const ctl = (...args: string[]) => run(...asPgOwner(`${bin}/pg_ctl`, ['-D', data, ...args]), { cwd: '/' });
  let up = false;
  const part = {
    name: 'postgres',
    url: `postgres://pkg@127.0.0.1:${port}/pkg`,
    async start() {
      await ctl(
        '-l',
        path.join(data, 'server.log'),
        '-w',
        '-t',
        '60',
        '-o',
        `-c listen_addresses=127.0.0.1 -p ${port} -k /tmp -c fsync=off -c max_connections=200`,
        'start',
      );
      up = true;
    },
    // An immediate stop is a crash to PostgreSQL: no checkpoint, recovery from WAL at the next start.
    async kill() {
      await ctl('-m', 'immediate', 'stop').catch(() => undefined);
      up = false;
    },
    running: () => up,
  };
  await part.start();
  await run(`${bin}/psql`, [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'pkg',
    '-d',
    'postgres',
    '-qc',
    'create database pkg',
  ]);
  return part;
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: group } = await run('id', ['-g', 'postgres']);
  return [Number(stdout.trim()), Number(group.trim())];
}

/** An exit nobody asked for: what a supervisor would restart, and the benchmark reports. */
export interface Crash {
  name: string;
  at: number;
  code: number | null;
  output: string;
}
export const crashes: Crash[] = [];
const RESTART_AFTER_CRASH_MS = 1000;

/**
 * A long-running child process that can be killed and started again with the same command. One
 * that exits by itself is recorded as a crash and started again, as systemd or Kubernetes would.
 */
function processPart(name: string, start: () => ChildProcess, ready: (output: string) => boolean, dir: string): Part {
  let child: ChildProcess | null = null;
  const part: Part = {
    name,
    start() {
      const started = start();
      child = started;
      let output = '';
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} not ready in 90 s: ${output.slice(-2000)}`)), 90_000);
        timer.unref();
        const seen = (chunk: Buffer) => {
          output = (output + chunk.toString()).slice(-20_000);
          if (ready(output)) {
            clearTimeout(timer);
            resolve();
          }
        };
        started.stdout?.on('data', seen);
        started.stderr?.on('data', seen);
        started.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited ${code}: ${output.slice(-2000)} (logs in ${dir})`));
          if (child !== started) return;
          child = null;
          crashes.push({ name, at: Date.now(), code, output: output.slice(-2000) });
          setTimeout(() => void part.start().catch(() => undefined), RESTART_AFTER_CRASH_MS).unref();
        });
      });
    },
    async kill() {
      const victim = child;
      child = null;
      if (!victim || victim.exitCode !== null) return;
      const exited = new Promise((resolve) => victim.once('exit', resolve));
      victim.kill('SIGKILL');
      await exited;
    },
    running: () => child !== null,
  };
  return part;
}

export async function redisPart(dir: string): Promise<Part & { url: string }> {
  const port = await freePort();
  const part = processPart(
    'redis',
    () =>
      spawn('redis-server', [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ]),
    (output) => output.includes('Ready to accept connections'),
    dir,
  );
  await part.start();
  return Object.assign(part, { url: `redis://127.0.0.1:${port}` });
}

export async function temporalPart(dir: string): Promise<Part & { address: string }> {
  const port = await freePort();
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--headless',
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--db-filename',
    path.join(dir, 'temporal.db'),
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTES.flatMap((attribute) => ['--search-attribute', attribute]),
  ];
  const address = `127.0.0.1:${port}`;
  const part = processPart(
    'temporal',
    () => spawn(path.join(ROOT, '.tools', 'bin', 'temporal'), args),
    () => false,
    dir,
  );
  const launch = part.start;
  // The dev server prints nothing dependable when ready: its health check says.
  const start = async () => {
    void launch().catch(() => undefined);
    for (let i = 0; i < 300; i++) {
      const health = await run(path.join(ROOT, '.tools', 'bin', 'temporal'), [
        'operator',
        'cluster',
        'health',
        '--address',
        address,
      ]).catch(() => null);
      if (health?.stdout.includes('SERVING')) return;
      await sleep(200);
    }
    throw new Error('the Temporal dev server did not become healthy in 60 s');
  };
  await start();
  return Object.assign(part, { address, start });
}

/** `node --import tsx FILE` with the stack's environment, ready when its output says so. */
export function nodePart(name: string, file: string, env: NodeJS.ProcessEnv, ready: string, dir: string): Part {
  return processPart(
    name,
    () => spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }),
    (output) => output.includes(ready),
    dir,
  );
}

export async function migrate(env: NodeJS.ProcessEnv): Promise<void> {
  await run(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], { cwd: ROOT, env });
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function pkgctl(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const child = spawn(path.join(ROOT, 'bin', 'pkgctl'), args, { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}
