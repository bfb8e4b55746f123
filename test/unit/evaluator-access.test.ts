import type { Socket } from 'node:net';
import { formatKey } from '../../policy/access/evaluator-key';
import { createEvaluatorKeyCache } from '../../worker/evaluator/keys';
import { createAccessGate, type RefusalReason } from '../../worker/evaluator/access';
import type { RateVerdict } from '../../worker/evaluator/rate-limit';
import type { LiveEvaluatorKey } from '../../activities/store/evaluator-keys';
import type { Lane } from '../../policy/lane';

const key = formatKey(Buffer.alloc(8, 1), Buffer.alloc(32, 2));
const bearer = `Bearer ${key.text}`;
const row = (overrides: Partial<LiveEvaluatorKey> = {}): LiveEvaluatorKey => ({
  id: key.id,
  name: 'checkout',
  sha256: key.sha256,
  scope: ['prod/web/*'],
  ratePerS: 10,
  burst: 20,
  expiresAt: null,
  ...overrides,
});
const prodWeb: Lane = { env: 'prod', target: 'web', region: 'eu' };
const prodApi: Lane = { env: 'prod', target: 'api', region: 'eu' };
const devWeb: Lane = { env: 'dev', target: 'web', region: 'eu' };
const socket = () => ({}) as Socket;

function setup(rows: LiveEvaluatorKey[], verdict: RateVerdict = { ok: true }) {
  let current: LiveEvaluatorKey[] | Error = rows;
  let clock = 1_000_000;
  const keys = createEvaluatorKeyCache({
    load: async () => {
      if (current instanceof Error) throw current;
      return current;
    },
    refreshMs: 1000,
    log: () => undefined,
    now: () => clock,
  });
  const refused: RefusalReason[] = [];
  const taken: string[] = [];
  const gate = createAccessGate({
    keys,
    limiter: { take: (k) => (taken.push(k.name), verdict) },
    keyRequired: (lane) => lane.env === 'prod',
    onRefused: (reason) => void refused.push(reason),
  });
  return {
    keys,
    gate,
    refused,
    taken,
    setRows: (next: LiveEvaluatorKey[] | Error) => (current = next),
    advance: (ms: number) => (clock += ms),
  };
}

test('a lane that needs no key is open without one; a required lane answers 401 with one line', async () => {
  const { keys, gate, refused } = setup([row()]);
  await keys.refresh();
  expect(gate.admit(undefined, socket(), devWeb)).toEqual({ ok: true });
  const refusal = gate.admit(undefined, socket(), prodWeb);
  expect(refusal).toMatchObject({ ok: false, status: 401 });
  expect(JSON.stringify(refusal)).not.toContain('\\n');
  expect(refused).toEqual(['unauthorized']);
});

test('unknown, wrong and malformed keys get the same 401, also on a lane that needs none', async () => {
  const { keys, gate } = setup([row()]);
  await keys.refresh();
  const wrongSecret = `Bearer ${formatKey(Buffer.alloc(8, 1), Buffer.alloc(32, 3)).text}`;
  const unknown = `Bearer ${formatKey(Buffer.alloc(8, 9), Buffer.alloc(32, 2)).text}`;
  const answers = [wrongSecret, unknown, 'Bearer nonsense', 'Basic abc'].map((h) => gate.admit(h, socket(), devWeb));
  expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
  expect(answers[0]).toMatchObject({ status: 401 });
});

test('a key in scope is admitted and rate-checked; out of scope is 403 naming the key and lane, unmetered', async () => {
  const { keys, gate, taken } = setup([row()]);
  await keys.refresh();
  expect(gate.admit(bearer, socket(), prodWeb)).toEqual({ ok: true });
  expect(gate.admit(bearer, socket(), prodApi)).toEqual({
    ok: false,
    status: 403,
    reason: 'forbidden: evaluator key checkout may not evaluate lane prod/api/eu',
  });
  expect(taken).toEqual(['checkout']);
});

test('over its rate a key gets 429 with the seconds to wait', async () => {
  const { keys, gate, refused } = setup([row()], { ok: false, retryAfterS: 2 });
  await keys.refresh();
  expect(gate.admit(bearer, socket(), prodWeb)).toMatchObject({ ok: false, status: 429, retryAfterS: 2 });
  expect(refused).toEqual(['rate_limited']);
});

test('a key stops at its expiry, and when a reread no longer finds it, even on a connection that used it', async () => {
  const expiring = setup([row({ expiresAt: new Date(1_000_000 + 5000) })]);
  await expiring.keys.refresh();
  const connection = socket();
  expect(expiring.gate.admit(bearer, connection, prodWeb)).toEqual({ ok: true });
  expiring.advance(5000);
  expect(expiring.gate.admit(bearer, connection, prodWeb)).toMatchObject({ status: 401 });

  const revoked = setup([row()]);
  await revoked.keys.refresh();
  expect(revoked.gate.admit(bearer, connection, prodWeb)).toEqual({ ok: true });
  revoked.setRows([]);
  await revoked.keys.refresh();
  expect(revoked.gate.admit(bearer, connection, prodWeb)).toMatchObject({ status: 401 });
  expect(revoked.keys.status()).toMatchObject({ keys: 0, error: null });
});

test('a failed reread keeps the last keys and says why', async () => {
  const { keys, gate, setRows } = setup([row()]);
  await keys.refresh();
  setRows(new Error('connect ECONNREFUSED 127.0.0.1:55432'));
  await keys.refresh();
  expect(keys.status()).toMatchObject({ keys: 1 });
  expect(keys.status().error).toBe('connect ECONNREFUSED 127.0.0.1:55432');
  expect(gate.admit(bearer, socket(), prodWeb)).toEqual({ ok: true });
});
