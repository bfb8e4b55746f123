import { hostname } from 'node:os';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { loadConfigOrExit, type Config } from '../../policy/config';
import { createFactCache } from '../../policy/facts/cache';
import { createRedis } from '../../activities/connections';
import { createEvaluatorPool } from './pool';
import { loadFactsForSubject } from '../../activities/store/facts';
import { readDesiredLaneState } from '../../activities/store/lane-state';
import { createLaneMetricsRecorder } from '../../activities/store/lane-metrics';
import { createSnapshotRegistry } from './registry';
import { createLaneTable, type LaneTable, type ServingLane } from './lanes';
import { createEvaluatorService, oneLine } from './service';
import { buildEvaluatorHttp, type Readiness } from './http';
import { createEvaluatorProm, type EvaluatorProm } from './prom';
import { subscribeToUpdates } from './updates';
import { createLaneSync, type LaneSync } from './sync';
import { createFleetReporter } from './fleet';
import { recordDeviceHeartbeat } from '../../activities/store/fleet';
import { buildSnapshot } from './snapshots';
import { createRefusalLog } from './refusals';
import { signingPolicyFromConfig } from '../../activities/signing-policy';
import { startEvaluatorTemporalWorker } from './temporal';
import { laneName, type Lane } from '../../policy/lane';
import { gatherFromPrimary, runPrimary, workerIndex } from './processes';
import { createDecisionLog, type DecisionLog } from './decision-log';
import { samplesAnything } from '../../policy/decision-log/sampling';
import { keysRequiredFor } from '../../policy/access/key-scope';
import { loadLiveEvaluatorKeys } from '../../activities/store/evaluator-keys';
import { createEvaluatorKeyCache } from './keys';
import { createRateLimiter } from './rate-limit';
import { createAccessGate } from './access';
import { createSemanticHydrator } from '../../policy/cortex/hydration';
import { searchMemories } from '../../activities/store/cortex-memories';

/**
 * `npm run evaluator`: one evaluator process (ARCHITECTURE.md §5). It serves live decisions over HTTP,
 * runs evaluation activities on task queue pkg-evaluator, follows hot-swap hints on Redis and
 * heartbeats into the fleet registry. Redis or Postgres going away degrades it (reported in
 * /readyz) but never stops it answering from the last good snapshot.
 */
const METRICS_FLUSH_MS = 1000;
const MAX_LANES = 64;
const MEMORY_STATEMENT_TIMEOUT_MS = 1000;

const log = (line: string) => process.stderr.write(`[evaluator ${new Date().toISOString()}] ${line}\n`);

/** Its writer thread has a pool of its own, so log writes never wait behind (or hold up) snapshot loads and fact lookups. */
function assembleDecisionLog(config: Config, prom: EvaluatorProm): DecisionLog | undefined {
  if (!samplesAnything(config.DECISION_LOG_SAMPLE)) return undefined;
  return createDecisionLog({
    sampling: config.DECISION_LOG_SAMPLE,
    capacity: config.DECISION_LOG_BUFFER,
    flushMs: config.DECISION_LOG_FLUSH_MS,
    prom,
  });
}

/** Postgres health as last seen by any query: queries are the only probe that costs nothing extra. */
function createPostgresHealth() {
  const health = {
    up: false,
    track<T>(work: Promise<T>): Promise<T> {
      return work.then(
        (value) => ((health.up = true), value),
        (error: unknown) => {
          health.up = false;
          throw error;
        },
      );
    },
  };
  return health;
}

/**
 * ADVISORY hydration with a pool of its own, so a slow memory search never holds up snapshot loads
 * and fact lookups; the server ends a search the budget gave up on long ago, freeing its connection.
 */
function assembleHydrator(config: Config) {
  const memoryPool = createEvaluatorPool(config, 4);
  Object.assign(memoryPool.options, { options: `-c statement_timeout=${MEMORY_STATEMENT_TIMEOUT_MS}` });
  const hydrator = createSemanticHydrator({
    search: (search) => searchMemories(memoryPool, search),
    budgetMs: config.CORTEX_HYDRATION_BUDGET_MS,
    topK: config.CORTEX_TOP_K,
    minSimilarity: config.CORTEX_MIN_SIMILARITY,
    cacheTtlMs: config.CORTEX_CACHE_TTL_MS,
    cacheMax: config.CORTEX_CACHE_MAX,
  });
  return { hydrator, memoryPool };
}

function assemble(config: Config, worker: number | null) {
  const lane: Lane = { env: config.EVALUATOR_ENV, target: config.EVALUATOR_TARGET, region: config.EVALUATOR_REGION };
  // Each process of a host is its own fleet instance: coverage must see every process that answers.
  const instanceId = `${hostname()}:${config.EVALUATOR_PORT}${worker === null ? '' : `#${worker}`}`;
  const pool = createEvaluatorPool(config, 8);
  const redis = createRedis(config);
  redis.on('error', () => undefined);
  const prom = createEvaluatorProm(worker === null ? undefined : gatherFromPrimary);
  const postgres = createPostgresHealth();
  const signing = signingPolicyFromConfig(config);
  const refusals = createRefusalLog(prom);
  const registry = createSnapshotRegistry(
    refusals.watch((id) => postgres.track(buildSnapshot(pool, id, signing))),
    config.EVALUATOR_LOADED_MAX,
  );
  const fleetEntry = () => ({
    instanceId,
    lane,
    state: lanes.current(lane),
    loadedVersions: registry.loadedVersions(),
  });
  const fleet = createFleetReporter(pool, config.EVALUATOR_HEARTBEAT_MS, fleetEntry, (error) => {
    if (error !== null && postgres.up) log(`heartbeat failed: ${oneLine(error)}`);
    postgres.up = error === null;
  });
  const lanes: LaneTable = createLaneTable({
    readDesired: (wanted) => postgres.track(readDesiredLaneState(pool, wanted)),
    registry,
    maxLanes: MAX_LANES,
    pinned: lane,
    onSwap: (swapped, previous, next) => {
      reportSwap(prom, swapped, previous, next);
      log(`lane ${laneName(swapped)} now serves ${describe(next)}`);
      if (laneName(swapped) === laneName(lane)) void fleet.beat();
    },
  });
  const sync = createLaneSync(lanes, config.EVALUATOR_RECONCILE_MS, log);
  const metrics = createLaneMetricsRecorder(redis, { ttlSeconds: config.METRICS_TTL_S });
  const facts = createFactCache({
    ttlMs: config.FACT_CACHE_TTL_MS,
    maxSubjects: config.FACT_CACHE_MAX,
    load: (subject) => postgres.track(loadFactsForSubject(pool, subject)),
  });
  const decisionLog = assembleDecisionLog(config, prom);
  const { hydrator, memoryPool } = assembleHydrator(config);
  const service = createEvaluatorService({
    hydrator,
    lanes,
    defaultLane: lane,
    facts,
    metrics,
    prom,
    shadowRate: config.EVALUATOR_SHADOW_RATE,
    decisionLog,
  });
  const { keys, access } = assembleAccess(config, pool, redis, prom);
  const http = buildEvaluatorHttp({
    service,
    access,
    prom,
    bodyLimit: config.EVALUATOR_BODY_LIMIT,
    instanceId,
    recordHeartbeat: (heartbeat) => recordDeviceHeartbeat(pool, lane.env, heartbeat),
    readiness: () => {
      const ready = readiness(lanes.current(lane), lane, sync, postgres.up, instanceId, registry.loadedVersions());
      const details = {
        ...ready.details,
        lanes: lanes.lanes().length,
        evaluator_keys: keys.status(),
        refused_snapshots: refusals.refused(),
      };
      return { ...ready, details: { ...details, decision_log: decisionLogDetails(config, decisionLog) } };
    },
  });
  return {
    lane,
    instanceId,
    pool,
    redis,
    prom,
    postgres,
    registry,
    fleet,
    sync,
    metrics,
    decisionLog,
    keys,
    memoryPool,
    http,
  };
}

/** Keys read with the evaluator's own pool; buckets on its Redis connection (one script call per claim). */
function assembleAccess(config: Config, pool: Pool, redis: Redis, prom: EvaluatorProm) {
  const keys = createEvaluatorKeyCache({
    load: () => loadLiveEvaluatorKeys(pool),
    refreshMs: config.EVALUATOR_KEYS_REFRESH_MS,
    log,
  });
  const access = createAccessGate({
    keys,
    limiter: createRateLimiter(redis, (count) => prom.rateLimitUnchecked.inc(count)),
    keyRequired: keysRequiredFor(config.EVALUATOR_REQUIRE_KEYS, config.EVALUATOR_KEYS_REQUIRED_ENVS),
    onRefused: (reason) => prom.accessRefused.labels(reason).inc(),
  });
  return { keys, access };
}

async function main(config: Config, worker: number | null): Promise<void> {
  const {
    lane,
    instanceId,
    pool,
    redis,
    prom,
    postgres,
    registry,
    fleet,
    sync,
    metrics,
    decisionLog,
    keys,
    memoryPool,
    http,
  } = assemble(config, worker);
  await Promise.all([sync.syncAll(), keys.refresh()]);
  sync.start();
  subscribeToUpdates(createRedis(config), sync);
  keys.start(createRedis(config));
  const flushTimer = setInterval(() => {
    prom.connected.labels('redis').set(redis.status === 'ready' ? 1 : 0);
    prom.connected.labels('postgres').set(postgres.up ? 1 : 0);
    metrics.flush().catch(() => undefined);
  }, METRICS_FLUSH_MS);
  flushTimer.unref();
  fleet.start();
  decisionLog?.start();
  await http.listen({ port: config.EVALUATOR_PORT, host: config.EVALUATOR_HOST });
  log(`listening on ${config.EVALUATOR_HOST}:${config.EVALUATOR_PORT} for lane ${laneName(lane)} as ${instanceId}`);
  // Evaluation activities need no more than one Temporal worker per host.
  const temporal =
    config.EVALUATOR_TEMPORAL === 'on' && (worker ?? 0) === 0
      ? startEvaluatorTemporalWorker(config, pool, registry, log)
      : null;

  // Order matters: stop taking requests, finish activities, send the last counts, leave the fleet.
  const shutdown = async (signal: string) => {
    log(`${signal}: shutting down`);
    sync.stop();
    keys.stop();
    await http.close();
    await temporal?.stop();
    await metrics.flush().catch(() => undefined);
    await decisionLog?.stop();
    await fleet.stop();
    await pool.end().catch(() => undefined);
    await memoryPool.end().catch(() => undefined);
    process.exit(0);
  };
  // A bug in a background task (flush, heartbeat, sync) must not take live decisions down with it.
  process.on('unhandledRejection', (error) => log(`unhandled rejection: ${oneLine(error)}`));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

function describe(state: ServingLane): string {
  const serving = state.serving?.version ?? 'nothing';
  if (!state.candidate) return serving;
  return `${serving} + candidate ${state.candidate.version} at ${state.split.canaryPercent}%`;
}

function reportSwap(prom: EvaluatorProm, lane: Lane, previous: ServingLane | undefined, next: ServingLane): void {
  const label = laneName(lane);
  prom.swaps.labels(label, 'swapped').inc();
  if (previous?.serving) prom.serving.remove(label, 'serving', previous.serving.version);
  if (previous?.candidate) prom.serving.remove(label, 'candidate', previous.candidate.version);
  if (next.serving) prom.serving.labels(label, 'serving', next.serving.version).set(1);
  if (next.candidate) prom.serving.labels(label, 'candidate', next.candidate.version).set(1);
}

function readiness(
  state: ServingLane | undefined,
  lane: Lane,
  sync: LaneSync,
  postgresUp: boolean,
  instanceId: string,
  loadedVersions: string[],
): Readiness {
  const status = sync.status();
  const degraded = status.redis === 'down' || !postgresUp || Object.keys(status.laneErrors).length > 0;
  return {
    ready: Boolean(state?.serving),
    details: {
      instance_id: instanceId,
      lane: laneName(lane),
      serving: state?.serving?.version ?? null,
      candidate: state?.candidate?.version ?? null,
      canary_percent: state?.split.canaryPercent ?? 0,
      loaded_versions: loadedVersions,
      degraded,
      redis: status.redis,
      postgres: postgresUp ? 'up' : 'down',
      last_sync_at: status.lastSyncAt,
      lane_errors: status.laneErrors,
    },
  };
}

/** Per process: with several processes behind one port, /readyz shows the one that answered. */
function decisionLogDetails(config: Config, decisionLog: DecisionLog | undefined) {
  const sample = {
    default: config.DECISION_LOG_SAMPLE.defaultRate,
    lanes: Object.fromEntries(config.DECISION_LOG_SAMPLE.lanes),
  };
  if (!decisionLog) return { enabled: false, sample };
  return { enabled: true, sample, ...decisionLog.status() };
}

if (require.main === module) {
  const config = loadConfigOrExit();
  const worker = workerIndex();
  if (worker === null && config.EVALUATOR_WORKERS > 1) runPrimary(config.EVALUATOR_WORKERS, log);
  else
    main(config, worker).catch((error: unknown) => {
      log(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    });
}
