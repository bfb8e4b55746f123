import fc from 'fast-check';
import { chooseArm, decisionsDiffer, shouldShadow } from '../../policy/canary/routing';
import type { Decision } from '../../policy/engine/evaluation';

const split = (canaryPercent: number, salt = 'rollout-1') => ({ hasCandidate: true, canaryPercent, salt });

test('a key on the candidate at a lower percent stays on it at every higher percent', () => {
  fc.assert(
    fc.property(
      fc.string(),
      fc.string(),
      fc.integer({ min: 0, max: 10000 }),
      fc.integer({ min: 0, max: 10000 }),
      (key, salt, a, b) => {
        const [low, high] = a <= b ? [a / 100, b / 100] : [b / 100, a / 100];
        if (chooseArm(split(low, salt), key) === 'candidate')
          expect(chooseArm(split(high, salt), key)).toBe('candidate');
      },
    ),
  );
});

test('routing is sticky: the same key and salt always take the same arm', () => {
  fc.assert(
    fc.property(fc.string(), fc.double({ min: 0, max: 100, noNaN: true }), (key, percent) => {
      expect(chooseArm(split(percent), key)).toBe(chooseArm(split(percent), key));
    }),
  );
});

test('0% and no candidate mean serving; 100% means candidate', () => {
  expect(chooseArm(split(0), 'k')).toBe('serving');
  expect(chooseArm({ hasCandidate: false, canaryPercent: 50, salt: 's' }, 'k')).toBe('serving');
  expect(chooseArm(split(100), 'k')).toBe('candidate');
});

test('a request without a routing key stays on the serving version', () => {
  expect(chooseArm(split(100), undefined)).toBe('serving');
});

test('10% routes about 10% of distinct keys to the candidate', () => {
  const keys = Array.from({ length: 20000 }, (_, i) => `guest:${i}`);
  const share = keys.filter((key) => chooseArm(split(10), key) === 'candidate').length / keys.length;
  expect(share).toBeGreaterThan(0.09);
  expect(share).toBeLessThan(0.11);
});

test('shadowing samples only canary lanes, at the rate', () => {
  expect(shouldShadow(split(10), 0.1, 0.05)).toBe(true);
  expect(shouldShadow(split(10), 0.1, 0.15)).toBe(false);
  expect(shouldShadow({ hasCandidate: false, canaryPercent: 0, salt: '' }, 1, 0)).toBe(false);
});

const decision = (level: string, ruleId: string): Decision => ({
  subtasks: [
    { name: 'escalate', type: 'escalate', params: { level }, rule_id: ruleId, rule_name: 'vip' },
    { name: 'notify', type: 'notify', params: {}, rule_id: ruleId, rule_name: 'vip' },
  ],
  dag: [{ from: 'escalate', to: 'notify', type: 'sequential', rule: ruleId }],
  rules: [{ rule_id: ruleId, rule_name: 'vip', rule_priority: 1, matched_conditions: 1, emissions_count: 2 }],
});

test('decisions differ by subtasks and params, not by version-specific rule ids or order', () => {
  expect(decisionsDiffer(decision('high', 'a1'), decision('high', 'b2'))).toBe(false);
  const reordered = decision('high', 'a1');
  reordered.subtasks.reverse();
  expect(decisionsDiffer(decision('high', 'a1'), reordered)).toBe(false);
  expect(decisionsDiffer(decision('high', 'a1'), decision('normal', 'a1'))).toBe(true);
  expect(decisionsDiffer(decision('high', 'a1'), { subtasks: [], dag: [], rules: [] })).toBe(true);
});

test('params compare by content, not key order; a name that runs into its type is not confused', () => {
  const withParams = (params: Record<string, unknown>, name = 'escalate', type = 'escalate'): Decision => ({
    subtasks: [{ name, type, params, rule_id: 'r', rule_name: 'vip' }],
    dag: [],
    rules: [],
  });
  expect(decisionsDiffer(withParams({ a: 1, b: [1, 2] }), withParams({ b: [1, 2], a: 1 }))).toBe(false);
  expect(decisionsDiffer(withParams({}), withParams({ a: undefined }))).toBe(false);
  expect(decisionsDiffer(withParams({}), withParams({ a: null }))).toBe(true);
  expect(decisionsDiffer(withParams({}, 'ab', 'c'), withParams({}, 'a', 'bc'))).toBe(true);
});
