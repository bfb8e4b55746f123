import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ActivityFailure, ApplicationFailure, ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Pool } from 'pg';
import { createFactActivities } from '../../activities/facts';
import type { FactCleanupResult } from '../../activities/store/fact-cleanup';
import { ensureFactCleanupSchedule } from '../../client/schedules';
import { loadConfig } from '../../policy/config';
import { connectTestEnvironment, createTestWorker } from '../support/temporal';

let env: TestWorkflowEnvironment;
let pool: Pool;
const children: ChildProcess[] = [];
beforeAll(async () => {
  env = await connectTestEnvironment();
  pool = new Pool({ connectionString: loadConfig().DATABASE_URL, max: 6 });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await pool.end();
  await env?.teardown();
});

const unique = () => `facts-wf-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function seedExpired(namespace: string, count: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO pkg_facts (namespace, subject, predicate, valid_from, valid_to)
     SELECT $1, 'subject:' || i, 'expired', '2020-01-01', timestamptz '2020-01-02' + i * interval '1 second'
       FROM generate_series(1, $2) i RETURNING id`,
    [namespace, count],
  );
  return rows.map((row) => row.id).sort();
}

async function count(sql: string, namespace: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql, [namespace]);
  return Number(rows[0]?.n);
}
const archivedCount = (ns: string) => count('SELECT count(*) AS n FROM pkg_facts_archive WHERE namespace = $1', ns);
const expiredCount = (ns: string) =>
  count('SELECT count(*) AS n FROM pkg_facts WHERE namespace = $1 AND valid_to <= now()', ns);
const liveCount = (ns: string) => count('SELECT count(*) AS n FROM pkg_facts WHERE namespace = $1', ns);

async function archivedIds(namespace: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM pkg_facts_archive WHERE namespace = $1', [
    namespace,
  ]);
  return rows.map((row) => row.id).sort();
}

/** Inserts live facts one row at a time until stopped; cleanup must never make it fail or wait on a lock. */
function startWriter(namespace: string) {
  const state = { running: true, inserted: 0, errors: [] as unknown[] };
  const done = (async () => {
    while (state.running) {
      await pool
        .query(
          `INSERT INTO pkg_facts (namespace, subject, predicate, valid_to) VALUES ($1, 'writer', 'live', now() + interval '1 hour')`,
          [namespace],
        )
        .then(
          () => (state.inserted += 1),
          (error: unknown) => state.errors.push(error),
        );
    }
  })();
  return { state, stop: async () => ((state.running = false), await done) };
}

test('the schedule is created (twice without error), triggered, and its run archives exactly the expired rows', async () => {
  const namespace = unique();
  const expired = await seedExpired(namespace, 400);
  await pool.query(
    `INSERT INTO pkg_facts (namespace, subject, predicate) SELECT $1, 's' || i, 'live' FROM generate_series(1, 20) i`,
    [namespace],
  );
  const expiredBefore = await expiredCount(namespace);
  const worker = await createTestWorker(env, { activities: createFactActivities({ pool }) });
  const schedule = {
    every: '1h',
    scheduleId: `test-fact-cleanup-${randomUUID()}`,
    taskQueue: worker.options.taskQueue,
    request: { namespace, grace: '0s', batchSize: 40, batchPauseMs: 10 },
  };
  expect((await ensureFactCleanupSchedule(env.client, schedule)).created).toBe(true);
  expect((await ensureFactCleanupSchedule(env.client, schedule)).created).toBe(false);
  const handle = env.client.schedule.getHandle(schedule.scheduleId);
  try {
    const described = await handle.describe();
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(described.spec.intervals?.[0]?.every).toBe(3_600_000);

    const writer = startWriter(namespace);
    const result = await worker.runUntil(async () => {
      await handle.trigger();
      return (await env.client.workflow.getHandle(await firstActionWorkflowId(handle)).result()) as FactCleanupResult;
    });
    await writer.stop();

    expect(writer.state.errors).toEqual([]);
    expect(writer.state.inserted).toBeGreaterThan(0);
    expect(result.namespaces).toEqual([{ namespace, expired: 400, archived: 400 }]);
    expect(await archivedIds(namespace)).toEqual(expired);
    expect(expiredBefore).toBe((await archivedCount(namespace)) + (await expiredCount(namespace)));
    expect(await liveCount(namespace)).toBe(20 + writer.state.inserted);
  } finally {
    await handle.delete();
  }
});

test("re-running the schedule command updates the interval and keeps an operator's pause", async () => {
  const schedule = { every: '1h', scheduleId: `test-fact-cleanup-${randomUUID()}`, taskQueue: `test-${randomUUID()}` };
  await ensureFactCleanupSchedule(env.client, schedule);
  const handle = env.client.schedule.getHandle(schedule.scheduleId);
  try {
    await handle.pause('maintenance');
    expect(
      await ensureFactCleanupSchedule(env.client, { ...schedule, every: '30m', request: { namespace: 'n1' } }),
    ).toMatchObject({ created: false });
    const described = await handle.describe();
    expect(described.state.paused).toBe(true);
    expect(described.spec.intervals?.[0]?.every).toBe(1_800_000);
    expect(described.action.args).toEqual([{ namespace: 'n1' }]);
    expect(described.policies).toMatchObject({ overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 1_800_000 });
  } finally {
    await handle.delete();
  }
});

test('a bad cleanup request fails at once with type InputInvalid, not retried', async () => {
  const worker = await createTestWorker(env, { activities: createFactActivities({ pool }) });
  const failure = await worker.runUntil(
    env.client.workflow
      .execute('factCleanup', {
        taskQueue: worker.options.taskQueue,
        workflowId: `fact-cleanup-${randomUUID()}`,
        args: [{ batchSize: 0 }],
      })
      .catch((error: unknown) => error),
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const activityFailure = (failure as WorkflowFailedError).cause as ActivityFailure;
  expect(activityFailure).toBeInstanceOf(ActivityFailure);
  expect(activityFailure.cause).toMatchObject({ type: 'InputInvalid', nonRetryable: true });
  expect((activityFailure.cause as ApplicationFailure).message).toContain('batchSize');
});

async function firstActionWorkflowId(handle: ReturnType<TestWorkflowEnvironment['client']['schedule']['getHandle']>) {
  for (;;) {
    const { info } = await handle.describe();
    const action = info.runningActions[0] ?? info.recentActions[0]?.action;
    if (action) return action.workflow.workflowId;
    await sleep(100);
  }
}

/** A worker for the fact activities in its own process; resolves once it polls. */
async function startWorkerProcess(taskQueue: string): Promise<ChildProcess> {
  // node itself with the tsx loader (not the tsx launcher), so SIGKILL hits the worker, not a wrapper.
  const script = path.join(__dirname, 'facts-worker-process.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, taskQueue], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`worker process exited with ${code}`)));
  });
  return child;
}

test('a cleanup whose worker is killed mid-run is retried elsewhere: no row lost, none archived twice, counts exact', async () => {
  const namespace = unique();
  const total = 2000;
  const expired = await seedExpired(namespace, total);
  const taskQueue = `test-${randomUUID()}`;
  const doomedWorker = await startWorkerProcess(taskQueue);
  const workflowWorker = await createTestWorker(env, { taskQueue });
  const workflows = workflowWorker.run();
  const handle = await env.client.workflow.start('factCleanup', {
    taskQueue,
    workflowId: `fact-cleanup-${randomUUID()}`,
    args: [{ namespace, grace: '0s', batchSize: 20, batchPauseMs: 25 }, { heartbeatTimeout: '2s' }],
  });

  while ((await archivedCount(namespace)) < 200) await sleep(20);
  doomedWorker.kill('SIGKILL');
  expect(await archivedCount(namespace)).toBeLessThan(total);

  // Activities only: this process already runs the workflow worker for the queue.
  const rescuer = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities: createFactActivities({ pool }),
  });
  const result = (await rescuer.runUntil(handle.result())) as FactCleanupResult;
  workflowWorker.shutdown();
  await workflows;

  expect(await archivedIds(namespace)).toEqual(expired);
  expect(await liveCount(namespace)).toBe(0);
  expect(result.namespaces).toEqual([{ namespace, expired: total, archived: total }]);
  const attempts: number[] = [];
  const history = await handle.fetchHistory();
  for (const event of history.events ?? []) {
    if (event.activityTaskStartedEventAttributes) attempts.push(event.activityTaskStartedEventAttributes.attempt ?? 0);
  }
  expect(Math.max(...attempts)).toBeGreaterThan(1);
});
