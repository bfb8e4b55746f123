import { compareDecision, runFixtures } from '../../policy/bundle/fixtures';
import type { Decision, Engine } from '../../policy/engine/evaluation';

const decision: Decision = {
  subtasks: [
    { name: 'escalate', type: 'escalate', params: { level: 'high' }, rule_id: 'r1', rule_name: 'vip' },
    { name: 'notify', type: 'notify', params: {}, rule_id: 'r1', rule_name: 'vip' },
  ],
  dag: [{ from: 'escalate', to: 'notify', type: 'sequential', rule: 'r1' }],
  rules: [{ rule_id: 'r1', rule_name: 'vip', rule_priority: 1, matched_conditions: 1, emissions_count: 2 }],
};

describe('fixture comparison', () => {
  it('accepts a matching expectation, order-insensitive by default', () => {
    expect(
      compareDecision(decision, {
        subtasks: ['notify', 'escalate'],
        ordered: false,
        rules: ['vip'],
        params: { escalate: { level: 'high' } },
      }),
    ).toEqual([]);
  });

  it('names every miss', () => {
    const failures = compareDecision(decision, {
      subtasks: ['notify', 'escalate'],
      ordered: true,
      not_subtasks: ['notify'],
      dag: [],
      params: { escalate: { level: 'low' } },
    });
    expect(failures).toEqual([
      'subtasks [escalate, notify], expected [notify, escalate]',
      'unexpected subtasks [notify]',
      'dag [escalate->notify:sequential], expected []',
      'escalate.params.level is "high", expected "low"',
    ]);
  });

  it('counts passes and failures, and reports an engine that throws as a failure', () => {
    const engine: Engine = {
      kind: 'native',
      version: 'x@1.0.0',
      evaluate: (input) => {
        if (input.tags?.includes('boom')) throw new Error('kaput');
        return decision;
      },
    };
    const report = runFixtures(engine, [
      { name: 'ok', input: {}, expect: { subtasks: ['escalate', 'notify'], ordered: false } },
      { name: 'boom', input: { tags: ['boom'] }, expect: { subtasks: [], ordered: false } },
    ]);
    expect(report).toEqual({
      passed: 1,
      failed: 1,
      results: [
        { name: 'ok', ok: true },
        { name: 'boom', ok: false, message: 'evaluation failed: kaput' },
      ],
    });
  });
});
