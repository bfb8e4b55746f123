import { createHash } from 'node:crypto';
import { pkgErrorOf } from '../support/pkg-error';
import { rolloutConfigFor, rolloutLayersFor, type RolloutOverrides } from '../../policy/rollout/config';
import { canonicalHash, mergeWithReceipt } from '../../policy/rollout/merge-receipt';

const receiptFor = (env: 'dev' | 'prod', bundle: RolloutOverrides = {}, commandLine: RolloutOverrides = {}) =>
  mergeWithReceipt(rolloutLayersFor(env, bundle, commandLine));

const tightened = (receipt: ReturnType<typeof receiptFor>) =>
  Object.fromEntries(receipt.merge_receipt.layers.map((l) => [l.name, l.fields_tightened]));

test('a layer that tightens two fields is listed with exactly those two, with both values', () => {
  const receipt = receiptFor('dev', { bake: '5s', gates: { max_error_rate: 0.005 } });
  expect(tightened(receipt)).toEqual({
    'global defaults': [],
    'environment defaults': [],
    bundle: ['bakeMs: 1000 -> 5000', 'gates.maxErrorRate: 0.01 -> 0.005'],
    'command line': [],
  });
});

test('a layer that sets nothing, or only what is already in force, tightens nothing', () => {
  const receipt = receiptFor('prod', {}, { bake: '5m', gates: { max_error_rate: 0.001 } });
  expect(tightened(receipt)['environment defaults']).toEqual([
    'bakeMs: 1000 -> 300000',
    'gates.maxErrorRate: 0.01 -> 0.001',
    'gates.minBakeMs: 0 -> 60000',
    'steps: [50,100] -> [1,5,25,50,100]',
  ]);
  expect(tightened(receipt).bundle).toEqual([]);
  expect(tightened(receipt)['command line']).toEqual([]);
});

test('the plan is the merge, and merged_hash is the hash of its canonical JSON', () => {
  const bundle = { steps: [10, 50, 100], approve_at: [50] };
  const { plan, merge_receipt } = receiptFor('dev', bundle);
  expect(plan).toEqual(rolloutConfigFor('dev', bundle));
  expect(merge_receipt.merged_hash).toBe(canonicalHash(plan));
  expect(merge_receipt.merged_hash).toMatch(/^[0-9a-f]{64}$/);
  expect(tightened(receiptFor('dev', bundle)).bundle).toEqual([
    'approveAt: [] -> [50]',
    'steps: [50,100] -> [10,50,100]',
  ]);
});

test('hashes do not depend on key order, and change with any value', () => {
  const bundle = { bake: '5s', gates: { max_error_rate: 0.005, min_requests: 300 } };
  const shuffled = { gates: { min_requests: 300, max_error_rate: 0.005 }, bake: '5s' };
  const [a, b] = [receiptFor('dev', bundle), receiptFor('dev', shuffled)];
  expect(b.merge_receipt).toEqual(a.merge_receipt);
  // RFC 8785: keys sorted at every depth, so the same content always hashes alike.
  expect(canonicalHash({ b: [1, { d: 1, c: 2 }], a: 0.5 })).toBe(canonicalHash({ a: 0.5, b: [1, { c: 2, d: 1 }] }));
  expect(canonicalHash({ b: 1, a: 2 })).toBe(createHash('sha256').update('{"a":2,"b":1}').digest('hex'));
  const other = receiptFor('dev', { ...bundle, gates: { ...bundle.gates, min_requests: 301 } });
  expect(other.merge_receipt.layers[2]!.overrides_hash).not.toBe(a.merge_receipt.layers[2]!.overrides_hash);
  expect(other.merge_receipt.merged_hash).not.toBe(a.merge_receipt.merged_hash);
  // The layers before the bundle are the same in both, and so are their hashes.
  expect(other.merge_receipt.layers.slice(0, 2)).toEqual(a.merge_receipt.layers.slice(0, 2));
});

test('a plan part-way may break a rule the whole merge keeps: min_bake raised in the bundle, bake on the command line', () => {
  const receipt = receiptFor('dev', { gates: { min_bake: '10s' } }, { bake: '10s' });
  expect(tightened(receipt).bundle).toEqual(['gates.minBakeMs: 0 -> 10000']);
  expect(tightened(receipt)['command line']).toEqual(['bakeMs: 1000 -> 10000']);
});

test('an added metric gate is named by its own settings; a loosening merge has no receipt', () => {
  const analysis = { p95: { query: 'q{lane="{{lane}}"}', max: 0.2 } };
  const receipt = receiptFor('dev', { analysis }, { analysis: { p95: { query: analysis.p95.query, max: 0.1 } } });
  expect(tightened(receipt).bundle).toEqual(
    expect.arrayContaining(['analysis.p95.max: unset -> 0.2', 'analysis.p95.query: unset -> "q{lane=\\"{{lane}}\\"}"']),
  );
  expect(tightened(receipt)['command line']).toEqual(['analysis.p95.max: 0.2 -> 0.1']);
  expect(pkgErrorOf(() => receiptFor('prod', { gates: { max_error_rate: 0.05 } })).type).toBe('GateConfigLoosened');
});

test("a webhook's URL is recorded by origin and digest, never its path or query, which often carry its secret", () => {
  const url = 'https://hooks.example.com/services/T0/B0/s3cr3t?token=abc';
  const receipt = receiptFor('dev', { webhooks: [{ name: 'slack', type: 'post-rollout', url }] });
  const text = JSON.stringify(receipt);
  expect(text).not.toContain('s3cr3t');
  expect(text).not.toContain('token=abc');
  const digest = createHash('sha256').update(url).digest('hex').slice(0, 16);
  expect(receipt.plan.webhooks.map((hook) => hook.url)).toEqual([`https://hooks.example.com/… sha256:${digest}`]);
  expect(tightened(receipt).bundle).toContain(
    `webhooks.slack.url: unset -> "https://hooks.example.com/… sha256:${digest}"`,
  );
  expect(receipt.merge_receipt.merged_hash).toBe(canonicalHash(receipt.plan));
});
