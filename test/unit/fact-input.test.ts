import { PkgError } from '../../policy/errors';
import {
  factCleanupRequestSchema,
  factInputSchema,
  flagName,
  parseInput,
  DEFAULT_CLEANUP_GRACE_MS,
} from '../../policy/facts/input';

const base = { subject: 'guest:Ben', predicate: 'hasTemporaryAccess' };

function problemsOf(input: unknown): string[] {
  try {
    parseInput(factInputSchema, input, 'invalid fact', flagName);
  } catch (error) {
    expect(error).toBeInstanceOf(PkgError);
    expect((error as PkgError).type).toBe('InputInvalid');
    return (error as PkgError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected the input to be refused');
}

test('a fact from CLI strings: object parsed, ttl in ms, namespace defaulted', () => {
  const fact = parseInput(factInputSchema, { ...base, object: '{"service":"lounge"}', ttl: '2h' }, 'invalid fact');
  expect(fact).toEqual({ ...base, namespace: 'default', object: { service: 'lounge' }, ttl: 7_200_000 });
});

test('valid_from after valid_to is refused, naming both instants', () => {
  const problems = problemsOf({ ...base, validFrom: '2026-01-02T00:00:00Z', validTo: '2026-01-01T00:00:00Z' });
  expect(problems).toEqual([
    '--valid-to: valid_from 2026-01-02T00:00:00.000Z is after valid_to 2026-01-01T00:00:00.000Z',
  ]);
});

test('an empty namespace is refused', () => {
  expect(problemsOf({ ...base, namespace: '  ' })).toEqual(['--namespace: must not be empty']);
});

test.each([
  ['{service', 'is not JSON'],
  ['[1,2]', 'got an array'],
  ['"lounge"', 'got a string'],
  ['null', 'got null'],
])('object %s is refused (%s)', (object, why) => {
  const [problem] = problemsOf({ ...base, object });
  expect(problem).toMatch(/^--object: /);
  expect(problem).toContain(why);
});

test('every problem is reported at once, and valid_to with ttl is ambiguous', () => {
  const problems = problemsOf({
    subject: '',
    predicate: 'p',
    validTo: '2026-01-01T00:00:00Z',
    ttl: '1h',
    validFrom: 'yesterday',
  });
  expect(problems.map((p) => p.split(':')[0])).toEqual(['--subject', '--valid-from', '--ttl']);
});

test('unknown fields are refused rather than ignored', () => {
  expect(problemsOf({ ...base, colour: 'red' })[0]).toContain('colour');
});

test('a cleanup request gets defaults and refuses a zero batch', () => {
  expect(factCleanupRequestSchema.parse({})).toEqual({
    namespace: null,
    dryRun: false,
    grace: DEFAULT_CLEANUP_GRACE_MS,
    batchSize: 5000,
    batchPauseMs: 0,
  });
  expect(factCleanupRequestSchema.safeParse({ batchSize: 0 }).success).toBe(false);
});
