import {
  ruleIdOf,
  type CompiledRule,
  type CompiledSnapshot,
  type Condition,
  type Emission,
} from '../../policy/engine/compiled-snapshot';
import type { Fact } from '../../policy/engine/evaluation';
import { createNativeEngine } from '../../policy/engine/native';

const VERSION = 'engine-test@1.0.0';

function rule(
  name: string,
  priority: number,
  conditions: Condition[],
  emissions: Emission[] = [{ subtask: 'a', relationship: 'EMITS', params: {} }],
  enabled = true,
): CompiledRule {
  return { id: ruleIdOf(VERSION, name), name, priority, enabled, conditions, emissions };
}

function snapshot(rules: CompiledRule[]): CompiledSnapshot {
  const subtaskTypes = ['a', 'b', 'c'].map((name) => ({
    name,
    defaultParams: name === 'a' ? { level: 'normal', keep: 1 } : {},
  }));
  return { version: VERSION, engine: 'native', entrypoint: 'pkg/result', subtaskTypes, rules };
}

const matches = (
  condition: Condition,
  input: Parameters<ReturnType<typeof createNativeEngine>['evaluate']>[0],
  facts: Fact[] = [],
) => createNativeEngine(snapshot([rule('r', 0, [condition])])).evaluate(input, facts).rules.length === 1;

describe('native engine conditions', () => {
  it('TAG holds when the tag is present', () => {
    expect(matches({ type: 'TAG', key: 'vip', op: 'EXISTS' }, { tags: ['x', 'vip'] })).toBe(true);
    expect(matches({ type: 'TAG', key: 'vip', op: 'EXISTS' }, { tags: ['x'] })).toBe(false);
  });

  it.each([
    ['>=', 0.7, 0.7, true],
    ['>=', 0.7, 0.69, false],
    ['>', 0.7, 0.7, false],
    ['<', 3, 2, true],
    ['<=', 3, 3, true],
    ['=', 2, 2, true],
    ['!=', 2, 3, true],
    ['!=', 2, 2, false],
  ] as const)('SIGNAL %s %s against %s → %s', (op, value, actual, expected) => {
    expect(matches({ type: 'SIGNAL', key: 'x2', op, value }, { signals: { x2: actual } })).toBe(expected);
  });

  it('every operator but EXISTS needs the value present (even !=)', () => {
    expect(matches({ type: 'SIGNAL', key: 'x2', op: '!=', value: 1 }, { signals: {} })).toBe(false);
    expect(matches({ type: 'VALUE', key: 'context.a', op: '!=', value: 'x' }, { context: {} })).toBe(false);
    expect(matches({ type: 'SIGNAL', key: 'x2', op: 'EXISTS' }, { signals: { x2: 0 } })).toBe(true);
  });

  it('VALUE follows dotted paths through objects only', () => {
    const input = { context: { stay: { nights: 5, rooms: [{ n: 1 }] }, nil: null } };
    expect(matches({ type: 'VALUE', key: 'context.stay.nights', op: '>', value: 3 }, input)).toBe(true);
    expect(matches({ type: 'VALUE', key: 'context.stay.rooms.0', op: 'EXISTS' }, input)).toBe(false);
    expect(matches({ type: 'VALUE', key: 'context.nil', op: 'EXISTS' }, input)).toBe(true);
    expect(matches({ type: 'VALUE', key: 'context.constructor', op: 'EXISTS' }, input)).toBe(false);
  });

  it('numeric operators and MATCHES never hold across types', () => {
    expect(matches({ type: 'VALUE', key: 'context.n', op: '>', value: 1 }, { context: { n: '5' } })).toBe(false);
    expect(matches({ type: 'VALUE', key: 'context.n', op: 'MATCHES', value: '5' }, { context: { n: 5 } })).toBe(false);
  });

  it('IN and MATCHES', () => {
    expect(
      matches(
        { type: 'VALUE', key: 'context.t', op: 'IN', value: ['night', 'late_night'] },
        { context: { t: 'night' } },
      ),
    ).toBe(true);
    expect(matches({ type: 'VALUE', key: 'context.t', op: 'IN', value: ['night'] }, { context: { t: 'day' } })).toBe(
      false,
    );
    expect(
      matches(
        { type: 'VALUE', key: 'context.room', op: 'MATCHES', value: '^suite-[0-9]+$' },
        { context: { room: 'suite-12' } },
      ),
    ).toBe(true);
    expect(
      matches(
        { type: 'VALUE', key: 'context.room', op: 'MATCHES', value: '^suite-[0-9]+$' },
        { context: { room: 'suite-1a' } },
      ),
    ).toBe(false);
  });

  it('FACT holds when some supplied fact satisfies it', () => {
    const facts = [
      { predicate: 'hasTemporaryAccess', object: { service: 'spa' } },
      { predicate: 'hasTemporaryAccess', object: { service: 'lounge' } },
    ];
    expect(matches({ type: 'FACT', key: 'hasTemporaryAccess', op: 'EXISTS' }, {}, facts)).toBe(true);
    expect(matches({ type: 'FACT', key: 'hasTemporaryAccess.service', op: '=', value: 'lounge' }, {}, facts)).toBe(
      true,
    );
    expect(matches({ type: 'FACT', key: 'hasTemporaryAccess.service', op: '=', value: 'gym' }, {}, facts)).toBe(false);
    expect(matches({ type: 'FACT', key: 'hasTemporaryAccess', op: 'EXISTS' }, {}, [])).toBe(false);
  });

  it('reads facts from the argument, not from input.facts', () => {
    const input = { facts: [{ predicate: 'p' }] };
    expect(matches({ type: 'FACT', key: 'p', op: 'EXISTS' }, input, [])).toBe(false);
  });
});

describe('native engine decisions', () => {
  const emits = (
    subtask: string,
    params: Record<string, unknown> = {},
    relationship: Emission['relationship'] = 'EMITS',
  ): Emission => ({ subtask, relationship, params });
  const vip: Condition = { type: 'TAG', key: 'vip', op: 'EXISTS' };

  it('orders matched rules by descending priority, ties by name, and skips disabled rules', () => {
    const engine = createNativeEngine(
      snapshot([
        rule('low', 1, [vip]),
        rule('zeta', 5, [vip]),
        rule('alpha', 5, [vip]),
        rule('off', 9, [vip], undefined, false),
      ]),
    );
    expect(engine.evaluate({ tags: ['vip'] }, []).rules.map((r) => r.rule_name)).toEqual(['alpha', 'zeta', 'low']);
  });

  it('emits each subtask once, from the highest-priority rule, with defaults merged under its params', () => {
    const engine = createNativeEngine(
      snapshot([
        rule('weak', 1, [vip], [emits('a', { level: 'low' })]),
        rule('strong', 9, [vip], [emits('a', { level: 'high' }), emits('b')]),
      ]),
    );
    const decision = engine.evaluate({ tags: ['vip'] }, []);
    expect(decision.subtasks).toEqual([
      {
        name: 'a',
        type: 'a',
        params: { level: 'high', keep: 1 },
        rule_id: ruleIdOf(VERSION, 'strong'),
        rule_name: 'strong',
      },
      { name: 'b', type: 'b', params: {}, rule_id: ruleIdOf(VERSION, 'strong'), rule_name: 'strong' },
    ]);
    expect(decision.rules.map((r) => [r.rule_name, r.matched_conditions, r.emissions_count])).toEqual([
      ['strong', 1, 2],
      ['weak', 1, 1],
    ]);
  });

  it('draws ORDERS as sequential and GATE as gate edges, without `after` in params', () => {
    const engine = createNativeEngine(
      snapshot([
        rule(
          'r',
          1,
          [vip],
          [emits('a'), emits('b', { after: 'a', x: 1 }, 'ORDERS'), emits('c', { after: 'b' }, 'GATE')],
        ),
      ]),
    );
    const decision = engine.evaluate({ tags: ['vip'] }, []);
    const id = ruleIdOf(VERSION, 'r');
    expect(decision.dag).toEqual([
      { from: 'a', to: 'b', type: 'sequential', rule: id },
      { from: 'b', to: 'c', type: 'gate', rule: id },
    ]);
    expect(decision.subtasks[1]!.params).toEqual({ x: 1 });
  });

  it('drops an edge whose `from` subtask is not in the decision', () => {
    const engine = createNativeEngine(snapshot([rule('r', 1, [vip], [emits('b', { after: 'a' }, 'ORDERS')])]));
    expect(engine.evaluate({ tags: ['vip'] }, []).dag).toEqual([]);
  });

  it('finds rules filed under a tag, a signal, a fact or none (the index never hides a match)', () => {
    const engine = createNativeEngine(
      snapshot([
        rule('by_tag', 4, [vip]),
        rule('by_signal', 3, [{ type: 'SIGNAL', key: 's', op: '>', value: 1 }]),
        rule('by_fact', 2, [{ type: 'FACT', key: 'p', op: 'EXISTS' }]),
        rule('by_value', 1, [{ type: 'VALUE', key: 'context.d', op: '=', value: 'x' }]),
      ]),
    );
    const decision = engine.evaluate({ tags: ['vip', 'vip'], signals: { s: 2 }, context: { d: 'x' } }, [
      { predicate: 'p' },
    ]);
    expect(decision.rules.map((r) => r.rule_name)).toEqual(['by_tag', 'by_signal', 'by_fact', 'by_value']);
  });

  it('treats malformed input parts as empty instead of throwing', () => {
    const engine = createNativeEngine(snapshot([rule('r', 1, [vip])]));
    expect(
      engine.evaluate(
        { tags: 'vip' as unknown as string[], signals: [] as unknown as Record<string, number> },
        null as unknown as Fact[],
      ).rules,
    ).toEqual([]);
  });
});
