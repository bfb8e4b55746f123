import { generateKeyPairSync } from 'node:crypto';
import {
  canonicalDecision,
  decisionId,
  narrateDecision,
  signDecision,
  verifyDecision,
  type DecisionRecord,
} from '../../policy/rollout/decision-record';
import { rolloutLayersFor } from '../../policy/rollout/config';
import { mergeWithReceipt } from '../../policy/rollout/merge-receipt';

const record: DecisionRecord = {
  schema: 1,
  env: 'staging',
  lane: { env: 'staging', target: 'default', region: 'eu' },
  rollout_id: 'rollout-staging-default-eu:run-1',
  outcome: 'rolled_back',
  reason: 'error rate 5% > budget 1%',
  snapshot: { id: '7f1c0f9e-0000-4000-8000-000000000001', version: 'rules@1.2.0', checksum: 'a'.repeat(64) },
  previous_snapshot: { id: '7f1c0f9e-0000-4000-8000-000000000000', version: 'rules@1.1.0' },
  validation: { passed: 4, failed: 0 },
  verdicts: [],
  events: [
    { event: 'step', step: 0, percent: 10, actor: 'ci', reason: null, is_rollback: false, at: '2026-01-01T00:00:00Z' },
  ],
  actors: ['ci'],
  previous_id: null,
  decided_at: '2026-01-01T00:01:00Z',
};

const keys = generateKeyPairSync('ed25519');
const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

test('canonical text does not depend on key order, so the id is stable', () => {
  const shuffled = Object.fromEntries(Object.entries(record).reverse()) as unknown as DecisionRecord;
  expect(canonicalDecision(shuffled)).toBe(canonicalDecision(record));
  expect(decisionId(canonicalDecision(record))).toMatch(/^[0-9a-f]{64}$/);
});

test('a signed record verifies; a changed byte or another key does not', () => {
  const canonical = canonicalDecision(record);
  const stored = { id: decisionId(canonical), canonical, signature: signDecision(canonical, privatePem) };
  expect(verifyDecision(stored, publicPem)).toEqual({ ok: true, problems: [] });
  expect(verifyDecision(stored, privatePem).ok).toBe(true);

  const tampered = { ...stored, canonical: canonical.replace('rolled_back', 'promoted') };
  const check = verifyDecision(tampered, publicPem);
  expect(check.ok).toBe(false);
  expect(check.problems).toHaveLength(2);

  const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  expect(verifyDecision(stored, other).problems).toEqual(['signature does not verify with the given key']);
});

test('an unsigned record verifies by hash alone, and is flagged when a key is given', () => {
  const canonical = canonicalDecision(record);
  const stored = { id: decisionId(canonical), canonical, signature: null };
  expect(verifyDecision(stored).ok).toBe(true);
  expect(verifyDecision(stored, publicPem).problems).toEqual(['record is unsigned']);
});

test('the narrative names the version, outcome, lane and reason', () => {
  expect(narrateDecision(record)).toContain(
    'rules@1.2.0 was rolled back on lane staging/default/eu: error rate 5% > budget 1%.',
  );
});

test('the narrative gives the plan by its hash and which layer tightened which fields; without a plan, nothing', () => {
  const receipted = mergeWithReceipt(rolloutLayersFor('prod', { gates: { max_error_rate: 0.0005 } }, { bake: '10m' }));
  const text = narrateDecision({ ...record, ...receipted });
  expect(text).toContain(
    `Plan ${receipted.merge_receipt.merged_hash.slice(0, 12)} (global defaults → environment defaults → bundle → command line): ` +
      'environment defaults tightened bakeMs, gates.maxErrorRate, gates.minBakeMs, steps; ' +
      'bundle tightened gates.maxErrorRate; command line tightened bakeMs.',
  );
  expect(narrateDecision(record)).not.toContain('Plan ');
});
