import { request as httpRequest } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { pkgctl } from '../support/pkgctl';
import { EXIT } from '../../client/exit-codes';
import { createPool } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import { laneName, type Env, type Lane } from '../../policy/lane';
import { createTestToken, startApi } from './api-harness';
import {
  freePort,
  randomLane,
  readyz,
  setLane,
  sleep,
  startEvaluator,
  storeExample,
  useEvaluatorServices,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';

/**
 * Evaluator keys on real evaluator processes, keys made by the real pkgctl: who gets 401 and 403
 * (and that a refused lane is never loaded), per-key rate limits shared by two processes through
 * Redis, and revocation reaching both processes within 5 s, announced or not.
 */
const services = useEvaluatorServices();
const created: string[] = [];
// The database is shared with developers: keys made here do not outlive the file.
afterAll(async () => {
  const pool = createPool(loadConfig());
  await pool.query('UPDATE pkg_evaluator_keys SET revoked_at = now() WHERE id = ANY($1) AND revoked_at IS NULL', [
    created,
  ]);
  await pool.end();
});

interface Answer {
  status: number;
  instance: string;
  retryAfter: string | undefined;
  authenticate: string | undefined;
  text: string;
  body: { ok: boolean; reason?: string; snapshot: string | null };
}

/** How many of the evaluator's processes gave these answers. */
const spreadOf = (answers: readonly Answer[]): number => new Set(answers.map((a) => a.instance)).size;

/** A connection of its own per request, so two processes behind one port take turns. */
function post(evaluator: RunningEvaluator, body: unknown, key?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    const request = httpRequest(
      { host: '127.0.0.1', port: evaluator.port, path: '/v1/evaluate', method: 'POST', agent: false, headers },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            instance: String(response.headers['x-evaluator-instance']),
            retryAfter: response.headers['retry-after'],
            authenticate: response.headers['www-authenticate'],
            text,
            body: JSON.parse(text) as Answer['body'],
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

const guest = (lane?: Lane) => ({
  input: { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops', subject: 'guest:1' } },
  ...lane,
});

async function createKey(scope: string, extra: string[] = []): Promise<{ id: string; name: string; key: string }> {
  const name = `test-${randomUUID().slice(0, 8)}`;
  const run = await pkgctl(['evaluator-key', 'create', '--name', name, '--scope', scope, '--json', ...extra]);
  expect(run).toMatchObject({ code: 0 });
  const key = JSON.parse(run.stdout) as { id: string; name: string; key: string };
  created.push(key.id);
  return key;
}

async function prodLane(options: Record<string, string> = {}) {
  const lane = randomLane('prod');
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
  const evaluator = await startEvaluator(lane, options);
  services.running.push(evaluator);
  return { lane, v1, evaluator };
}

const scrape = (evaluator: RunningEvaluator) => fetch(`${evaluator.url}/metrics`).then((r) => r.text());
const refusedCount = (text: string, reason: string) =>
  Number(text.match(new RegExp(`^pkg_evaluator_access_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm'))?.[1]);

/** How long after `since` both processes of a two-worker evaluator answered 401 to the key. */
function msUntilBothRefuse(evaluator: RunningEvaluator, key: string, since: number): Promise<number> {
  return waitFor(
    async () => {
      const seen = await Promise.all(Array.from({ length: 8 }, () => post(evaluator, guest(), key)));
      return seen.every((a) => a.status === 401) && spreadOf(seen) === 2 ? Date.now() - since : null;
    },
    10_000,
    'both processes to refuse the revoked key',
  );
}

test('prod lanes need a key by default: missing, invalid and expired keys get the same one-line 401; /healthz and /metrics stay open', async () => {
  const { lane, v1, evaluator } = await prodLane();
  const good = await createKey(`prod/${lane.target}/*`);
  const expired = await createKey(`prod/${lane.target}/*`, ['--expires-in', '1s']);
  expect((await post(evaluator, guest(), good.key)).body).toMatchObject({ ok: true, snapshot: v1.version });
  await sleep(1200);
  const forged = `${good.key.slice(0, -4)}AAAA`;
  const refusals = [
    await post(evaluator, guest()),
    await post(evaluator, guest(), 'not-a-key'),
    await post(evaluator, guest(), forged),
    await post(evaluator, guest(), expired.key),
  ];
  expect(refusals.map((r) => r.status)).toEqual([401, 401, 401, 401]);
  expect(new Set(refusals.map((r) => r.text)).size).toBe(1);
  expect(refusals[0]!.body).toEqual({
    ok: false,
    snapshot: null,
    reason: 'unauthorized: this lane needs a valid evaluator key (Authorization: Bearer <key>)',
  });
  expect(refusals[0]!.authenticate).toBe('Bearer');
  // A dev lane asked of the same evaluator needs no key.
  expect((await post(evaluator, guest(randomLane('dev')))).status).not.toBe(401);

  expect((await fetch(`${evaluator.url}/healthz`)).status).toBe(200);
  const metrics = await scrape(evaluator);
  expect(refusedCount(metrics, 'unauthorized')).toBe(4);
  expect(evaluator.logs()).not.toContain(good.key.slice(22));
}, 120_000);

test('a lane outside the key is 403 and is never loaded; inside it the same lane loads', async () => {
  const { lane, evaluator } = await prodLane();
  const other: Lane = { env: 'prod', target: `o-${randomUUID().slice(0, 8)}`, region: 'eu' };
  const v2 = await storeExample(services.pool, 'hotel-ops-v2');
  await setLane(services.pool, other, { snapshotId: v2.snapshotId });
  const narrow = await createKey(`prod/${lane.target}/*`);
  const wide = await createKey(`prod/${lane.target}/*,prod/${other.target}`);
  const before = (await readyz(evaluator)).body;

  const refused = await post(evaluator, guest(other), narrow.key);
  expect(refused.status).toBe(403);
  expect(refused.body.reason).toBe(`forbidden: evaluator key ${narrow.name} may not evaluate lane ${laneName(other)}`);
  const after = (await readyz(evaluator)).body;
  expect(after.lanes).toBe(before.lanes);
  expect(after.loaded_versions).toEqual(before.loaded_versions);
  expect(after.loaded_versions).not.toContain(v2.version);
  expect(refusedCount(await scrape(evaluator), 'forbidden')).toBe(1);

  // The same request with a key that covers the lane loads it: the counts above can move.
  expect((await post(evaluator, guest(other), wide.key)).body).toMatchObject({ ok: true, snapshot: v2.version });
  const loaded = (await readyz(evaluator)).body;
  expect(loaded.lanes).toBe(Number(before.lanes) + 1);
  expect(loaded.loaded_versions).toContain(v2.version);
}, 120_000);

test('a burst from two keys on two processes: the limited key gets its bucket and 429s with Retry-After, the other key none', async () => {
  const { lane, evaluator } = await prodLane({ EVALUATOR_WORKERS: '2' });
  const roomy = await createKey(`prod/${lane.target}/*`, ['--rate', '10000']);
  await waitFor(
    async () => {
      const seen = await Promise.all(Array.from({ length: 8 }, () => post(evaluator, guest(), roomy.key)));
      return spreadOf(seen) === 2 ? true : null;
    },
    30_000,
    'both processes to answer',
  );

  // Two limited, two roomy, and so on: the cluster hands connections to its processes in turn, so
  // with the keys alternating one by one every limited request could reach the same process.
  const isLimited = (i: number) => i % 4 < 2;
  const burst = async () => {
    const limited = await createKey(`prod/${lane.target}/*`, ['--rate', '1', '--burst', '6']);
    const startedAt = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 32 }, (_, i) => post(evaluator, guest(), isLimited(i) ? limited.key : roomy.key)),
    );
    return {
      limited,
      limitedAnswers: answers.filter((_, i) => isLimited(i)),
      roomyAnswers: answers.filter((_, i) => !isLimited(i)),
      refilled: Math.floor((Date.now() - startedAt) / 1000),
    };
  };
  // What is tested needs the limited key's requests on both processes; a process stalled by a busy
  // machine for the whole burst leaves the other one all of it, and then a fresh key tries again.
  let sent = await burst();
  for (let attempt = 1; attempt < 3 && spreadOf(sent.limitedAnswers) < 2; attempt++) sent = await burst();
  const { limited, limitedAnswers, roomyAnswers, refilled } = sent;
  expect(spreadOf(limitedAnswers)).toBe(2);
  expect(roomyAnswers.map((a) => a.status)).toEqual(Array(16).fill(200));
  const served = limitedAnswers.filter((a) => a.status === 200);
  const refused = limitedAnswers.filter((a) => a.status === 429);
  // Six in the bucket and one a second while the burst lasted; shared: not six per process.
  expect(served.length).toBeGreaterThanOrEqual(6);
  expect(served.length).toBeLessThanOrEqual(6 + refilled);
  expect(served.length).toBeLessThan(12);
  expect(served.length + refused.length).toBe(16);
  for (const answer of refused) {
    expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(answer.body.reason).toBe(`rate limited: evaluator key ${limited.name} allows 1/s (burst 6)`);
  }

  await sleep(Number(refused[0]!.retryAfter) * 1000);
  expect((await post(evaluator, guest(), limited.key)).status).toBe(200);
}, 120_000);

test('a key used at well under its rate from two processes is never refused: tokens one process claimed ahead and did not use go back', async () => {
  const { lane, evaluator } = await prodLane({ EVALUATOR_WORKERS: '2' });
  const key = await createKey(`prod/${lane.target}/*`, ['--rate', '100', '--burst', '200']);
  const sent: Promise<Answer>[] = [];
  // About 50 a second for 4 s, alternating processes: were each process to keep claiming a tenth
  // of a second of the key's rate, the two would drain the bucket within two seconds. The burst
  // holds all 200, so an evaluator stalled by a busy machine cannot make a burst of them.
  for (let i = 0; i < 200; i++) {
    sent.push(post(evaluator, guest(), key.key));
    await sleep(20);
  }
  const answers = await Promise.all(sent);
  expect(spreadOf(answers)).toBe(2);
  expect(answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.body.reason}`)).toEqual([]);
}, 120_000);

test.each([
  ['announced by pkgctl', 'pkgctl'],
  ['only written to the table (the periodic reread)', 'sql'],
] as const)(
  'a revoked key is refused by both processes within 5 s: %s',
  async (_what, how) => {
    const { lane, evaluator } = await prodLane({ EVALUATOR_WORKERS: '2' });
    const key = await createKey(`prod/${lane.target}/*`);
    await waitFor(
      async () => {
        const seen = await Promise.all(Array.from({ length: 8 }, () => post(evaluator, guest(), key.key)));
        return seen.every((a) => a.status === 200) && spreadOf(seen) === 2 ? true : null;
      },
      30_000,
      'both processes to accept the key',
    );

    const revokedAt = Date.now();
    if (how === 'pkgctl') expect(await pkgctl(['evaluator-key', 'revoke', key.name])).toMatchObject({ code: 0 });
    else await services.pool.query('UPDATE pkg_evaluator_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    expect(await msUntilBothRefuse(evaluator, key.key, revokedAt)).toBeLessThan(5000);
    // Once refused, never accepted again by either process.
    const later = await Promise.all(Array.from({ length: 16 }, () => post(evaluator, guest(), key.key)));
    expect(later.map((a) => a.status)).toEqual(Array(16).fill(401));
  },
  120_000,
);

test('through the control-plane API with only PKG_API_URL and PKG_TOKEN: a dev admin may not make a prod key; a prod admin makes, lists and revokes one, and both processes refuse it within 5 s', async () => {
  const api = await startApi();
  try {
    const { lane, evaluator } = await prodLane({ EVALUATOR_WORKERS: '2' });
    const asAdminOf = async (envs: Env[]) => ({
      PKG_API_URL: api.url,
      PKG_TOKEN: (await createTestToken(services.pool, 'admin', envs)).token,
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    const devAdmin = await asAdminOf(['dev']);
    const prodAdmin = await asAdminOf(['prod']);
    const name = `test-api-${randomUUID().slice(0, 8)}`;
    const create = ['evaluator-key', 'create', '--name', name, '--scope', `prod/${lane.target}/*`, '--json'];

    const refused = await pkgctl(create, devAdmin);
    expect(refused.code).toBe(EXIT.refused);
    expect(JSON.parse(refused.stdout)).toEqual({
      outcome: 'error',
      exitCode: EXIT.refused,
      type: 'Forbidden',
      message: 'evaluator-key.manage needs role admin in prod',
    });

    const made = await pkgctl(create, prodAdmin);
    expect(made).toMatchObject({ code: 0 });
    const key = JSON.parse(made.stdout) as { id: string; key: string; createdBy: string; evaluatorsTold: boolean };
    created.push(key.id);
    expect(key).toMatchObject({ createdBy: expect.stringMatching(/^token:t-admin-/), evaluatorsTold: true });
    await waitFor(
      async () => ((await post(evaluator, guest(), key.key)).status === 200 ? true : null),
      10_000,
      'the evaluators to accept the new key',
    );

    const listedByProd = JSON.parse((await pkgctl(['evaluator-key', 'list', '--json'], prodAdmin)).stdout) as {
      id: string;
    }[];
    expect(listedByProd.map((k) => k.id)).toContain(key.id);
    const listedByDev = JSON.parse((await pkgctl(['evaluator-key', 'list', '--json'], devAdmin)).stdout) as {
      id: string;
    }[];
    expect(listedByDev.map((k) => k.id)).not.toContain(key.id);
    expect(await pkgctl(['evaluator-key', 'revoke', name], devAdmin)).toMatchObject({
      code: EXIT.refused,
      stderr: 'error: evaluator-key.manage needs role admin in prod\n',
    });

    const revokedAt = Date.now();
    expect(await pkgctl(['evaluator-key', 'revoke', name], prodAdmin)).toMatchObject({ code: 0 });
    expect(await msUntilBothRefuse(evaluator, key.key, revokedAt)).toBeLessThan(5000);
    const { rows } = await services.pool.query<{ revoked_by: string }>(
      'SELECT revoked_by FROM pkg_evaluator_keys WHERE id = $1',
      [key.id],
    );
    expect(rows[0]!.revoked_by).toMatch(/^token:t-admin-/);
  } finally {
    await api.stop();
  }
}, 120_000);

test('Redis away: keys and scopes are still checked, rate limits fail open and every unchecked request is counted', async () => {
  const noRedis = `redis://127.0.0.1:${await freePort()}`;
  const { lane, evaluator } = await prodLane({ REDIS_URL: noRedis });
  const limited = await createKey(`prod/${lane.target}/*`, ['--rate', '1', '--burst', '1']);
  // Announced on the other Redis: only the periodic reread brings the key in.
  await waitFor(
    async () => ((await post(evaluator, guest(), limited.key)).status === 200 ? true : null),
    10_000,
    'the periodic reread to find the new key',
  );
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await post(evaluator, guest(), limited.key));
  // With Redis these would be 429s: the one token went to the request above.
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
  expect((await post(evaluator, guest(), 'pkek_0000000000000000_x')).status).toBe(401);
  expect((await post(evaluator, guest(randomLane('prod')), limited.key)).status).toBe(403);
  const metrics = await scrape(evaluator);
  expect(Number(metrics.match(/^pkg_evaluator_rate_limit_unchecked_total (\d+)$/m)?.[1])).toBeGreaterThanOrEqual(6);
}, 120_000);

test('pkgctl evaluator-key: the key is shown once and stored as its digest only; bad input exits 2 naming each flag; revoking twice exits 4', async () => {
  const made = await createKey('staging/web', ['--rate', '5', '--expires-in', '1h']);
  const human = await pkgctl(['evaluator-key', 'create', '--name', `${made.name}-h`, '--scope', 'dev']);
  expect(human.stdout).toMatch(/^key \(shown once, store it now\): pkek_[0-9a-f]{16}_\S{43}$/m);
  created.push(human.stdout.match(/pkek_([0-9a-f]{16})_/)![1]!);

  const listed = await pkgctl(['evaluator-key', 'list', '--json']);
  const mine = (JSON.parse(listed.stdout) as { name: string }[]).find((key) => key.name === made.name);
  expect(mine).toMatchObject({ id: made.id, scope: ['staging/web/*'], ratePerS: 5, burst: 10, revokedAt: null });
  expect(listed.stdout).not.toContain(made.key.slice(22));
  const { rows } = await services.pool.query<{ key_sha256: Buffer }>(
    'SELECT key_sha256 FROM pkg_evaluator_keys WHERE id = $1',
    [made.id],
  );
  expect(rows[0]!.key_sha256).toEqual(createHash('sha256').update(made.key).digest());

  const bad = await pkgctl(['evaluator-key', 'create', '--name', 'x y', '--scope', 'qa', '--rate', 'fast']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--name:');
  expect(bad.stderr).toContain('--scope: "qa" names env qa');
  expect(bad.stderr).toContain('--rate: requests per second');

  expect((await pkgctl(['evaluator-key', 'revoke', made.name])).code).toBe(0);
  const again = await pkgctl(['evaluator-key', 'revoke', made.name]);
  expect(again.code).toBe(4);
  expect(again.stderr.trim()).toBe(`error: no live evaluator key named ${made.name}`);
}, 120_000);
