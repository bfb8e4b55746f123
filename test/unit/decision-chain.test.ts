import { generateKeyPairSync } from 'node:crypto';
import { canonicalDecision, decisionId, signDecision, type Outcome } from '../../policy/rollout/decision-record';
import { verifyDecisionChain, type ChainRecord } from '../../policy/rollout/decision-chain';
import { decisionRecordOf } from '../support/decision-records';
import { rolloutLayersFor } from '../../policy/rollout/config';
import { mergeWithReceipt } from '../../policy/rollout/merge-receipt';

const keys = generateKeyPairSync('ed25519');
const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function recordOf(
  n: number,
  outcome: Outcome,
  previousId: string | null,
  env = 'staging',
  extra: object = {},
): ChainRecord {
  const record = { ...decisionRecordOf(n, outcome, previousId, env), ...extra };
  const canonical = canonicalDecision(record);
  return {
    id: decisionId(canonical),
    env,
    previous_id: previousId,
    canonical,
    signature: signDecision(canonical, privatePem),
  };
}

/** promoted → rolled back → reverted, linked in order. */
function chain(): ChainRecord[] {
  const first = recordOf(1, 'promoted', null);
  const second = recordOf(2, 'rolled_back', first.id);
  return [first, second, recordOf(3, 'reverted', second.id)];
}

describe('verifyDecisionChain', () => {
  it('walks an intact chain, reverts included, to its head', () => {
    const records = chain();
    expect(verifyDecisionChain('staging', records, privatePem)).toEqual({
      env: 'staging',
      ok: true,
      records: 3,
      head: records[2]!.id,
      broken: null,
    });
    expect(verifyDecisionChain('staging', [])).toMatchObject({ ok: true, records: 0, head: null });
  });

  it('names the first broken link: a record edited after it was written', () => {
    const records = chain();
    records[1] = { ...records[1]!, canonical: records[1]!.canonical.replace('rolled_back', 'promoted') };
    const result = verifyDecisionChain('staging', records);
    expect(result).toMatchObject({ ok: false, head: records[0]!.id, broken: { id: records[1].id, position: 2 } });
    expect(result.broken!.problems.join()).toMatch(/content hash/);
  });

  it('names a link whose stored predecessor differs from the one inside the record', () => {
    const records = chain();
    records[2] = { ...records[2]!, previous_id: records[0]!.id };
    const result = verifyDecisionChain('staging', records);
    // Record 2 now has no successor; record 3 hangs off record 1, so the walk reaches it second.
    expect(result.broken).toMatchObject({ id: records[2].id, position: 2 });
    expect(result.broken!.problems.join()).toMatch(/record inside names/);
  });

  it('names a record the walk never reaches, and a bad signature', () => {
    const records = chain();
    const stray = recordOf(4, 'rejected', 'f'.repeat(64));
    expect(verifyDecisionChain('staging', [...records, stray]).broken).toMatchObject({ id: stray.id, position: null });
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyDecisionChain('staging', records, other).broken).toMatchObject({ id: records[0]!.id, position: 1 });
  });

  it('walks records written before plans were kept beside ones holding their plan and receipt', () => {
    const [first, second] = chain();
    const receipted = mergeWithReceipt(rolloutLayersFor('staging', { gates: { max_error_rate: 0.005 } }));
    const aborted = recordOf(3, 'aborted', second!.id, 'staging', receipted);
    expect(JSON.parse(aborted.canonical)).toMatchObject({ plan: { gates: { maxErrorRate: 0.005 } } });
    const records = [first!, second!, aborted];
    expect(verifyDecisionChain('staging', records, privatePem)).toMatchObject({ ok: true, head: aborted.id });
    // The plan is covered by the record's hash like the rest of it.
    records[2] = { ...aborted, canonical: aborted.canonical.replace('"maxErrorRate":0.005', '"maxErrorRate":0.05') };
    expect(verifyDecisionChain('staging', records).broken).toMatchObject({ id: aborted.id, position: 3 });
  });

  it('names a record that belongs to another env', () => {
    const records = chain();
    records[1] = { ...records[1]!, env: 'prod' };
    expect(verifyDecisionChain('staging', records).broken!.problems.join()).toMatch(/stored in env prod/);
  });
});
