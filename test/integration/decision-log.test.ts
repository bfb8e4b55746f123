import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { laneName, type Lane } from '../../policy/lane';
import {
  evaluate,
  randomLane,
  readyz,
  setLane,
  sleep,
  startEvaluator,
  storeExample,
  useEvaluatorServices,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';

/**
 * Decision logs from real evaluator processes into the real pkg_decision_logs: what is stored
 * (masked, with the facts the decision saw), what is sampled, and what happens when the buffer
 * overflows.
 */
const services = useEvaluatorServices();

interface LoggedRow {
  decision_id: string;
  snapshot_version: string;
  canary: boolean;
  mode: string;
  input: { context?: Record<string, unknown>; facts?: unknown[]; tags?: string[] };
  result: Record<string, unknown> | null;
  error: string | null;
  eval_ns: string;
}

async function loggedRows(lane: Lane): Promise<LoggedRow[]> {
  const { rows } = await services.pool.query<LoggedRow>(
    `SELECT decision_id, snapshot_version, canary, mode, input, result, error, eval_ns
       FROM pkg_decision_logs WHERE env = $1 AND target = $2 AND region = $3 ORDER BY "timestamp"`,
    [lane.env, lane.target, lane.region],
  );
  return rows;
}

async function rawTextCount(lane: Lane, text: string): Promise<number> {
  const { rows } = await services.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pkg_decision_logs l
      WHERE env = $1 AND target = $2 AND region = $3 AND strpos(l::text, $4) > 0`,
    [lane.env, lane.target, lane.region, text],
  );
  return Number(rows[0]!.n);
}

const waitForRows = (lane: Lane, count: number) =>
  waitFor(
    async () => {
      const rows = await loggedRows(lane);
      return rows.length >= count ? rows : null;
    },
    20_000,
    `${count} decision log rows for ${laneName(lane)}`,
  );

async function servingLane(): Promise<{ lane: Lane; version: string }> {
  const lane = randomLane();
  const snapshot = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: snapshot.snapshotId });
  return { lane, version: snapshot.version };
}

async function start(lane: Lane, env: Record<string, string>): Promise<RunningEvaluator> {
  const evaluator = await startEvaluator(lane, env);
  services.running.push(evaluator);
  await waitFor(async () => ((await readyz(evaluator)).status === 200 ? true : null), 20_000, 'evaluator ready');
  return evaluator;
}

const lounge = (subject: string, extra: Record<string, unknown> = {}) => ({
  input: {
    context: { request: 'lounge_entry', channel: 'front_desk', subject, ...extra },
    facts: [{ predicate: 'hasTemporaryAccess', object: { service: 'lounge' } }],
  },
});

const metaOf = (body: Record<string, unknown>) => body.meta as { decision_id?: string };

async function decisionLogStatus(evaluator: RunningEvaluator) {
  return (await readyz(evaluator)).body.decision_log as {
    enabled: boolean;
    buffered: number;
    written: number;
    dropped: { buffer_full: number; write_failed: number };
  };
}

/**
 * The status once `count` decisions are reported written: the writer thread reports a batch after
 * its rows are in, so a reader that already sees the rows may still be a moment ahead of the count.
 */
const statusOnceWritten = (evaluator: RunningEvaluator, count: number) =>
  waitFor(
    async () => {
      const status = await decisionLogStatus(evaluator);
      return status.written >= count ? status : null;
    },
    10_000,
    `${count} decisions reported written`,
  );

test('every decision is logged at rate 1, masked before it is stored, with the facts it saw and its id in the answer', async () => {
  const { lane, version } = await servingLane();
  const evaluator = await start(lane, {
    DECISION_LOG_SAMPLE: '1',
    DECISION_LOG_MASK_DROP: 'context.card',
    DECISION_LOG_FLUSH_MS: '100',
  });
  const sent = `guest:sent-${randomUUID()}`;
  const stored = `guest:stored-${randomUUID()}`;
  const card = `4111-${randomUUID()}`;
  // Bodies go to Postgres as UTF-8 bytes: quotes, backslashes, newlines and non-ASCII must arrive as sent.
  const note = 'Zoë said "🛎 at 7\\8"\nthen left';
  await services.pool.query(
    `INSERT INTO pkg_facts (namespace, subject, predicate, object, valid_to)
     VALUES ('decision-log-test', $1, 'hasTemporaryAccess', '{"service":"lounge"}', now() + interval '1 hour')`,
    [stored],
  );

  const replies = [];
  for (let i = 0; i < 10; i++) replies.push(await evaluate(evaluator, lounge(sent, { card, note })));
  // No facts sent: the decision reads them from pkg_facts, and the log must hold what it read.
  replies.push(await evaluate(evaluator, { input: { context: { request: 'lounge_entry', subject: stored } } }));
  expect(replies.map((reply) => reply.status)).toEqual(Array(11).fill(200));
  const ids = replies.map((reply) => metaOf(reply.body).decision_id);
  expect(ids.every((id) => typeof id === 'string')).toBe(true);

  const logged = await waitForRows(lane, 11);
  // Sequential requests may share a millisecond: match rows to answers by id, not by time.
  expect(logged.map((row) => row.decision_id).sort()).toEqual([...ids].sort());
  const rows = ids.map((id) => logged.find((row) => row.decision_id === id)!);
  for (const text of [sent, stored, card]) expect(await rawTextCount(lane, text)).toBe(0);
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  expect(rows[0]).toMatchObject({
    snapshot_version: version,
    canary: false,
    mode: 'control',
    error: null,
    input: {
      context: { request: 'lounge_entry', channel: 'front_desk', subject: sha256(sent), note },
      facts: [{ predicate: 'hasTemporaryAccess', object: { service: 'lounge' } }],
    },
  });
  expect(rows[0]!.input.context).not.toHaveProperty('card');
  const { subtasks, dag, rules } = replies[0]!.body;
  expect(rows[0]!.result).toEqual({ ok: true, subtasks, dag, rules });
  expect(rows[10]!.input).toEqual({
    context: { request: 'lounge_entry', subject: sha256(stored) },
    facts: [{ predicate: 'hasTemporaryAccess', object: { service: 'lounge' } }],
  });
  expect((replies[10]!.body.subtasks as { name: string }[]).map((s) => s.name)).toContain('grant_lounge_access');
  expect(rows.every((row) => Number(row.eval_ns) > 0)).toBe(true);
  expect(await statusOnceWritten(evaluator, 11)).toMatchObject({
    enabled: true,
    written: 11,
    dropped: { buffer_full: 0, write_failed: 0 },
  });
  // The writer thread yields to the requests' thread: it alone runs at a lower priority.
  const pid = evaluator.process.pid!;
  const nices = await threadNices(pid);
  expect(nices.get(pid)).toBe(0);
  expect([...nices.values()].filter((nice) => nice !== 0)).toEqual([10]);
});

/** Each thread's nice value (field 19 of /proc/PID/task/TID/stat), by thread id. */
async function threadNices(pid: number): Promise<Map<number, number>> {
  const nices = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    nices.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return nices;
}

test('sampling per lane: the lane named at 1 is logged whole, the default 0 logs nothing, and no rate logs nothing', async () => {
  const logged = await servingLane();
  const other = await servingLane();
  const evaluator = await start(logged.lane, {
    DECISION_LOG_SAMPLE: `0,${laneName(logged.lane)}=1`,
    DECISION_LOG_FLUSH_MS: '100',
  });
  const onLane = (lane: Lane) => ({ ...lounge(`guest:${randomUUID()}`), ...lane });
  const replies = [];
  for (let i = 0; i < 20; i++) replies.push(await evaluate(evaluator, onLane(i % 2 === 0 ? logged.lane : other.lane)));
  expect(replies.map((reply) => reply.status)).toEqual(Array(20).fill(200));
  expect(replies.map((reply) => typeof metaOf(reply.body).decision_id)).toEqual(
    Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'string' : 'undefined')),
  );
  // Both lanes' entries would share the batches: once the logged lane's are in, the other's would be.
  expect(await waitForRows(logged.lane, 10)).toHaveLength(10);
  expect(await loggedRows(other.lane)).toEqual([]);
  expect(await statusOnceWritten(evaluator, 10)).toMatchObject({ written: 10 });

  const silent = await start(other.lane, { DECISION_LOG_FLUSH_MS: '100' });
  for (let i = 0; i < 10; i++) {
    const reply = await evaluate(silent, onLane(other.lane));
    expect(reply.status).toBe(200);
    expect(metaOf(reply.body)).not.toHaveProperty('decision_id');
  }
  expect((await decisionLogStatus(silent)).enabled).toBe(false);
  await silent.stop();
  expect(await loggedRows(other.lane)).toEqual([]);
});

test('an overflowing buffer drops and counts, in /readyz and /metrics, while every request still answers 200', async () => {
  const { lane } = await servingLane();
  // No flush before shutdown: the buffer can only fill.
  const evaluator = await start(lane, {
    DECISION_LOG_SAMPLE: '1',
    DECISION_LOG_BUFFER: '10',
    DECISION_LOG_FLUSH_MS: '600000',
  });
  const replies = [];
  for (let i = 0; i < 30; i++) replies.push(await evaluate(evaluator, lounge(`guest:${randomUUID()}`)));
  expect(replies.map((reply) => [reply.status, reply.body.ok])).toEqual(Array(30).fill([200, true]));
  const ids = replies.map((reply) => metaOf(reply.body).decision_id).filter((id) => id !== undefined);
  expect(ids).toHaveLength(10);
  expect(await decisionLogStatus(evaluator)).toMatchObject({
    buffered: 10,
    written: 0,
    dropped: { buffer_full: 20, write_failed: 0 },
  });
  const metrics = await fetch(`${evaluator.url}/metrics`).then((response) => response.text());
  expect(metrics).toMatch(/^pkg_decision_log_dropped_total\{reason="buffer_full"\} 20$/m);
  expect(metrics).toMatch(/^pkg_decision_log_dropped_total\{reason="write_failed"\} 0$/m);

  await sleep(300);
  expect(await loggedRows(lane)).toEqual([]);
  // A clean shutdown writes what the buffer kept: exactly the answers that carried an id.
  await evaluator.stop();
  expect((await loggedRows(lane)).map((row) => row.decision_id).sort()).toEqual([...ids].sort());
});
