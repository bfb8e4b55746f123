import { generateKeyPairSync } from 'node:crypto';
import { UPDATES_CHANNEL } from '../../policy/constants';
import type { RefusalReason } from '../../policy/integrity/seal';
import {
  evaluate,
  laneMessage,
  randomLane,
  readyz,
  rewriteWasm,
  setLane,
  startEvaluator,
  storeExample,
  tamperRuleCondition,
  useEvaluatorServices,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';

/**
 * Load = verify, on real evaluator processes: a snapshot whose rule rows, artifacts or signature
 * no longer chain up to its checksum is refused at load, the last good keeps serving, and /readyz
 * and /metrics name the version and the reason. Everything a test changes is put back.
 */
const services = useEvaluatorServices();

type Stored = Awaited<ReturnType<typeof storeExample>>;

const guestInput = {
  input: { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops', subject: 'guest:1' } },
};

const keyPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};

/** An evaluator on a fresh lane serving `good`. */
async function evaluatorServing(good: Stored, env: Record<string, string> = {}) {
  const lane = randomLane();
  await setLane(services.pool, lane, { snapshotId: good.snapshotId });
  const evaluator = await startEvaluator(lane, env);
  services.running.push(evaluator);
  expect((await readyz(evaluator)).body.serving).toBe(good.version);
  return { lane, evaluator };
}

async function activate(lane: ReturnType<typeof randomLane>, snapshot: Stored) {
  await setLane(services.pool, lane, { snapshotId: snapshot.snapshotId });
  await services.redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', snapshot.version));
}

/** Asks the lane to serve `bad`; it must be refused for `reason` while `good` answers. */
async function expectRefused(
  target: { lane: ReturnType<typeof randomLane>; evaluator: RunningEvaluator },
  good: Stored,
  bad: Stored,
  reason: RefusalReason,
) {
  const { lane, evaluator } = target;
  await activate(lane, bad);
  const details = await waitFor(
    async () => {
      const { body } = await readyz(evaluator);
      return (body.refused_snapshots as Record<string, unknown>)[bad.version] ? body : null;
    },
    15_000,
    `${evaluator.port} to refuse ${bad.version}`,
  );
  expect((details.refused_snapshots as Record<string, { reason: string }>)[bad.version]!.reason).toBe(reason);
  expect(details).toMatchObject({ ready: true, degraded: true, serving: good.version });
  expect(await evaluate(evaluator, guestInput)).toMatchObject({
    status: 200,
    body: { ok: true, snapshot: good.version },
  });
  const metrics = await fetch(`${evaluator.url}/metrics`).then((r) => r.text());
  expect(metrics).toMatch(
    new RegExp(`pkg_evaluator_snapshot_refusals_total\\{version="${bad.version}",reason="${reason}"\\} [1-9]`),
  );
}

/** The lane serves `snapshot` with nothing refused: after a repair, the refusal was about the change alone. */
async function expectServes(
  target: { lane: ReturnType<typeof randomLane>; evaluator: RunningEvaluator },
  snapshot: Stored,
) {
  await activate(target.lane, snapshot);
  await waitFor(
    async () => ((await readyz(target.evaluator)).body.serving === snapshot.version ? true : null),
    15_000,
    `${target.evaluator.port} to serve ${snapshot.version}`,
  );
  expect((await readyz(target.evaluator)).body.refused_snapshots).toEqual({});
}

test('a rule condition changed in the database is refused at load while the last good serves', async () => {
  const good = await storeExample(services.pool, 'hotel-ops-v1');
  const bad = await storeExample(services.pool, 'hotel-ops-v1', undefined, 'native');
  const target = await evaluatorServing(good);
  const restore = await tamperRuleCondition(services.pool, bad.snapshotId);
  try {
    await expectRefused(target, good, bad, 'rules_mismatch');
  } finally {
    await restore();
  }
  await expectServes(target, bad);
});

test('a wasm artifact rewritten together with its recorded sha256 is refused by the seal', async () => {
  const good = await storeExample(services.pool, 'hotel-ops-v1');
  const bad = await storeExample(services.pool, 'hotel-ops-v1');
  const target = await evaluatorServing(good);
  const restore = await rewriteWasm(services.pool, bad.snapshotId);
  try {
    await expectRefused(target, good, bad, 'seal_mismatch');
  } finally {
    await restore();
  }
  await expectServes(target, bad);
});

describe('signatures at load', () => {
  const first = keyPair();
  const second = keyPair();
  const requiring = (...keys: string[]) => ({ PKG_TRUSTED_KEYS: keys.join(','), PKG_SIGNED_ENVS: 'dev' });

  test('an env that requires signatures refuses an unsigned snapshot at load', async () => {
    const good = await storeExample(services.pool, 'hotel-ops-v1', undefined, undefined, first.privatePem);
    const unsigned = await storeExample(services.pool, 'hotel-ops-v1');
    const target = await evaluatorServing(good, requiring(first.publicPem));
    await expectRefused(target, good, unsigned, 'unsigned');
  });

  test('a stored signature changed in the database is refused at load', async () => {
    const good = await storeExample(services.pool, 'hotel-ops-v1', undefined, undefined, first.privatePem);
    const bad = await storeExample(services.pool, 'hotel-ops-v1', undefined, undefined, first.privatePem);
    const target = await evaluatorServing(good, requiring(first.publicPem));
    // Another snapshot's genuine signature by the same key: well formed, but not over these files.
    const { rows } = await services.pool.query<{ signature: string }>(
      'SELECT signature FROM pkg_snapshots WHERE id = $1',
      [bad.snapshotId],
    );
    const swap = (snapshotId: string) =>
      services.pool.query(
        'UPDATE pkg_snapshots SET signature = (SELECT signature FROM pkg_snapshots WHERE id = $2) WHERE id = $1',
        [bad.snapshotId, snapshotId],
      );
    await swap(good.snapshotId);
    try {
      await expectRefused(target, good, bad, 'bad_signature');
    } finally {
      await services.pool.query('UPDATE pkg_snapshots SET signature = $2 WHERE id = $1', [
        bad.snapshotId,
        rows[0]!.signature,
      ]);
    }
    await expectServes(target, bad);
  });

  test('key rotation: both keys load while both are trusted; once the old key is dropped its snapshots are refused', async () => {
    const byOld = await storeExample(services.pool, 'hotel-ops-v1', undefined, undefined, first.privatePem);
    const byNew = await storeExample(services.pool, 'hotel-ops-v1', undefined, undefined, second.privatePem);
    const during = await evaluatorServing(byNew, requiring(first.publicPem, second.publicPem));
    await expectServes(during, byOld);

    const after = await evaluatorServing(byNew, requiring(second.publicPem));
    await expectRefused(after, byNew, byOld, 'untrusted_key');
  });
});
