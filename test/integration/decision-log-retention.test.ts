import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy, type ScheduleHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { createDecisionLogActivities, type DecisionLogRetentionResult } from '../../activities/decision-logs';
import { ensureDecisionLogRetentionSchedule } from '../../client/schedules';
import { loadConfig } from '../../policy/config';
import { connectTestEnvironment, createTestWorker } from '../support/temporal';

/**
 * Retention of pkg_decision_logs through the real schedule, workflow and activity: whole day
 * partitions older than the retention go, the ones that may still receive rows stay.
 */
let env: TestWorkflowEnvironment;
let pool: Pool;
beforeAll(async () => {
  env = await connectTestEnvironment();
  pool = new Pool({ connectionString: loadConfig().DATABASE_URL, max: 4 });
});
afterAll(async () => {
  await pool.end();
  await env?.teardown();
});

const RETENTION_DAYS = 7;

/** The partition of the UTC day `daysAgo` days before today (negative: after), created if missing. */
async function partition(daysAgo: number): Promise<string> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT pkg_decision_log_partition((now() AT TIME ZONE 'UTC')::date - $1::int) AS name`,
    [daysAgo],
  );
  return rows[0]!.name;
}

async function existing(names: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ relname: string }>(
    `SELECT relname FROM pg_class WHERE relname = ANY ($1) AND relkind = 'r' ORDER BY relname`,
    [names],
  );
  return rows.map((row) => row.relname);
}

/** One row in the day `daysAgo` days before today, at noon UTC. */
async function logRowOn(daysAgo: number): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO pkg_decision_logs (decision_id, "timestamp", env, target, region, snapshot_version, canary, mode, input, result, eval_ns)
     VALUES ($1, ((now() AT TIME ZONE 'UTC')::date - $2::int + time '12:00') AT TIME ZONE 'UTC',
             'dev', 'retention', 'test', 'v@1.0.0', false, 'control', '{}', NULL, 0)`,
    [id, daysAgo],
  );
  return id;
}

/**
 * Looked up within its lane: the view finds a decision id only by opening chunks, and the lane's
 * index keeps that to this test's few, whatever else the shared database has logged.
 */
async function rowExists(id: string): Promise<boolean> {
  const { rows } = await pool.query(
    `SELECT 1 FROM pkg_decision_logs
      WHERE env = 'dev' AND target = 'retention' AND region = 'test' AND decision_id = $1`,
    [id],
  );
  return rows.length === 1;
}

test('the schedule runs the retention: partitions whose day ended over the retention ago are dropped, no other', async () => {
  // Day 7 ago ended 6 days and some hours ago: within a 7-day retention, so it stays.
  const expired = [await partition(30), await partition(9), await partition(8)];
  const kept = [await partition(7), await partition(1), await partition(0), await partition(-1)];
  const keptRow = await logRowOn(7);
  const expiredRow = await logRowOn(8);
  // What a run that died between DETACH and DROP leaves behind: the next run must finish it.
  await pool.query(`ALTER TABLE pkg_decision_log_chunks DETACH PARTITION ${expired[1]}`);
  expect(await existing([...expired, ...kept])).toEqual([...expired, ...kept].sort());

  const retentionWorker = () =>
    createTestWorker(env, { activities: createDecisionLogActivities({ pool, retentionDays: RETENTION_DAYS }) });
  const worker = await retentionWorker();
  const schedule = {
    every: '1h',
    scheduleId: `test-decision-log-retention-${randomUUID()}`,
    taskQueue: worker.options.taskQueue,
  };
  expect((await ensureDecisionLogRetentionSchedule(env.client, schedule)).created).toBe(true);
  expect((await ensureDecisionLogRetentionSchedule(env.client, schedule)).created).toBe(false);
  const handle = env.client.schedule.getHandle(schedule.scheduleId);
  try {
    const described = await handle.describe();
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(described.action).toMatchObject({ workflowType: 'decisionLogRetention', args: [] });
    const result = await worker.runUntil(async () => {
      await handle.trigger();
      const workflowId = await firstActionWorkflowId(handle);
      return (await env.client.workflow.getHandle(workflowId).result()) as DecisionLogRetentionResult;
    });

    expect(result.retentionDays).toBe(RETENTION_DAYS);
    expect(result.dropped).toEqual(expect.arrayContaining(expired));
    expect(result.dropped.filter((name) => kept.includes(name))).toEqual([]);
    expect(await existing([...expired, ...kept])).toEqual([...kept].sort());
    expect(await rowExists(keptRow)).toBe(true);
    expect(await rowExists(expiredRow)).toBe(false);

    // Nothing left to do: a second run drops nothing of these and fails on nothing.
    const second = await retentionWorker();
    const again = await second.runUntil(
      env.client.workflow.execute('decisionLogRetention', {
        taskQueue: second.options.taskQueue,
        workflowId: `decision-log-retention-${randomUUID()}`,
      }),
    );
    expect(
      (again as DecisionLogRetentionResult).dropped.filter((name) => [...expired, ...kept].includes(name)),
    ).toEqual([]);
    expect(await existing(kept)).toEqual([...kept].sort());
  } finally {
    await handle.delete();
  }
});

async function firstActionWorkflowId(handle: ScheduleHandle): Promise<string> {
  for (;;) {
    const { info } = await handle.describe();
    const action = info.runningActions[0] ?? info.recentActions[0]?.action;
    if (action) return action.workflow.workflowId;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
