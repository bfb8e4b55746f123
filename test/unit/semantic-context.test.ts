import { createSemanticHydrator, embeddingHash, type MemorySearch } from '../../policy/cortex/hydration';
import { semanticContextOf, type SemanticMatch } from '../../policy/cortex/semantic-context';
import { parseEvaluationRequest } from '../../policy/engine/evaluation-request';
import { toEngineInput } from '../../policy/engine/engine-input';

const embedding = Array.from({ length: 1024 }, (_, i) => Math.sin(i + 1));
const noise: SemanticMatch = { id: 'm1', tier: 'event_working', label: 'noise', similarity: 0.93 };
const fault: SemanticMatch = { id: 'm2', tier: 'world_memory', label: 'fault', similarity: 0.88 };

test('the semantic context: matches in order, the nearest as top, the best similarity per label', () => {
  const again = { ...noise, id: 'm3', similarity: 0.81 };
  expect(semanticContextOf([noise, fault, again])).toEqual({
    matches: [noise, fault, again],
    top: noise,
    count: 3,
    labels: { noise: 0.93, fault: 0.88 },
  });
  expect(semanticContextOf([])).toEqual({ matches: [], count: 0, labels: {} });
});

test("engines see labels as semantic_context.<label> signals, and never a caller's signal under that prefix", () => {
  const input = {
    signals: { complaint_score: 0.6, 'semantic_context.noise': 0.99, 'semantic_context.fake': 1 },
    semantic_context: { labels: { noise: 0.5 } },
  };
  expect(toEngineInput(input, []).signals).toEqual({ complaint_score: 0.6, 'semantic_context.noise': 0.5 });
  expect(toEngineInput({ signals: { 'semantic_context.noise': 1, x: 1 } }, []).signals).toEqual({ x: 1 });
  const plain = { signals: { x: 1 } };
  expect(toEngineInput(plain, []).signals).toBe(plain.signals);
});

describe('evaluation requests with an embedding', () => {
  it('ADVISORY takes a 1024-number embedding and a pinned semantic context', () => {
    const parsed = parseEvaluationRequest({ mode: 'advisory', input: { semantic_context: { count: 0 } }, embedding });
    expect(parsed).toMatchObject({ ok: true, value: { embedding, input: { semantic_context: { count: 0 } } } });
  });

  it.each([
    [{ mode: 'advisory', input: {}, embedding: [1, 2] }, 'embedding: must have 1024 dimensions, got 2'],
    [{ mode: 'advisory', input: {}, embedding: embedding.map(() => 0) }, 'embedding: must not be all zeros'],
    [{ input: {}, embedding }, 'embedding: CONTROL is closed-world and never hydrates'],
    [{ input: { semantic_context: {} } }, 'input.semantic_context: CONTROL is closed-world'],
  ])('refuses %# with the reason', (body, reason) => {
    const parsed = parseEvaluationRequest(body);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });
});

describe('the hydrator', () => {
  const hydratorWith = (search: (s: MemorySearch) => Promise<SemanticMatch[]>, budgetMs = 50) =>
    createSemanticHydrator({ search, budgetMs, topK: 5, minSimilarity: 0.8, cacheTtlMs: 60_000, cacheMax: 10 });

  it('searches the snapshot with its settings, then answers the same embedding from the cache', async () => {
    const searches: MemorySearch[] = [];
    const hydrator = hydratorWith(async (search) => (searches.push(search), [noise]));
    const first = await hydrator.hydrate('s1', embedding);
    expect(first).toMatchObject({ context: { top: noise, count: 1 }, meta: { status: 'hydrated', matches: 1 } });
    expect(searches).toEqual([{ embedding, snapshotId: 's1', minSimilarity: 0.8, limit: 5 }]);
    expect(await hydrator.hydrate('s1', [...embedding])).toMatchObject({ meta: { status: 'cached', matches: 1 } });
    await hydrator.hydrate('s2', embedding);
    expect(searches).toHaveLength(2);
  });

  it('skips with the reason when memory is late, and a late answer fills the cache', async () => {
    let answer: (matches: SemanticMatch[]) => void = () => undefined;
    const hydrator = hydratorWith(() => new Promise((resolve) => (answer = resolve)), 20);
    const late = await hydrator.hydrate('s1', embedding);
    expect(late).toEqual({
      meta: { status: 'skipped', reason: 'timeout: memory did not answer within 20 ms', ms: expect.any(Number) },
    });
    answer([fault]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await hydrator.hydrate('s1', embedding)).toMatchObject({
      context: { top: fault },
      meta: { status: 'cached' },
    });
  });

  it('skips with the reason when memory fails', async () => {
    const hydrator = hydratorWith(() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5\nmore')));
    expect(await hydrator.hydrate('s1', embedding)).toEqual({
      meta: {
        status: 'skipped',
        reason: 'memory unavailable: connect ECONNREFUSED 127.0.0.1:5',
        ms: expect.any(Number),
      },
    });
  });

  it('keys the cache by the exact vector', () => {
    expect(embeddingHash(embedding)).toBe(embeddingHash([...embedding]));
    expect(embeddingHash(embedding)).not.toBe(embeddingHash([...embedding.slice(0, -1), 0.5]));
  });
});
