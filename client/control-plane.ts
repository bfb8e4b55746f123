import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { envHistory, readDecision, type HistoryEntry, type StoredDecisionRow } from '../activities/store/decisions';
import type { Leftover } from '../activities/store/deployments';
import { abortLane } from '../activities/abort';
import {
  addFact,
  getFactStatistics,
  listFacts,
  type FactQuery,
  type FactStatistics,
  type StoredFact,
} from '../activities/store/facts';
import { runFactCleanup, type FactCleanupProgress, type FactCleanupResult } from '../activities/store/fact-cleanup';
import { insertToken, listTokens, revokeToken, type StoredToken } from '../activities/store/api-tokens';
import {
  announceEvaluatorKeyChange,
  insertEvaluatorKey,
  listEvaluatorKeys,
  revokeEvaluatorKey,
  type EvaluatorKeyChange,
  type EvaluatorKeyInfo,
} from '../activities/store/evaluator-keys';
import { createRedis } from '../activities/connections';
import {
  importMemories,
  memorySnapshot,
  memoryStats,
  pruneMemories,
  type ImportResult,
  type MemoryStats,
  type PruneRequest,
} from '../activities/store/cortex-memories';
import { memoryPruneRequestSchema, parseMemory } from '../policy/cortex/memory';
import { formatKey, KEY_ID_BYTES, KEY_SECRET_BYTES } from '../policy/access/evaluator-key';
import type { EvaluatorKeyCreation } from '../policy/access/key-request';
import { sealStoredSnapshot, type SnapshotSeal } from '../activities/store/snapshot-seals';
import { revert, type RevertRequest, type RevertResult } from '../activities/revert';
import { unpackBundle } from '../policy/bundle/pack';
import { factCleanupRequestSchema, factInputSchema, parseInput, type FactCleanupRequest } from '../policy/facts/input';
import { formatToken, tokenHash, TOKEN_BYTES, type NewToken } from '../policy/identity/tokens';
import { laneName, type Env, type Lane } from '../policy/lane';
import { validateBundleFiles, type BundleValidation } from './commands/bundle';
import type { RolloutOverrides } from '../policy/rollout/config';
import type { RolloutStatus } from '../policy/rollout/status';
import type { OperatorAction } from '../policy/rollout/operator-actions';
import { operatorUpdates, rolloutWorkflowId, type PromotionResult } from '../workflows/definitions';
import { insertVerifiedAction } from '../activities/store/verified-actions';
import { prepareFiles, uploadBundle } from './bundle-upload';
import {
  assertLaneIdle,
  rolloutStatus,
  startPromotion,
  updatableHandle,
  waitForOutcome,
  workflowLink,
} from './rollout-client';
import { ensureDecisionLogRetentionSchedule, ensureFactCleanupSchedule, type ScheduleOutcome } from './schedules';
import { withSession, type Session } from './session';
import { apiControlPlane } from './api-client';
import { createTurns } from './turns';
import { evaluateLoaded, loadStoredVersion } from './evaluation';
import { runImpact, type ImpactRequest, type ImpactResult } from './impact-run';
import { pipelineDuties, taskQueuePresence, type TaskQueuePresence } from './task-queues';
import { verifyEnvChain, verifyStoredDecision, type DecisionVerification } from './rollout-history';
import type { ChainVerification } from '../policy/rollout/decision-chain';
import type { EngineKind, EvaluationOutput } from '../policy/engine/evaluation';
import { parseEvaluationInput } from '../policy/engine/evaluation-request';
import { PkgError } from '../policy/errors';
import { loadConfig, type Config } from '../policy/config';

/**
 * What pkgctl and the control-plane API can do, one implementation of each (`directControlPlane`,
 * over Postgres and Temporal). The API serves it to authenticated callers; pkgctl uses it directly,
 * or through the API (client/api-client.ts) when PKG_API_URL and PKG_TOKEN are set. `actor` is who
 * acts: the verified identity when the API calls.
 */
export interface PromoteRequest {
  /** The bundle in the upload format of policy/bundle/pack.ts. */
  packed: Buffer;
  lane: Lane;
  overrides: RolloutOverrides;
  actor: string;
}

export interface StartedRollout {
  workflowId: string;
  runId: string;
  url: string;
  version: string;
  digest: string;
}

export interface ActionRequest {
  workflowId: string;
  action: OperatorAction;
  actor: string;
  reason: string;
  /** The API's record of the identity it verified (pkg_verified_actions); the workflow checks it. */
  verification?: string;
}

export interface AbortResult {
  outcome: 'ok';
  lane: string;
  abortId: string;
  withdrawn: Leftover | null;
  /** The aborted rollout's decision record, when there was a candidate to withdraw. */
  decisionId: string | null;
}

export type ScheduleName = 'fact-cleanup' | 'decision-log-retention';

export interface ScheduleRequest {
  name: ScheduleName;
  every: string;
  request?: FactCleanupRequest;
}

/** A new token: the secret appears here once and is stored only as its hash. */
export interface CreatedToken extends StoredToken {
  token: string;
}

/**
 * An evaluator key changed: `evaluatorsTold` says whether the announcement on Redis went out, so
 * every evaluator rereads its keys at once; they also reread on a period, so a lost one costs seconds.
 */
export interface ChangedEvaluatorKey extends EvaluatorKeyInfo {
  evaluatorsTold: boolean;
}

/** A new evaluator key: its secret appears here once and is stored only as its digest. */
export interface CreatedEvaluatorKey extends ChangedEvaluatorKey {
  key: string;
}

/** A snapshot to seal: its version or the seed's integer id, in the env the caller acts in. */
export interface SealRequest {
  snapshot: string;
  env: Env;
  actor: string;
}

/** `pkgctl evaluate --version`: one decision of a stored snapshot. */
export interface EvaluationRequest {
  version: string;
  /** The evaluation input as received; checked as a CONTROL-mode input. */
  input: unknown;
  /** Defaults to the snapshot manifest's engine. */
  engine?: EngineKind;
}

/** The decision, and the env of the snapshot that made it (the API authorizes by it). */
export interface StoredEvaluation {
  env: Env;
  output: EvaluationOutput;
}

export interface UploadedBundle {
  digest: string;
  version: string;
}

export interface ControlPlane {
  /** Checks and stores a bundle without starting anything. */
  upload(packed: Buffer, env: Env, actor: string): Promise<UploadedBundle>;
  /** The bundle's env must be `env` (the one the caller's role is checked in). */
  validate(packed: Buffer, env: Env): Promise<BundleValidation>;
  promote(request: PromoteRequest): Promise<StartedRollout>;
  /** Seals a snapshot written as rows (pkg_seal_snapshot), audited; refused when already sealed. */
  sealSnapshot(request: SealRequest): Promise<SnapshotSeal & { env: Env }>;
  /** Calls onProgress with each new status until the rollout ends; its result. */
  waitForOutcome(workflowId: string, onProgress: (status: RolloutStatus) => void): Promise<PromotionResult>;
  status(workflowId: string): Promise<RolloutStatus>;
  act(request: ActionRequest): Promise<RolloutStatus>;
  abort(lane: Lane, reason: string, actor: string): Promise<AbortResult>;
  revert(request: RevertRequest): Promise<RevertResult>;
  history(env: string, limit: number): Promise<HistoryEntry[]>;
  decision(id: string): Promise<StoredDecisionRow>;
  /** Checks the fact (factInputSchema) itself: the API passes the request body as it came. */
  addFact(input: unknown): Promise<StoredFact>;
  listFacts(query: FactQuery): Promise<StoredFact[]>;
  factStatistics(namespace: string | null): Promise<FactStatistics[]>;
  /** `onBatch` hears of each batch as it commits, where the plane can tell (not through the API). */
  cleanupFacts(request: unknown, onBatch?: (progress: FactCleanupProgress) => void): Promise<FactCleanupResult>;
  /**
   * Stores one memory (replacing one with its id); checks it (parseMemory) itself, as addFact.
   * `mayWrite` hears the env of the snapshot it names (null: every snapshot's) before anything is written.
   */
  addMemory(input: unknown, mayWrite?: (env: Env | null) => void): Promise<ImportResult & { id: string }>;
  memoryStats(): Promise<MemoryStats>;
  /** Checks the request (memoryPruneRequestSchema) itself; the count deleted, or with dryRun to delete. */
  pruneMemories(request: unknown): Promise<PruneRequest & { count: number }>;
  /** A record's hash, signature and link; `publicKey` (PEM) defaults to the installation's DECISION_SIGNING_KEY. */
  verifyDecision(id: string, publicKey?: string): Promise<DecisionVerification>;
  /** An env's whole chain, naming its first broken link; the key as verifyDecision's. */
  verifyChain(env: Env, publicKey?: string): Promise<ChainVerification>;
  /** Replays a lane's logged decisions on a candidate; waits for the report. */
  impact(request: ImpactRequest): Promise<ImpactResult>;
  /** Whether workers poll the task queues rollouts and impact analyses run on. */
  workers(): Promise<TaskQueuePresence[]>;
  evaluate(request: EvaluationRequest): Promise<StoredEvaluation>;
  schedule(request: ScheduleRequest): Promise<ScheduleOutcome & { link: string }>;
  createToken(request: NewToken, actor: string): Promise<CreatedToken>;
  listTokens(): Promise<StoredToken[]>;
  revokeToken(name: string, actor: string): Promise<StoredToken>;
  createEvaluatorKey(request: EvaluatorKeyCreation, actor: string): Promise<CreatedEvaluatorKey>;
  /** Never a secret; `includeRevoked`: revoked keys too. */
  listEvaluatorKeys(includeRevoked: boolean): Promise<EvaluatorKeyInfo[]>;
  /** By name or id; revoking twice is NotFound. */
  revokeEvaluatorKey(nameOrId: string, actor: string): Promise<ChangedEvaluatorKey>;
}

/**
 * Operator actions in flight on one rollout at once, from this process. With 20 pauses sent to one
 * workflow together the Temporal dev server aborted some of their Updates and the client retried each
 * after a backoff (p99 10 s); with at most 8 none was aborted (p99 0.6 s, the same 44 a second).
 */
const UPDATES_IN_FLIGHT_PER_ROLLOUT = 8;

/**
 * `verifiedActors`: the control-plane API's plane, whose every `actor` is an identity it verified; the
 * audit rows say so (README "Identity and access"). pkgctl's own plane records its actors unverified.
 */
export function directControlPlane(
  { config, pool, temporal }: Session,
  { verifiedActors = false }: { verifiedActors?: boolean } = {},
): ControlPlane {
  const actionTurns = createTurns(UPDATES_IN_FLIGHT_PER_ROLLOUT);
  return {
    async upload(packed, env, actor) {
      const prepared = prepareFiles(unpackBundle(packed), env, {}, 'bundle');
      await uploadBundle(pool(), prepared, actor);
      return { digest: prepared.digest, version: prepared.bundle.manifest.version };
    },
    async validate(packed, env) {
      const files = unpackBundle(packed);
      prepareFiles(files, env, {}, 'bundle');
      return validateBundleFiles(files);
    },
    async promote({ packed, lane, overrides, actor }) {
      const prepared = prepareFiles(unpackBundle(packed), lane.env, overrides, 'bundle');
      const version = prepared.bundle.manifest.version;
      await uploadBundle(pool(), prepared, actor);
      // Like an operator action's: the workflow resolves this record, so a start sent straight through
      // Temporal with the same actor stays unverified.
      const verification = verifiedActors
        ? {
            verification: await insertVerifiedAction(pool(), {
              workflowId: rolloutWorkflowId(lane),
              action: 'promote',
              subject: actor,
            }),
          }
        : {};
      const input = { digest: prepared.digest, lane, overrides, actor, ...verification };
      const handle = await startPromotion(await temporal(), config.PIPELINE_TASK_QUEUE, input, version);
      const url = workflowLink(config, handle.workflowId);
      return {
        workflowId: handle.workflowId,
        runId: handle.firstExecutionRunId,
        url,
        version,
        digest: prepared.digest,
      };
    },
    sealSnapshot: (request) => sealStoredSnapshot(pool(), request),
    waitForOutcome: async (workflowId, onProgress) =>
      waitForOutcome((await temporal()).workflow.getHandle(workflowId), onProgress),
    status: async (workflowId) => rolloutStatus(await temporal(), workflowId),
    act: ({ workflowId, action, actor, reason, verification }) =>
      actionTurns(workflowId, async () => {
        const handle = await updatableHandle(await temporal(), workflowId);
        const payload = { actor, reason, ...(verification ? { verification } : {}) };
        return handle.executeUpdate(operatorUpdates[action], { args: [payload] });
      }),
    async abort(lane, reason, actor) {
      await assertLaneIdle(await temporal(), lane);
      const healer = `abort:${randomUUID()}`;
      const { withdrawn, decisionId } = await abortLane(
        { pool: pool(), signingKeyPath: config.DECISION_SIGNING_KEY },
        { lane, healer, actor, actorVerified: verifiedActors, reason },
      );
      return { outcome: 'ok', lane: laneName(lane), abortId: healer, withdrawn, decisionId };
    },
    async revert(request) {
      await assertLaneIdle(await temporal(), request.lane);
      const deps = { pool: pool(), signingKeyPath: config.DECISION_SIGNING_KEY };
      return revert(deps, { ...request, actorVerified: verifiedActors });
    },
    history: (env, limit) => envHistory(pool(), env, limit),
    decision: (id) => readDecision(pool(), id),
    addFact: (input) => addFact(pool(), parseInput(factInputSchema, input, 'invalid fact')),
    listFacts: (query) => listFacts(pool(), query),
    factStatistics: (namespace) => getFactStatistics(pool(), namespace),
    cleanupFacts: (request, onBatch) =>
      runFactCleanup(pool(), parseInput(factCleanupRequestSchema, request, 'invalid fact cleanup'), { onBatch }),
    async addMemory(input, mayWrite) {
      const memory = parseMemory(input, 'memory');
      mayWrite?.(memory.snapshot === null ? null : (await memorySnapshot(pool(), memory.snapshot, 'memory')).env);
      return { id: memory.id, ...(await importMemories(pool(), [{ memory, where: 'memory' }])) };
    },
    memoryStats: () => memoryStats(pool()),
    async pruneMemories(input) {
      const request = parseInput(memoryPruneRequestSchema, input, 'invalid memory prune');
      return { ...request, count: await pruneMemories(pool(), request) };
    },
    verifyDecision: (id, publicKey) => verifyStoredDecision(pool(), id, publicKey ?? installationKey(config)),
    verifyChain: (env, publicKey) => verifyEnvChain(pool(), env, publicKey ?? installationKey(config)),
    impact: async (request) => runImpact({ config, pool: pool(), client: await temporal() }, request),
    workers: async () => taskQueuePresence(await temporal(), config.TEMPORAL_NAMESPACE, pipelineDuties(config)),
    async evaluate({ version, input, engine }) {
      const parsed = parseEvaluationInput(input, 'control');
      if (!parsed.ok) throw new PkgError('InputInvalid', parsed.reason);
      const loaded = await loadStoredVersion(pool(), version);
      return { env: loaded.env, output: await evaluateLoaded(loaded, parsed.value, engine) };
    },
    async schedule({ name, every, request }) {
      const client = await temporal();
      const taskQueue = config.PIPELINE_TASK_QUEUE;
      const outcome =
        name === 'fact-cleanup'
          ? await ensureFactCleanupSchedule(client, { every, request, taskQueue })
          : await ensureDecisionLogRetentionSchedule(client, { every, taskQueue });
      const link = `${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/schedules/${outcome.scheduleId}`;
      return { ...outcome, link };
    },
    async createToken({ name, role, envs, expiresIn }, actor) {
      const token = formatToken(randomBytes(TOKEN_BYTES));
      const row = { name, hash: tokenHash(token), role, envs, createdBy: actor, expiresInMs: expiresIn };
      return { ...(await insertToken(pool(), row)), token };
    },
    listTokens: () => listTokens(pool()),
    revokeToken: (name, actor) => revokeToken(pool(), name, actor),
    async createEvaluatorKey({ name, scope, rate, burst, expiresIn }, actor) {
      const key = formatKey(randomBytes(KEY_ID_BYTES), randomBytes(KEY_SECRET_BYTES));
      const expiresAt = expiresIn === undefined ? null : new Date(Date.now() + expiresIn);
      const info = await insertEvaluatorKey(pool(), key, { name, scope, ratePerS: rate, burst, expiresAt, actor });
      return { ...info, key: key.text, evaluatorsTold: await tellEvaluators(config, 'created', info.id) };
    },
    listEvaluatorKeys: (includeRevoked) => listEvaluatorKeys(pool(), includeRevoked),
    async revokeEvaluatorKey(nameOrId, actor) {
      const info = await revokeEvaluatorKey(pool(), nameOrId, actor);
      return { ...info, evaluatorsTold: await tellEvaluators(config, 'revoked', info.id) };
    },
  };
}

/** Best effort, within 2 s: the row is what counts, and every evaluator rereads the rows on a period anyway. */
async function tellEvaluators(config: Config, change: EvaluatorKeyChange, id: string): Promise<boolean> {
  const redis = createRedis(config);
  redis.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', reject);
      setTimeout(reject, 2000).unref();
    });
    await announceEvaluatorKeyChange(redis, change, id);
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** The decision signing key this installation is configured with, as PEM; records verify against it. */
function installationKey(config: Config): string | undefined {
  return config.DECISION_SIGNING_KEY ? readFileSync(config.DECISION_SIGNING_KEY, 'utf8') : undefined;
}

/**
 * A command's ControlPlane: the API's when PKG_API_URL and PKG_TOKEN are both set, otherwise
 * Postgres and Temporal directly (what the API itself uses).
 */
export async function withControlPlane<T>(work: (plane: ControlPlane, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  if (config.PKG_API_URL && config.PKG_TOKEN) {
    return work(apiControlPlane(config.PKG_API_URL, config.PKG_TOKEN), config);
  }
  return withSession((session) => work(directControlPlane(session), session.config));
}
