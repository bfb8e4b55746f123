import fc from 'fast-check';
import { ruleIdOf, type CompiledSnapshot, type Condition, type Emission } from '../../policy/engine/compiled-snapshot';

/** Semantic context (README "Semantic memory") is read through SIGNAL and VALUE conditions. */
export const readsSemanticContext = (snapshot: CompiledSnapshot) =>
  snapshot.rules.some((rule) => rule.conditions.some((c) => c.key.startsWith('semantic_context.')));

/**
 * Random snapshots for the agreement property: few subtask types and close priorities on purpose,
 * so rules tie, emit the same subtasks, and draw the same edges — the cases where two engines
 * could order or deduplicate differently.
 */
const TYPES = ['a', 'b', 'c', 'd'];
const VERSION = 'random@1.0.0';

const condition: fc.Arbitrary<Condition> = fc
  .oneof(
    fc.record({
      type: fc.constant('TAG' as const),
      key: fc.constantFrom('t1', 't2', 't3'),
      op: fc.constant('EXISTS' as const),
    }),
    fc.record({
      type: fc.constant('SIGNAL' as const),
      key: fc.constantFrom('s1', 's2', 'semantic_context.noise'),
      op: fc.constantFrom('>=', '<=', '>', '<', '=', '!=' as const),
      value: fc.constantFrom(0, 0.5, 1),
    }),
    fc.record({
      type: fc.constant('SIGNAL' as const),
      key: fc.constantFrom('s1', 's2', 'semantic_context.noise'),
      op: fc.constant('EXISTS' as const),
    }),
    fc.record({
      type: fc.constant('VALUE' as const),
      key: fc.constantFrom('context.v', 'context.o.v', 'semantic_context.top.label', 'semantic_context.count'),
      op: fc.constantFrom('=', '!=' as const),
      value: fc.constantFrom('x', 'y', 1, true),
    }),
    fc.record({
      type: fc.constant('VALUE' as const),
      key: fc.constantFrom('context.v', 'context.o.v', 'semantic_context.top.label', 'semantic_context.count'),
      op: fc.constant('IN' as const),
      value: fc.constant(['x', 1, false]),
    }),
    fc.record({
      type: fc.constant('VALUE' as const),
      key: fc.constantFrom('context.v', 'context.o.v', 'semantic_context.top.label', 'semantic_context.count'),
      op: fc.constant('MATCHES' as const),
      value: fc.constantFrom('^x', 'y$', '[0-9]+'),
    }),
    fc.record({
      type: fc.constant('VALUE' as const),
      key: fc.constantFrom('context.v', 'context.o', 'semantic_context.top'),
      op: fc.constant('EXISTS' as const),
    }),
    fc.record({
      type: fc.constant('FACT' as const),
      key: fc.constantFrom('p', 'q'),
      op: fc.constant('EXISTS' as const),
    }),
    fc.record({
      type: fc.constant('FACT' as const),
      key: fc.constantFrom('p.k', 'q.k'),
      op: fc.constantFrom('=', '>', 'IN' as const),
      value: fc.constant(1),
    }),
  )
  .map((c) => (c.op === 'IN' && !Array.isArray(c.value) ? { ...c, value: [c.value ?? 1] } : c) as Condition);

const emission: fc.Arbitrary<Emission> = fc
  .tuple(
    fc.constantFrom(...TYPES),
    fc.constantFrom('EMITS', 'ORDERS', 'GATE' as const),
    fc.constantFrom(...TYPES),
    fc.constantFrom({}, { level: 'high' }, { n: 2 }),
  )
  .map(([subtask, relationship, after, params]) =>
    relationship === 'EMITS' || after === subtask
      ? { subtask, relationship: 'EMITS', params }
      : { subtask, relationship, params: { ...params, after } },
  );

export const randomSnapshot: fc.Arbitrary<CompiledSnapshot> = fc
  .uniqueArray(
    fc.record({
      name: fc.stringMatching(/^r[a-z0-9]{1,4}$/),
      priority: fc.integer({ min: 0, max: 3 }),
      enabled: fc.constantFrom(true, true, true, false),
      conditions: fc.array(condition, { maxLength: 3 }),
      emissions: fc.array(emission, { maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 12, selector: (rule) => rule.name },
  )
  .map((rules) => ({
    version: VERSION,
    engine: 'native',
    entrypoint: 'pkg/result',
    subtaskTypes: TYPES.map((name) => ({ name, defaultParams: name === 'a' ? { level: 'normal', fixed: true } : {} })),
    rules: rules.map((rule) => ({ ...rule, id: ruleIdOf(VERSION, rule.name) })),
  }));
