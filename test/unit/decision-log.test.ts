import fc from 'fast-check';
import { createDecisionLogBuffer } from '../../policy/decision-log/buffer';
import {
  chunkDecisions,
  decisionJson,
  decisionLogLine,
  decisionResultJson,
  partitionDays,
  type DecisionLogEntry,
} from '../../policy/decision-log/entry';
import { createMaskHasher, maskInput, parseMaskPaths, type DecisionLogMask } from '../../policy/decision-log/masking';
import { isSampled, parseDecisionLogSampling, sampleRate } from '../../policy/decision-log/sampling';
import type { EvaluationInput } from '../../policy/engine/evaluation';

const paths = (text: string) => {
  const parsed = parseMaskPaths(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};
const mask = (hash: string, drop = ''): DecisionLogMask => ({ hash: paths(hash), drop: paths(drop) });
const sha256 = createMaskHasher();

const input = (): EvaluationInput => ({
  tags: ['vip'],
  signals: { x2: 0.8 },
  context: { domain: 'hotel_ops', subject: 'guest:Ben', card: '4111' },
  facts: [
    { predicate: 'hasTemporaryAccess', object: { service: 'lounge', badge: 'B-7' } },
    { predicate: 'member', object: { badge: 'B-9' } },
  ],
});

describe('masking', () => {
  test('the hashed subject is its SHA-256 hex; dropped fields are gone; everything else is kept', () => {
    const masked = maskInput(input(), mask('context.subject', 'context.card'), sha256);
    // sha256sum of the text `guest:Ben`.
    expect(masked.context).toEqual({
      domain: 'hotel_ops',
      subject: '8c272a5a7823713466b8df99260718244528a7befc15728a092748dbca2bffc5',
    });
    expect(JSON.stringify(masked)).not.toContain('guest:Ben');
    expect(JSON.stringify(masked)).not.toContain('4111');
    expect(masked.tags).toEqual(['vip']);
    expect(masked.facts).toEqual(input().facts);
  });

  test('a path through an array applies to every element, and a hashed array keeps its shape', () => {
    const masked = maskInput(input(), mask('tags', 'facts.object.badge'), sha256);
    expect(masked.tags).toEqual([sha256('vip')]);
    expect(masked.facts).toEqual([
      { predicate: 'hasTemporaryAccess', object: { service: 'lounge' } },
      { predicate: 'member', object: {} },
    ]);
  });

  test('the input itself is never changed, and a path that is absent changes nothing', () => {
    const original = input();
    const masked = maskInput(original, mask('context.subject,signals.missing', 'facts.object.badge'), sha256);
    expect(original).toEqual(input());
    expect(masked).not.toBe(original);
    const untouched = maskInput(original, mask('context.nobody', 'signals.none'), sha256);
    expect(untouched).toBe(original);
  });

  test('a salted hash differs from the plain one and from another salt, and is stable', () => {
    const salted = createMaskHasher('installation-a');
    expect(salted('guest:Ben')).toBe(salted('guest:Ben'));
    expect(salted('guest:Ben')).not.toBe(sha256('guest:Ben'));
    expect(salted('guest:Ben')).not.toBe(createMaskHasher('installation-b')('guest:Ben'));
  });

  test('drop wins over hash on the same field', () => {
    const masked = maskInput(input(), mask('context.subject', 'context.subject'), sha256);
    expect(masked.context).not.toHaveProperty('subject');
  });

  test.each([
    ['subject', 'must start with'],
    ['context..subject', 'not a dotted path'],
    ['context.sub ject', 'not a dotted path'],
  ])('mask path %j is refused (%s)', (text, reason) => {
    const parsed = parseMaskPaths(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });

  test('an empty list masks nothing', () => {
    expect(parseMaskPaths('')).toEqual({ ok: true, value: [] });
    expect(parseMaskPaths(' context.subject , facts ')).toEqual({
      ok: true,
      value: [['context', 'subject'], ['facts']],
    });
  });
});

describe('sampling', () => {
  const lane = (name: string) => {
    const [env, target, region] = name.split('/') as ['prod', string, string];
    return { env, target, region };
  };

  test('a default rate and whole-lane overrides', () => {
    const parsed = parseDecisionLogSampling('0.1, prod/web/eu=1,dev/default/default=0');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(sampleRate(parsed.value, lane('prod/web/eu'))).toBe(1);
    expect(sampleRate(parsed.value, lane('dev/default/default'))).toBe(0);
    expect(sampleRate(parsed.value, lane('prod/web/us'))).toBe(0.1);
  });

  test('unset or empty means off', () => {
    expect(parseDecisionLogSampling('')).toEqual({ ok: true, value: { defaultRate: 0, lanes: new Map() } });
    expect(parseDecisionLogSampling('prod/web/eu=.5')).toEqual({
      ok: true,
      value: { defaultRate: 0, lanes: new Map([['prod/web/eu', 0.5]]) },
    });
  });

  test.each([
    ['1.5', 'fraction'],
    ['-0.1', 'fraction'],
    ['abc', 'fraction'],
    ['0.1,0.2', 'only one default'],
    ['prod/web=1', 'env/target/region'],
    ['live/web/eu=1', 'env/target/region'],
    ['prod/web/eu=1,prod/web/eu=0', 'twice'],
    ['prod/web/eu=', 'fraction'],
  ])('%j is refused (%s)', (text, reason) => {
    const parsed = parseDecisionLogSampling(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });

  test('rate 0 samples no draw and rate 1 every draw; rate r samples draws below r', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (draw) => {
        expect(isSampled(0, draw)).toBe(false);
        expect(isSampled(1, draw)).toBe(true);
        expect(isSampled(0.25, draw)).toBe(draw < 0.25);
      }),
    );
  });
});

describe('bounded buffer', () => {
  test('a full buffer refuses and counts; released entries make room again; losses are counted by reason', () => {
    const drops: string[] = [];
    const buffer = createDecisionLogBuffer(3, (reason, count) => drops.push(`${reason}:${count}`));
    expect([1, 2, 3, 4, 5].map(() => buffer.admit())).toEqual([true, true, true, false, false]);
    expect(buffer.stats()).toEqual({ buffered: 3, capacity: 3, dropped: { buffer_full: 2, write_failed: 0 } });
    buffer.release(2);
    expect(buffer.admit()).toBe(true);
    buffer.release(2, 'write_failed');
    expect(buffer.stats()).toEqual({ buffered: 0, capacity: 3, dropped: { buffer_full: 2, write_failed: 2 } });
    expect(drops).toEqual(['buffer_full:1', 'buffer_full:1', 'write_failed:2']);
  });

  test('it never holds more than its capacity, and every entry is either released or counted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 5 })), (capacity, releases) => {
        const buffer = createDecisionLogBuffer(capacity);
        let offered = 0;
        let released = 0;
        for (const release of releases) {
          for (let i = 0; i < 4; i++) {
            offered += 1;
            buffer.admit();
            expect(buffer.length).toBeLessThanOrEqual(capacity);
          }
          const before = buffer.length;
          buffer.release(release);
          released += before - buffer.length;
        }
        expect(released + buffer.length + buffer.stats().dropped.buffer_full).toBe(offered);
      }),
    );
  });
});

describe('decision log row', () => {
  const decided = { subtasks: [], dag: [], rules: [] };
  const entry = (overrides: Partial<DecisionLogEntry> = {}): DecisionLogEntry => ({
    decisionId: '7d3f1c2e-0000-4000-8000-000000000000',
    at: Date.UTC(2026, 11, 7, 23, 59, 59, 500),
    lane: { env: 'prod', target: 'web', region: 'eu' },
    snapshotVersion: 'hotel-ops@1.0.0',
    canary: true,
    mode: 'control',
    input: { tags: ['vip'], context: { subject: 'guest:Ben' } },
    facts: [{ predicate: 'hasTemporaryAccess', object: { service: 'lounge' } }],
    result: decisionResultJson(decisionJson(decided)),
    error: null,
    evalNs: 12_345.6,
    ...overrides,
  });
  const row = (e: DecisionLogEntry, m = mask('context.subject')) =>
    JSON.parse(decisionLogLine(e, m, sha256)) as Record<string, unknown> & { input: EvaluationInput };

  test('the input carries the facts the decision saw, masked; the result is {ok, subtasks, dag, rules}', () => {
    expect(row(entry())).toEqual({
      decision_id: '7d3f1c2e-0000-4000-8000-000000000000',
      at: Date.UTC(2026, 11, 7, 23, 59, 59, 500),
      snapshot_version: 'hotel-ops@1.0.0',
      canary: true,
      mode: 'control',
      input: {
        tags: ['vip'],
        context: { subject: sha256('guest:Ben') },
        facts: [{ predicate: 'hasTemporaryAccess', object: { service: 'lounge' } }],
      },
      result: { ok: true, subtasks: [], dag: [], rules: [] },
      error: null,
      eval_ns: 12_346,
    });
  });

  test('text that needs escaping stays valid JSON, on one line', () => {
    const text = decisionLogLine(entry({ snapshotVersion: 'a"b\\c\n@1.0.0', error: 'x\ny' }), mask(''), sha256);
    expect(text).not.toContain('\n');
    expect(JSON.parse(text)).toMatchObject({ snapshot_version: 'a"b\\c\n@1.0.0', error: 'x\ny' });
  });

  test('facts read from pkg_facts are logged as a request sends them: predicate and object only', () => {
    const stored = { id: '9', namespace: 'default', subject: 'guest:Ben', predicate: 'member', validTo: null };
    const logged = row(entry({ facts: [{ ...stored, object: { tier: 'gold' } }, stored] }), mask(''));
    expect(logged.input.facts).toEqual([{ predicate: 'member', object: { tier: 'gold' } }, { predicate: 'member' }]);
  });

  test("the request's own facts are logged as sent, masked, and the input is left as it was", () => {
    const input = { tags: ['vip'], facts: [{ predicate: 'card', object: { number: '4111' } }] };
    const logged = row(entry({ input, facts: input.facts }), mask('facts.object.number'));
    expect(logged.input).toEqual({ tags: ['vip'], facts: [{ predicate: 'card', object: { number: sha256('4111') } }] });
    expect(input.facts[0]!.object.number).toBe('4111');
  });

  test('a failed evaluation has a null result and its error', () => {
    const logged = row(entry({ result: null, error: 'evaluation failed: boom' }), mask(''));
    expect(logged).toMatchObject({ result: null, error: 'evaluation failed: boom' });
  });

  test("a batch needs each entry's UTC day and the next", () => {
    const late = Date.UTC(2026, 11, 31, 23, 59, 59);
    expect(partitionDays([{ at: late }, { at: late - 3_600_000 }])).toEqual(['2026-12-31', '2027-01-01']);
    expect(partitionDays([])).toEqual([]);
  });

  test('chunks hold one lane and one UTC day each, at most the batch size, in the order decided', () => {
    const [web, api] = [
      { env: 'prod' as const, target: 'web', region: 'eu' },
      { env: 'prod' as const, target: 'api', region: 'eu' },
    ];
    const midnight = Date.UTC(2026, 11, 8);
    const rows = [
      { lane: web, at: midnight - 2, line: 'w1' },
      { lane: api, at: midnight - 2, line: 'a1' },
      { lane: web, at: midnight - 1, line: 'w2' },
      { lane: web, at: midnight - 1, line: 'w3' },
      { lane: web, at: midnight, line: 'w4' },
    ];
    expect(chunkDecisions(rows, 2)).toEqual([
      { lane: web, firstAt: midnight - 2, lastAt: midnight - 1, lines: ['w1', 'w2'] },
      { lane: api, firstAt: midnight - 2, lastAt: midnight - 2, lines: ['a1'] },
      { lane: web, firstAt: midnight - 1, lastAt: midnight - 1, lines: ['w3'] },
      { lane: web, firstAt: midnight, lastAt: midnight, lines: ['w4'] },
    ]);
  });

  test('every line lands in exactly one chunk, whatever the lanes, days and batch size', () => {
    const lanes = ['a', 'b', 'c'].map((target) => ({ env: 'dev' as const, target, region: 'r' }));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 * 86_400_000 }))),
        fc.integer({ min: 1, max: 5 }),
        (picks, max) => {
          const rows = picks.map(([lane, at], i) => ({ lane: lanes[lane]!, at, line: String(i) }));
          const chunks = chunkDecisions(rows, max);
          expect(chunks.flatMap((chunk) => chunk.lines).sort()).toEqual(rows.map((row) => row.line).sort());
          for (const chunk of chunks) {
            expect(chunk.lines.length).toBeLessThanOrEqual(max);
            expect(Math.floor(chunk.firstAt / 86_400_000)).toBe(Math.floor(chunk.lastAt / 86_400_000));
            const mine = rows.filter((row) => chunk.lines.includes(row.line));
            expect(mine.every((row) => row.lane === chunk.lane)).toBe(true);
          }
        },
      ),
    );
  });
});
