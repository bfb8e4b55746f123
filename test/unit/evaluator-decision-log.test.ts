import { createDecisionLog, DECISION_LOG_BATCH, type DecisionDraft } from '../../worker/evaluator/decision-log';
import { createEvaluatorProm } from '../../worker/evaluator/prom';
import { createMaskHasher } from '../../policy/decision-log/masking';
import type { Queryable } from '../../activities/store/transaction';

/** The evaluator's decision log against a database stand-in that records statements and can refuse them. */
function setup(options: { failInserts?: boolean; capacity?: number; rate?: number } = {}) {
  const statements: { text: string; values: unknown[] }[] = [];
  const db = {
    query: async (text: string, values: unknown[] = []) => {
      statements.push({ text, values });
      if (options.failInserts && text.includes('INSERT')) throw new Error('connection refused');
      return { rows: [] };
    },
  } as unknown as Queryable;
  let clock = Date.UTC(2026, 11, 7, 23, 59, 0);
  const prom = createEvaluatorProm();
  const log = createDecisionLog({
    db,
    sampling: { defaultRate: options.rate ?? 1, lanes: new Map() },
    mask: { hash: [['context', 'subject']], drop: [] },
    hash: createMaskHasher(),
    capacity: options.capacity ?? 10_000,
    flushMs: 60_000,
    prom,
    random: () => 0.5,
    now: () => clock,
  });
  const partitionDays = () =>
    statements.filter((s) => s.text.includes('pkg_decision_log_partition')).map((s) => s.values[0]);
  const inserted = () =>
    statements
      .filter((s) => s.text.includes('INSERT'))
      .flatMap((s) => JSON.parse(s.values[0] as string) as { decision_id: string; input: unknown }[]);
  return { log, prom, partitionDays, inserted, advance: (ms: number) => (clock += ms) };
}

const draft: DecisionDraft = {
  lane: { env: 'dev', target: 'default', region: 'default' },
  snapshotVersion: 'v1',
  canary: false,
  mode: 'control',
  input: { context: { subject: 'guest:Ben' } },
  facts: [],
  result: '{"ok":true,"subtasks":[],"dag":[],"rules":[]}',
  error: null,
  evalNs: 1000,
};

test("a day's partitions are ensured once per process, and a new day ensures again", async () => {
  const { log, partitionDays, inserted, advance } = setup();
  const ids = [log.record(draft), log.record(draft)];
  await log.flush();
  log.record(draft);
  await log.flush();
  expect(partitionDays()).toEqual(['2026-12-07', '2026-12-08']);
  advance(120_000);
  ids.push(log.record(draft));
  await log.flush();
  expect(partitionDays()).toEqual(['2026-12-07', '2026-12-08', '2026-12-09']);
  expect(inserted()).toHaveLength(4);
  expect(inserted()[3]!.decision_id).toBe(ids[2]);
  expect(JSON.stringify(inserted())).not.toContain('guest:Ben');
});

test('a full batch is written without waiting for the timer, in batches of the batch size', async () => {
  const { log, inserted } = setup();
  for (let i = 0; i < DECISION_LOG_BATCH + 1; i++) log.record(draft);
  await new Promise((resolve) => setImmediate(resolve));
  await log.flush();
  expect(inserted()).toHaveLength(DECISION_LOG_BATCH + 1);
  expect(log.status()).toMatchObject({ buffered: 0, written: DECISION_LOG_BATCH + 1 });
});

test('a failed write drops its batch and counts it; the buffer does not keep it', async () => {
  const { log, prom } = setup({ failInserts: true });
  for (let i = 0; i < 3; i++) log.record(draft);
  await log.flush();
  expect(log.status()).toMatchObject({
    buffered: 0,
    written: 0,
    dropped: { buffer_full: 0, write_failed: 3 },
    last_write_error: 'connection refused',
  });
  expect((await prom.decisionLogDropped.get()).values).toContainEqual(
    expect.objectContaining({ labels: { reason: 'write_failed' }, value: 3 }),
  );
});

test('stop writes what is buffered; an unsampled decision has no id and is never buffered', async () => {
  const { log, inserted } = setup({ rate: 0.25 });
  expect(log.record(draft)).toBeNull();
  expect(log.status().buffered).toBe(0);
  const sampled = setup();
  sampled.log.record(draft);
  await sampled.log.stop();
  expect(sampled.inserted()).toHaveLength(1);
  expect(inserted()).toEqual([]);
});
