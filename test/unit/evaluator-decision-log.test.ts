import { Worker } from 'node:worker_threads';
import {
  createDecisionLog,
  DECISION_LOG_BATCH,
  WRITER_THREAD_BOOTSTRAP,
  type DecisionDraft,
  type StartWriter,
} from '../../worker/evaluator/decision-log';
import { createDecisionLogWriter } from '../../worker/evaluator/decision-log-writer';
import { createEvaluatorProm } from '../../worker/evaluator/prom';
import { createMaskHasher } from '../../policy/decision-log/masking';
import type { Queryable } from '../../activities/store/transaction';

/**
 * The evaluator's decision log with its writer run in-process (the same commands and reports the
 * thread exchanges, delivered a turn later as messages are), against a database stand-in that
 * records statements and can refuse them.
 */
function setup(options: { failInserts?: boolean; capacity?: number; rate?: number; writerDies?: boolean } = {}) {
  const statements: { text: string; values: unknown[] }[] = [];
  const db = {
    query: async (text: string, values: unknown[] = []) => {
      statements.push({ text, values });
      if (options.failInserts && text.includes('INSERT')) throw new Error('connection refused');
      return { rows: [] };
    },
  } as unknown as Queryable;
  let started = 0;
  const startWriter: StartWriter = (report, exited) => {
    started += 1;
    const later = (then: () => void) => setImmediate(then);
    const writer = createDecisionLogWriter({
      db,
      mask: { hash: [['context', 'subject']], drop: [] },
      hash: createMaskHasher(),
      batch: DECISION_LOG_BATCH,
      report: (message) => later(() => report(message)),
    });
    const dies = options.writerDies && started === 1;
    return {
      post: (command) => {
        if (dies) return later(exited);
        void writer.handle(command).then(() => command.kind === 'stop' && later(exited));
      },
      terminate: () => later(exited),
    };
  };
  let clock = Date.UTC(2026, 11, 7, 23, 59, 0);
  const prom = createEvaluatorProm();
  const log = createDecisionLog({
    sampling: { defaultRate: options.rate ?? 1, lanes: new Map() },
    capacity: options.capacity ?? 10_000,
    flushMs: 60_000,
    prom,
    random: () => 0.5,
    now: () => clock,
    startWriter,
  });
  const partitionDays = () =>
    statements.filter((s) => s.text.includes('pkg_decision_log_partition')).map((s) => s.values[0]);
  const inserts = () => statements.filter((s) => s.text.includes('INSERT'));
  const inserted = () =>
    inserts().flatMap((s) =>
      chunkValues(s.values).flatMap(({ body }) =>
        body.split('\n').map((line) => JSON.parse(line) as { decision_id: string; input: { facts?: unknown } }),
      ),
    );
  return { log, prom, partitionDays, inserts, inserted, advance: (ms: number) => (clock += ms) };
}

/** The parameters of one insert, seven a chunk: env, target, region, first, last, count, body. */
function chunkValues(values: unknown[]) {
  const chunks: { count: number; body: string }[] = [];
  for (let i = 0; i < values.length; i += 7)
    chunks.push({ count: values[i + 5] as number, body: (values[i + 6] as Buffer).toString('utf8') });
  return chunks;
}

const draft: DecisionDraft = {
  lane: { env: 'dev', target: 'default', region: 'default' },
  snapshotVersion: 'v1',
  canary: false,
  mode: 'control',
  requestJson: '{"input":{"context":{"subject":"guest:Ben"}},"mode":"control"}',
  factsJson: null,
  result: '{"ok":true,"subtasks":[],"dag":[],"rules":[]}',
  error: null,
  evalNs: 1000,
};

test("a day's partitions are ensured once per writer, and a new day ensures again", async () => {
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

test('a full batch is written without waiting for the timer, in chunks of the batch size', async () => {
  const { log, inserts, inserted } = setup();
  for (let i = 0; i < DECISION_LOG_BATCH + 1; i++) log.record(draft);
  await new Promise((resolve) => setImmediate(resolve));
  await log.flush();
  expect(inserted()).toHaveLength(DECISION_LOG_BATCH + 1);
  expect(inserts().map((s) => chunkValues(s.values).map((chunk) => chunk.count))).toEqual([[DECISION_LOG_BATCH, 1]]);
  expect(log.status()).toMatchObject({ buffered: 0, written: DECISION_LOG_BATCH + 1 });
});

test('facts read from pkg_facts go into the logged input; the request body is parsed as the mode says', async () => {
  const { log, inserted } = setup();
  log.record({ ...draft, requestJson: '{"input":{"tags":["vip"],"extra":1}}' });
  await log.flush();
  expect(log.status()).toMatchObject({
    written: 0,
    dropped: { write_failed: 1 },
    last_write_error: expect.stringContaining('unknown field(s) extra'),
  });
  log.record({ ...draft, factsJson: JSON.stringify([{ predicate: 'member', object: { tier: 'gold' } }]) });
  await log.flush();
  expect(inserted()).toHaveLength(1);
  expect(inserted()[0]!.input.facts).toEqual([{ predicate: 'member', object: { tier: 'gold' } }]);
  expect(log.status()).toMatchObject({ written: 1, last_write_error: null });
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

test('a full buffer drops and counts without waiting; room returns once the writer reports', async () => {
  const { log } = setup({ capacity: 2 });
  expect([log.record(draft), log.record(draft), log.record(draft)].map((id) => id !== null)).toEqual([
    true,
    true,
    false,
  ]);
  expect(log.status()).toMatchObject({ buffered: 2, dropped: { buffer_full: 1 } });
  await log.flush();
  expect(log.status()).toMatchObject({ buffered: 0, written: 2 });
  expect(log.record(draft)).not.toBeNull();
});

test('a writer that dies has its decisions counted as lost, and the next decision starts a new one', async () => {
  const { log, inserted } = setup({ writerDies: true });
  log.record(draft);
  log.record(draft);
  await log.flush();
  expect(log.status()).toMatchObject({
    buffered: 0,
    dropped: { write_failed: 2 },
    last_write_error: 'the decision log writer thread ended',
  });
  log.record(draft);
  await log.flush();
  expect(inserted()).toHaveLength(1);
  expect(log.status()).toMatchObject({ written: 1 });
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

/**
 * The real thread, started as the evaluator starts it, reporting the modules it loaded. Its heap
 * is marked again and again while logging: Temporal's client and what it brings (about 260 modules, 14 MB of heap)
 * came with the connections module until it was loaded on first use, and must not come back.
 */
test('the writer thread loads what writing needs and none of Temporal', async () => {
  const report = `require('node:worker_threads').parentPort.postMessage(Object.keys(require.cache));`;
  const thread = new Worker(`${WRITER_THREAD_BOOTSTRAP} ${report}`, {
    eval: true,
    workerData: { flushMs: 60_000, batch: DECISION_LOG_BATCH },
  });
  try {
    const modules = await new Promise<string[]>((resolve, reject) => {
      thread.once('message', resolve);
      thread.once('error', reject);
    });
    expect(modules.some((file) => file.endsWith('decision-log-writer.ts'))).toBe(true);
    expect(modules.some((file) => file.includes('/node_modules/pg/'))).toBe(true);
    expect(modules.filter((file) => file.includes('/node_modules/@temporalio/'))).toEqual([]);
  } finally {
    await thread.terminate();
  }
});
