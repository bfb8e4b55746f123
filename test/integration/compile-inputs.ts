import fc from 'fast-check';
import type { CompiledSnapshot, Condition } from '../../policy/engine/compiled-snapshot';
import type { EvaluationInput, Fact } from '../../policy/engine/evaluation';
import { SEMANTIC_CONTEXT_KEY, SEMANTIC_SIGNAL_PREFIX } from '../../policy/cortex/semantic-context';

/**
 * Inputs that exercise a snapshot's conditions: values are drawn from what the rules compare
 * against (each threshold exactly, just above, just below), strings matching each MATCHES pattern,
 * values of the wrong type, and noise. Random inputs alone would almost never reach a rule.
 */
interface Vocabulary {
  tags: string[];
  signals: Map<string, fc.Arbitrary<unknown>[]>;
  contextPaths: Map<string, fc.Arbitrary<unknown>[]>;
  /** VALUE paths into semantic_context, and the labels SIGNAL conditions read similarities of. */
  semanticPaths: Map<string, fc.Arbitrary<unknown>[]>;
  labels: Map<string, fc.Arbitrary<unknown>[]>;
  facts: Map<string, Map<string, fc.Arbitrary<unknown>[]>>;
}

const JUNK: fc.Arbitrary<unknown>[] = [
  fc.constant(null),
  fc.boolean(),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.integer({ min: -5, max: 5 }),
  fc.constant({ nested: 1 }),
  fc.constant([1, 'a']),
];

function candidates(condition: Condition): fc.Arbitrary<unknown>[] {
  const values = [condition.value ?? []].flat();
  const near: fc.Arbitrary<unknown>[] = values.flatMap((v) =>
    (typeof v === 'number' ? [v, v + 0.01, v - 0.01, v + 1, v - 1] : [v]).map((n) => fc.constant(n)),
  );
  const matching: fc.Arbitrary<unknown>[] =
    condition.op === 'MATCHES' && typeof condition.value === 'string'
      ? [fc.stringMatching(new RegExp(condition.value, 'u'))]
      : [];
  return [...near, ...matching, fc.double({ noNaN: true, noDefaultInfinity: true }), ...JUNK];
}

function add(map: Map<string, fc.Arbitrary<unknown>[]>, key: string, values: fc.Arbitrary<unknown>[]): void {
  map.set(key, [...(map.get(key) ?? []), ...values]);
}

export function vocabularyOf(snapshot: CompiledSnapshot): Vocabulary {
  const vocabulary: Vocabulary = {
    tags: ['unrelated'],
    signals: new Map(),
    contextPaths: new Map(),
    semanticPaths: new Map([['labels.unrelated', [fc.constant(0.5)]]]),
    labels: new Map([['unrelated', [fc.constant(1)]]]),
    facts: new Map(),
  };
  for (const condition of snapshot.rules.flatMap((rule) => rule.conditions)) {
    const [head = '', ...path] = condition.key.split('.');
    if (condition.type === 'TAG') vocabulary.tags.push(condition.key);
    // A caller's signal of a semantic label's name is generated too: the label must win on both engines.
    if (condition.type === 'SIGNAL') add(vocabulary.signals, condition.key, candidates(condition));
    if (condition.type === 'SIGNAL' && condition.key.startsWith(SEMANTIC_SIGNAL_PREFIX))
      add(vocabulary.labels, condition.key.slice(SEMANTIC_SIGNAL_PREFIX.length), candidates(condition));
    if (condition.type === 'VALUE' && head === SEMANTIC_CONTEXT_KEY)
      add(vocabulary.semanticPaths, path.join('.'), candidates(condition));
    else if (condition.type === 'VALUE') add(vocabulary.contextPaths, path.join('.'), candidates(condition));
    if (condition.type === 'FACT') {
      const paths = vocabulary.facts.get(head) ?? new Map<string, fc.Arbitrary<unknown>[]>();
      add(paths, path.join('.'), candidates(condition));
      vocabulary.facts.set(head, paths);
    }
  }
  return vocabulary;
}

/** An object with some of the given dotted paths set (a path blocked by an earlier scalar is skipped). */
function objectWith(paths: Map<string, fc.Arbitrary<unknown>[]>): fc.Arbitrary<Record<string, unknown>> {
  const entries = [...paths]
    .filter(([path]) => path !== '')
    .map(([path, values]) => fc.option(fc.tuple(fc.constant(path), fc.oneof(...values)), { nil: undefined }));
  return fc.tuple(...entries).map((chosen) => {
    const root: Record<string, unknown> = {};
    for (const entry of chosen) if (entry) setPath(root, entry[0].split('.'), entry[1]);
    return root;
  });
}

function setPath(root: Record<string, unknown>, path: string[], value: unknown): void {
  let current = root;
  for (const segment of path.slice(0, -1)) {
    const next = current[segment] ?? {};
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return;
    // A copy: a generated value may be a shared constant (or the value set below), never to be mutated.
    const copy = { ...next } as Record<string, unknown>;
    current[segment] = copy;
    current = copy;
  }
  current[path[path.length - 1]!] = value;
}

export function inputsFor(snapshot: CompiledSnapshot): fc.Arbitrary<{ input: EvaluationInput; facts: Fact[] }> {
  const vocabulary = vocabularyOf(snapshot);
  const signalKeys = [...vocabulary.signals.keys(), 'unrelated'];
  const signals = fc.dictionary(
    fc.constantFrom(...signalKeys),
    fc.oneof(...[...vocabulary.signals.values()].flat(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  );
  const fact = fc.oneof(
    ...[...vocabulary.facts].map(([predicate, paths]) =>
      fc.record({ predicate: fc.constant(predicate), object: objectWith(paths) }),
    ),
    fc.record({ predicate: fc.constant('unrelated'), object: fc.constant({}) }),
  );
  const semantic = fc
    .tuple(objectWith(vocabulary.semanticPaths), objectWith(vocabulary.labels))
    .map(([context, labels]) => ({ labels, ...context }));
  const input = fc.record(
    {
      tags: fc.array(fc.constantFrom(...vocabulary.tags), { maxLength: 4 }),
      signals: signals as fc.Arbitrary<Record<string, number>>,
      context: objectWith(vocabulary.contextPaths),
      semantic_context: semantic as fc.Arbitrary<EvaluationInput['semantic_context']>,
    },
    { requiredKeys: [] },
  );
  return fc.record({ input, facts: fc.array(fact, { maxLength: 3 }) });
}
