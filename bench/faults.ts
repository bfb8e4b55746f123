import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { postEvaluation } from '../client/traffic';
import { laneName, type Lane } from '../policy/lane';
import { freePort, sleep } from '../test/integration/evaluator-harness';
import { createEmptyLane, writeBundle } from '../test/integration/promotion-harness';
import { crashes, migrate, nodePart, pkgctl, postgresPart, redisPart, temporalPart, type Part } from './fault-stack';
import { quantile } from './statistics';

/**
 * `npm run bench -- faults [--duration 240] [--lanes 2] [--promotions 10] [--seed N]`
 *
 * The system under load with faults arriving at random. On an installation of its own (see
 * fault-stack.ts): two evaluators per lane take steady traffic through a client that
 * fails over to the other evaluator on a connection error, as a load balancer does, while
 * `pkgctl promote` (retried until the pipeline takes it, as CI retries) runs rollouts on every lane
 * one after another. Meanwhile a driver kills, at random moments and one at a time: the pipeline
 * worker, an evaluator (SIGKILL, restarted after a pause as a supervisor would), Redis, PostgreSQL
 * (an immediate stop: crash recovery at the next start) and the Temporal dev server (restarted on
 * its SQLite file). It reports requests sent, failed, and answered by a version the lane should
 * not serve; rollouts started, ended correctly and stuck; duplicate audit, outbox and decision
 * rows; and per fault kind, how long until everything answered healthy again.
 */
const KINDS = ['pipeline worker', 'evaluator', 'redis', 'postgres', 'temporal'] as const;
type Kind = (typeof KINDS)[number];
/** How long each kind of part stays down, ms: [min, max]. */
const DOWN: Record<Kind, [number, number]> = {
  'pipeline worker': [1000, 4000],
  evaluator: [1000, 4000],
  redis: [3000, 8000],
  postgres: [2000, 6000],
  temporal: [2000, 6000],
};
const RECONCILE_MS = 2000;
/** How long after a lane change an evaluator may still answer with what it served before (a missed hint waits for reconcile). */
const GRACE_MS = 2 * RECONCILE_MS + 1000;
const DRAIN_MS = 240_000;
const HEALTHY_WITHIN_MS = 120_000;
/** Enough requests for a 25% step to reach the gates' 200 candidate requests within its bake. */
const LOOPS_PER_LANE = 4;
const RAMP = ['--steps', '25,50,100', '--bake', '6s'];
// A lane's first version has no baseline: the env's least ramp (dev's 50, 100), so the gates see traffic soon.
const SETUP_RAMP = ['--steps', '50,100', '--bake', '6s'];

interface Rollout {
  lane: number;
  version: string;
  /** Serving when it started. */
  from: string;
  startedAt: number;
  endedAt: number | null;
  attempts: number;
  outcome: string | null;
  reason: string | null;
}

interface Injection {
  kind: Kind;
  target: string;
  downMs: number;
  recoverMs: number;
  /** Checks still failing when HEALTHY_WITHIN_MS ran out; empty when everything recovered. */
  unhealthy: string[];
}

interface Answer {
  at: number;
  version: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '240' },
      lanes: { type: 'string', default: '2' },
      promotions: { type: 'string', default: '10' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
    },
  });
  const random = seeded(Number(values.seed));
  const laneCount = Number(values.lanes);
  const perLane = Math.ceil(Number(values.promotions) / laneCount);
  const dir = await mkdtemp(path.join(tmpdir(), 'pkg-faults-'));
  const parts: Part[] = [];
  const stopAll = async () => {
    for (const part of parts.reverse()) await part.kill().catch(() => undefined);
  };
  try {
    const postgres = await postgresPart(dir);
    parts.push(postgres);
    const redis = await redisPart(dir);
    parts.push(redis);
    const temporal = await temporalPart(dir);
    parts.push(temporal);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      PIPELINE_METRICS_PORT: String(await freePort()),
      PROMETHEUS_TARGETS_FILE: path.join(dir, 'targets.json'),
      EVALUATOR_RECONCILE_MS: String(RECONCILE_MS),
      EVALUATOR_HEARTBEAT_MS: '1000',
      GATE_SETTLE_MS: '1200',
      OUTBOX_RELAY_MS: '50',
      DECISION_LOG_SAMPLE: '1',
    };
    await migrate(env);
    const pool = new Pool({ connectionString: postgres.url, max: 2 });
    pool.on('error', () => undefined);
    const lanes: Lane[] = Array.from({ length: laneCount }, (_, i) => ({
      env: 'dev',
      target: `fault-${i}`,
      region: 'bench',
    }));
    for (const lane of lanes) await createEmptyLane(pool, lane);

    const worker = nodePart('pipeline worker', 'worker/pipeline.ts', env, 'pipeline worker polling', dir);
    // Two evaluators per lane, each lane's own (a rollout needs live evaluators on its lane).
    const evaluators = await Promise.all(
      lanes
        .flatMap((lane, l) => [0, 1].map((i) => ({ lane, l, i })))
        .map(async ({ lane, l, i }) => {
          const port = await freePort();
          const part = nodePart(
            `evaluator ${i + 1} of ${lane.target}`,
            'worker/evaluator/main.ts',
            {
              ...env,
              EVALUATOR_PORT: String(port),
              EVALUATOR_ENV: lane.env,
              EVALUATOR_TARGET: lane.target,
              EVALUATOR_REGION: lane.region,
              EVALUATOR_TEMPORAL: 'on',
              EVALUATOR_WORKERS: '1',
            },
            'listening on',
            dir,
          );
          return Object.assign(part, { url: `http://127.0.0.1:${port}`, lane: l });
        }),
    );
    parts.push(worker, ...evaluators);
    await Promise.all([worker.start(), ...evaluators.map((e) => e.start())]);
    const temporalClient = new Client({
      connection: await Connection.connect({ address: temporal.address }),
      namespace: 'default',
    });

    // Every lane gets a first version before faults start; traffic is what the gates measure, so it
    // runs already, and what it saw so far (a lane with nothing to serve yet answers 503) is not counted.
    const traffic = startFailoverTraffic(
      lanes.map((_, l) => evaluators.filter((e) => e.lane === l).map((e) => e.url)),
      lanes,
    );
    const name = `faults-${randomUUID().slice(0, 6)}`;
    const serving: string[] = [];
    const setup = await Promise.all(
      lanes.map((lane, i) =>
        promote(env, temporalClient, lane, i, `${name}-${i}@1.0.0`, '(none)', Infinity, SETUP_RAMP),
      ),
    );
    for (const rollout of setup) {
      if (rollout.outcome !== 'promoted')
        throw new Error(`setup rollout on lane ${rollout.lane}: ${rollout.outcome}: ${rollout.reason}`);
      serving[rollout.lane] = rollout.version;
    }
    // A lane's first version reaches each evaluator with the hint or the next reconcile: counting starts once both serve it.
    for (const evaluator of evaluators)
      while (
        (await postEvaluation(evaluator.url, requestFor(lanes[evaluator.lane]!, 0)).catch(() => null))?.status !== 200
      )
        await sleep(100);
    traffic.reset();
    console.log(
      `setup: ${laneCount} lanes serving their first version; faults and rollouts start at ${new Date().toISOString()} (seed ${values.seed})`,
    );

    const started = Date.now();
    const rollouts: Rollout[] = [];
    let promoting = true;
    const promotions = Promise.all(
      lanes.map(async (lane, i) => {
        for (let k = 1; k <= perLane; k++) {
          const rollout = await promote(
            env,
            temporalClient,
            lane,
            i,
            `${name}-${i}@1.${k}.0`,
            serving[i]!,
            started + DRAIN_MS + Number(values.duration) * 1000,
            RAMP,
            (r) => rollouts.push(r),
          );
          if (rollout.outcome === 'promoted') serving[i] = rollout.version;
          if (rollout.outcome === null) return;
        }
      }),
    ).finally(() => (promoting = false));

    const injections: Injection[] = [];
    const faultDeadline = started + Number(values.duration) * 1000;
    const order: Kind[] = [];
    while (promoting && Date.now() < faultDeadline) {
      await sleep(4000 + random() * 8000);
      if (!promoting || Date.now() >= faultDeadline) break;
      if (order.length === 0) order.push(...shuffle([...KINDS], random));
      const kind = order.shift()!;
      const part =
        kind === 'evaluator'
          ? evaluators[Math.floor(random() * evaluators.length)]!
          : byKind(kind, { worker, redis, postgres, temporal });
      const [min, max] = DOWN[kind];
      const downMs = Math.round(min + random() * (max - min));
      const injectedAt = Date.now();
      await part.kill();
      await sleep(downMs);
      await restart(part);
      const recovered = await healthy(evaluators, lanes, temporalClient, worker, pool, redis);
      const recoverMs = recovered.at - injectedAt;
      injections.push({ kind, target: part.name, downMs, recoverMs, unhealthy: recovered.failing });
      console.log(
        `${((injectedAt - started) / 1000).toFixed(0)} s: ${part.name} down ${downMs} ms, ` +
          (recovered.failing.length === 0
            ? `everything healthy again after ${recoverMs} ms; requests failed since it was injected: ${traffic.counts.failedAt.filter((at) => at >= injectedAt).length}`
            : `still failing after ${recoverMs} ms: ${recovered.failing.join(', ')}`),
      );
    }
    await promotions;
    const answers = await traffic.stop();
    const report = await audit(pool, rollouts, name);
    printReport({
      answers,
      traffic: traffic.counts,
      rollouts,
      injections,
      lanes,
      setup,
      report,
      seconds: (Date.now() - started) / 1000,
    });
    await pool.end();
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

function byKind(kind: Kind, parts: { worker: Part; redis: Part; postgres: Part; temporal: Part }): Part {
  if (kind === 'pipeline worker') return parts.worker;
  return parts[kind as 'redis' | 'postgres' | 'temporal'];
}

/** A part that cannot start yet (its dependency just came back too) is tried again. */
async function restart(part: Part): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await part.start();
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(1000);
    }
  }
}

/**
 * `pkgctl promote`, retried until the pipeline takes it (a LaneBusy naming this version means an
 * earlier try did), then the run's result, retried through outages. Null outcome: stuck at the deadline.
 */
async function promote(
  env: NodeJS.ProcessEnv,
  client: Client,
  lane: Lane,
  index: number,
  version: string,
  from: string,
  deadline: number,
  ramp: string[] = RAMP,
  onStart: (rollout: Rollout) => void = () => undefined,
): Promise<Rollout> {
  const dir = await writeBundle({ version, env: lane.env });
  const rollout: Rollout = {
    lane: index,
    version,
    from,
    startedAt: Date.now(),
    endedAt: null,
    attempts: 0,
    outcome: null,
    reason: null,
  };
  onStart(rollout);
  const laneArgs = ['--env', lane.env, '--target', lane.target, '--region', lane.region];
  let runId: string | null = null;
  const workflowId = `rollout-${laneName(lane)}`;
  while (runId === null && Date.now() < deadline) {
    rollout.attempts += 1;
    const run = await pkgctl(['promote', dir, ...laneArgs, ...ramp, '--json', '--actor', 'fault-bench'], env);
    const result = lastJson(run.stdout);
    if (run.code === 0 && result.runId) runId = result.runId;
    else if (result.type === 'LaneBusy' && run.stdout.includes(version)) {
      runId =
        (
          await client.workflow
            .getHandle(workflowId)
            .describe()
            .catch(() => null)
        )?.runId ?? null;
    } else {
      console.log(
        `promote ${version}, try ${rollout.attempts}: ${result.message ?? (run.stderr.trim() || `exit ${run.code}`)}`,
      );
      await sleep(1000);
    }
  }
  while (runId !== null && rollout.outcome === null && Date.now() < deadline) {
    try {
      const result = (await client.workflow.getHandle(workflowId, runId).result()) as {
        outcome: string;
        reason: string;
      };
      rollout.outcome = result.outcome;
      rollout.reason = result.reason;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/failed|terminated|cancel/i.test(message) && !/connect|unavailable|deadline/i.test(message)) {
        rollout.outcome = 'failed';
        rollout.reason = message;
      } else await sleep(1000);
    }
  }
  rollout.endedAt = rollout.outcome === null ? null : Date.now();
  return rollout;
}

/** pkgctl --json prints one JSON object last; a crash prints none. */
function lastJson(stdout: string): { runId?: string; type?: string; message?: string } {
  try {
    return JSON.parse(stdout.trim().split('\n').pop() || '{}') as { runId?: string; type?: string; message?: string };
  } catch {
    return {};
  }
}

/**
 * When everything answers healthy again: every evaluator's /readyz (Postgres and Redis up, no lane
 * errors), Temporal, Postgres, the worker and Redis running, and every lane answering. Bounded: after
 * HEALTHY_WITHIN_MS the checks still failing are named and the run goes on.
 */
async function healthy(
  evaluators: { url: string; name: string }[],
  lanes: Lane[],
  client: Client,
  worker: Part,
  pool: Pool,
  redis: Part,
): Promise<{ at: number; failing: string[] }> {
  const deadline = Date.now() + HEALTHY_WITHIN_MS;
  const answers = (check: Promise<unknown>) => check.then(Boolean, () => false);
  for (;;) {
    const checks: [string, Promise<boolean>][] = [
      ...evaluators.map((e): [string, Promise<boolean>] => [
        `${e.name} /readyz`,
        answers(
          fetch(`${e.url}/readyz`).then(async (reply) => {
            const body = (await reply.json()) as { degraded?: boolean };
            return reply.status === 200 && body.degraded === false;
          }),
        ),
      ]),
      ['temporal', answers(client.workflowService.getSystemInfo({}))],
      ['postgres', answers(pool.query('SELECT 1'))],
      ['pipeline worker', Promise.resolve(worker.running())],
      ['redis', Promise.resolve(redis.running())],
      ...lanes.map((lane): [string, Promise<boolean>] => [
        `lane ${laneName(lane)}`,
        answers(
          postEvaluation(evaluators[lanes.indexOf(lane) * 2]!.url, requestFor(lane, 0)).then((r) => r.status === 200),
        ),
      ]),
    ];
    const results = await Promise.all(checks.map(([, check]) => check));
    const failing = checks.filter((_, i) => !results[i]).map(([name]) => name);
    if (failing.length === 0 || Date.now() > deadline) return { at: Date.now(), failing };
    await sleep(100);
  }
}

function requestFor(lane: Lane, i: number) {
  const subject = `guest:${i % 997}`;
  return { input: { tags: ['vip'], context: { subject } }, routing_key: subject, ...lane };
}

/**
 * Closed-loop traffic, a few loops per lane: each request goes to the lane's evaluators in turn
 * and, on a connection error, to the other one, as a load balancer retries. It fails only when both fail.
 */
function startFailoverTraffic(laneUrls: string[][], lanes: Lane[]) {
  const counts = { sent: 0, failed: 0, errors5xx: 0, failures: [] as string[], failedAt: [] as number[] };
  const answers: Answer[][] = lanes.map(() => []);
  let running = true;
  const loop = async (laneIndex: number) => {
    const lane = lanes[laneIndex]!;
    const urls = laneUrls[laneIndex]!;
    while (running) {
      const i = counts.sent++;
      const body = requestFor(lane, i);
      let reply: Awaited<ReturnType<typeof postEvaluation>> | null = null;
      let why = '';
      let answeredBy = '';
      for (const url of [urls[i % urls.length]!, urls[(i + 1) % urls.length]!]) {
        try {
          reply = await postEvaluation(url, body);
          answeredBy = url;
          break;
        } catch (error) {
          why = error instanceof Error ? error.message : String(error);
        }
      }
      if (reply === null || reply.status >= 500) {
        counts.failed += 1;
        if (reply !== null) counts.errors5xx += 1;
        counts.failedAt.push(Date.now());
        if (counts.failures.length < 5)
          counts.failures.push(
            `${new Date().toISOString()} ${reply ? `${answeredBy}: ${reply.status} ${JSON.stringify(reply.body)}` : why}`,
          );
        await sleep(20);
        continue;
      }
      answers[laneIndex]!.push({ at: Date.now(), version: String(reply.body.snapshot) });
    }
  };
  const loops = lanes.flatMap((_, i) => Array.from({ length: LOOPS_PER_LANE }, () => loop(i)));
  return {
    counts,
    reset() {
      Object.assign(counts, { sent: 0, failed: 0, errors5xx: 0, failures: [], failedAt: [] });
      answers.forEach((list) => (list.length = 0));
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** Versions a lane may answer with at time `at`: what it served, and both sides of a rollout in progress or just ended. */
function allowedAt(rollouts: Rollout[], first: string, at: number): Set<string> {
  const allowed = new Set<string>();
  let steady = first;
  for (const rollout of rollouts) {
    const end = rollout.endedAt ?? Infinity;
    if (end + GRACE_MS < at) steady = rollout.outcome === 'promoted' ? rollout.version : rollout.from;
    else if (rollout.startedAt <= at) {
      allowed.add(rollout.from);
      allowed.add(rollout.version);
    }
  }
  allowed.add(steady);
  return allowed;
}

interface Audit {
  duplicateEvents: string[];
  duplicatePromotions: string[];
  duplicateOutbox: string[];
  duplicateRecords: string[];
  duplicateDecisionIds: number;
  decisionsLogged: number;
  lanesMismatched: string[];
}

/** Rows written twice for one fact: rollout events, promotions, outbox messages, decision records, logged decisions. */
async function audit(pool: Pool, rollouts: Rollout[], name: string): Promise<Audit> {
  const rows = async (sql: string, params: unknown[] = []) =>
    (await pool.query<{ what: string }>(sql, params)).rows.map((r) => r.what);
  const like = `${name}-%`;
  const lanesMismatched: string[] = [];
  const last = new Map<number, Rollout>();
  for (const rollout of rollouts) last.set(rollout.lane, rollout);
  for (const rollout of last.values()) {
    const expected = rollout.outcome === 'promoted' ? rollout.version : rollout.from;
    const { rows: lane } = await pool.query<{ serving: string | null; candidate: string | null }>(
      `SELECT s.version AS serving, c.version AS candidate FROM pkg_deployments d
         LEFT JOIN pkg_snapshots s ON s.id = d.stable_snapshot_id LEFT JOIN pkg_snapshots c ON c.id = d.candidate_snapshot_id
        WHERE d.env = 'dev' AND d.target = $1 AND d.region = 'bench'`,
      [`fault-${rollout.lane}`],
    );
    if (lane[0]?.serving !== expected || lane[0]?.candidate !== null)
      lanesMismatched.push(
        `fault-${rollout.lane}: serves ${lane[0]?.serving} + ${lane[0]?.candidate}, expected ${expected}`,
      );
  }
  return {
    duplicateEvents: await rows(
      `SELECT rollout_id || ' ' || event || ' step ' || coalesce(step::text, '-') || ' x' || count(*) AS what
         FROM pkg_rollout_events GROUP BY rollout_id, event, step, to_percent, is_rollback HAVING count(*) > 1`,
    ),
    duplicatePromotions: await rows(
      `SELECT s.version || ' ' || p.action || ' x' || count(*) AS what FROM pkg_promotions p JOIN pkg_snapshots s ON s.id = p.snapshot_uuid
        WHERE s.version LIKE $1 GROUP BY s.version, p.action, p.previous_snapshot_id HAVING count(*) > 1`,
      [like],
    ),
    duplicateOutbox: await rows(
      `SELECT payload::text || ' x' || count(*) AS what FROM pkg_outbox GROUP BY payload::text HAVING count(*) > 1`,
    ),
    duplicateRecords: await rows(
      `SELECT coalesce(s.version, '-') || ' ' || r.outcome || ' x' || count(*) AS what FROM pkg_decision_records r
         LEFT JOIN pkg_snapshots s ON s.id = r.snapshot_id GROUP BY s.version, r.outcome, r.rollout_id HAVING count(*) > 1`,
    ),
    duplicateDecisionIds: Number(
      (await pool.query<{ n: string }>(`SELECT count(*) - count(DISTINCT decision_id) AS n FROM pkg_decision_logs`))
        .rows[0]!.n,
    ),
    decisionsLogged: Number(
      (await pool.query<{ n: string }>('SELECT count(*) AS n FROM pkg_decision_logs')).rows[0]!.n,
    ),
    lanesMismatched,
  };
}

function printReport(run: {
  answers: Answer[][];
  traffic: { sent: number; failed: number; errors5xx: number; failures: string[] };
  rollouts: Rollout[];
  injections: Injection[];
  lanes: Lane[];
  setup: Rollout[];
  report: Audit;
  seconds: number;
}): void {
  let answered = 0;
  let wrong = 0;
  const wrongExamples: string[] = [];
  run.answers.forEach((answers, lane) => {
    const mine = run.rollouts.filter((r) => r.lane === lane);
    for (const answer of answers) {
      answered += 1;
      const allowed = allowedAt(mine, run.setup[lane]!.version, answer.at);
      if (!allowed.has(answer.version)) {
        wrong += 1;
        if (wrongExamples.length < 5)
          wrongExamples.push(`lane fault-${lane} answered ${answer.version}, allowed ${[...allowed].join(', ')}`);
      }
    }
  });
  const ended = run.rollouts.filter((r) => r.outcome !== null);
  const correct = ended.filter(
    (r) => r.outcome === 'promoted' || r.outcome === 'rolled_back' || r.outcome === 'rejected',
  );
  const stuck = run.rollouts.filter((r) => r.outcome === null);
  const outcomes = new Map<string, number>();
  for (const r of ended) outcomes.set(r.outcome!, (outcomes.get(r.outcome!) ?? 0) + 1);
  console.log(`\n${run.seconds.toFixed(0)} s under faults, ${run.lanes.length} lanes, 2 evaluators each, loopback`);
  console.log('| figure | value | target |\n| --- | --- | --- |');
  console.log(`| requests sent | ${run.traffic.sent} | |`);
  console.log(
    `| requests failed (both evaluators refused, or 5xx) | ${run.traffic.failed} (5xx: ${run.traffic.errors5xx}) | only while every evaluator of a lane is down |`,
  );
  console.log(`| answers from a version the lane should not serve | ${wrong} of ${answered} | 0 |`);
  console.log(
    `| rollouts started / ended correctly / stuck | ${run.rollouts.length} / ${correct.length} / ${stuck.length} | stuck 0 |`,
  );
  console.log(`| outcomes | ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')} | |`);
  console.log(
    `| promote attempts (pkgctl retried through outages) | ${run.rollouts.reduce((s, r) => s + r.attempts, 0)} | |`,
  );
  console.log(`| lanes whose final state differs from their last outcome | ${run.report.lanesMismatched.length} | 0 |`);
  console.log(
    `| duplicate rollout events / promotions / outbox messages / decision records | ${run.report.duplicateEvents.length} / ${run.report.duplicatePromotions.length} / ${run.report.duplicateOutbox.length} / ${run.report.duplicateRecords.length} | 0 |`,
  );
  const exited = [...new Set(crashes.map((c) => c.name))].join(', ');
  console.log(
    `| processes that exited unasked (restarted as a supervisor would) | ${crashes.length}${exited ? `: ${exited}` : ''} | 0 |`,
  );
  console.log(
    `| duplicate logged decision ids (of ${run.report.decisionsLogged} logged) | ${run.report.duplicateDecisionIds} | 0 |`,
  );
  console.log(
    '\n| fault | injected | down (ms, median) | healthy again after (ms: median, max) |\n| --- | --- | --- | --- |',
  );
  for (const kind of KINDS) {
    const mine = run.injections.filter((i) => i.kind === kind);
    if (mine.length === 0) continue;
    const median = (values: number[]) =>
      quantile(
        [...values].sort((a, b) => a - b),
        0.5,
      );
    const unhealthy = mine.filter((i) => i.unhealthy.length > 0).length;
    const late = unhealthy > 0 ? ` (${unhealthy} not healthy within ${HEALTHY_WITHIN_MS / 1000} s)` : '';
    console.log(
      `| ${kind} | ${mine.length}${late} | ${median(mine.map((i) => i.downMs))} | ${median(mine.map((i) => i.recoverMs))}, ${Math.max(...mine.map((i) => i.recoverMs))} |`,
    );
  }
  const details = [
    ...crashes.map((c) => `${c.name} exited ${c.code} unasked; its last output:\n${c.output}`),
    ...run.traffic.failures.map((f) => `failed request: ${f}`),
    ...wrongExamples,
    ...run.report.lanesMismatched,
    ...run.report.duplicateEvents.map((d) => `duplicate event: ${d}`),
    ...run.report.duplicatePromotions.map((d) => `duplicate promotion: ${d}`),
    ...run.report.duplicateOutbox.map((d) => `duplicate outbox: ${d}`),
    ...run.report.duplicateRecords.map((d) => `duplicate record: ${d}`),
    ...ended.filter((r) => r.outcome !== 'promoted').map((r) => `${r.version}: ${r.outcome}: ${r.reason}`),
    ...stuck.map((r) => `stuck: ${r.version} on lane fault-${r.lane}`),
  ];
  if (details.length > 0) console.log(`\n${details.join('\n')}`);
}

/** Small deterministic PRNG (mulberry32), so a run's fault schedule can be repeated with --seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
