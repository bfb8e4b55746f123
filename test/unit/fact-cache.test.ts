import { createFactCache, entryTtl, type CachedFact } from '../../policy/facts/cache';

const fact = (predicate: string, validTo: Date | null = null): CachedFact => ({ predicate, object: {}, validTo });

function setup(ttlMs: number, facts: () => CachedFact[]) {
  let clock = 1_000_000;
  const loads: string[] = [];
  const cache = createFactCache({
    ttlMs,
    maxSubjects: 2,
    now: () => clock,
    load: async (subject) => {
      loads.push(subject);
      return facts();
    },
  });
  return { cache, loads, advance: (ms: number) => (clock += ms), now: () => clock };
}

test('a subject is loaded once within the staleness bound and again after it', async () => {
  const { cache, loads, advance } = setup(5000, () => [fact('hasTemporaryAccess')]);
  await cache.factsFor('guest:Ben');
  advance(4999);
  await cache.factsFor('guest:Ben');
  expect(loads).toEqual(['guest:Ben']);
  advance(2);
  await cache.factsFor('guest:Ben');
  expect(loads).toEqual(['guest:Ben', 'guest:Ben']);
});

test('the cache holds at most maxSubjects subjects', async () => {
  const { cache } = setup(5000, () => []);
  for (const subject of ['a', 'b', 'c']) await cache.factsFor(subject);
  expect(cache.size()).toBe(2);
});

test('ttl 0 turns caching off', async () => {
  const { cache, loads } = setup(0, () => []);
  await cache.factsFor('a');
  await cache.factsFor('a');
  expect(loads).toEqual(['a', 'a']);
});

test('an entry never outlives the first expiry among its facts', () => {
  const now = 1_000_000;
  expect(entryTtl([fact('p', new Date(now + 1200)), fact('q')], 5000, now)).toBe(1200);
  expect(entryTtl([fact('p', new Date(now - 10))], 5000, now)).toBe(1);
  expect(entryTtl([fact('q')], 5000, now)).toBe(5000);
});

test('a failed load is not cached', async () => {
  let fail = true;
  const { cache, loads } = setup(5000, () => {
    if (fail) throw new Error('postgres down');
    return [fact('p')];
  });
  await expect(cache.factsFor('a')).rejects.toThrow('postgres down');
  fail = false;
  await expect(cache.factsFor('a')).resolves.toEqual([fact('p')]);
  expect(loads).toEqual(['a', 'a']);
});
