import { compareDecision, runFixtures } from '../../policy/bundle/fixtures';
import { combineReports, enginesOf } from '../../policy/bundle/validation';
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

describe('the engines a snapshot is validated on', () => {
  const compiled = (engine: 'native' | 'wasm', rules: number) =>
    ({ version: 'v', engine, entrypoint: 'pkg/result', subtaskTypes: [], rules: new Array(rules).fill({}) }) as never;

  it('are both for rules (whatever the serving engine), wasm alone for hand-written Rego without rules', () => {
    expect(enginesOf(compiled('native', 3))).toEqual(['native', 'wasm']);
    expect(enginesOf(compiled('wasm', 3))).toEqual(['native', 'wasm']);
    expect(enginesOf(compiled('wasm', 0))).toEqual(['wasm']);
  });

  it('a fixture passes only if it passes on every engine that ran; an absent engine is not counted', () => {
    const fixtures = [{ name: 'a' }, { name: 'b' }] as never[];
    const report = (okB: boolean) => ({
      passed: okB ? 2 : 1,
      failed: okB ? 0 : 1,
      results: [
        { name: 'a', ok: true },
        { name: 'b', ok: okB, message: okB ? undefined : 'expected escalate' },
      ],
    });
    expect(combineReports(fixtures, { wasm: report(true) })).toMatchObject({
      passed: 2,
      failed: 0,
      engines: { wasm: { passed: 2, failed: 0 } },
    });
    const both = combineReports(fixtures, { native: report(false), wasm: report(true) });
    expect(both).toMatchObject({ passed: 1, failed: 1 });
    expect(both.results[1]).toEqual({ name: 'b', ok: false, message: 'expected escalate (native)' });
    const neither = combineReports(fixtures, { native: report(false), wasm: report(false) });
    expect(neither.results[1]!.message).toBe('expected escalate (native, wasm)');
  });
});
