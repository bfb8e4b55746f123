import { performance } from 'node:perf_hooks';
import type {
  Decision,
  EvaluationInput,
  EvaluationMeta,
  EvaluationOutput,
  Fact,
  HydrationMeta,
  Mode,
} from '../../policy/engine/evaluation';
import type { SemanticHydrator } from '../../policy/cortex/hydration';
import { routingKeyOf, type EvaluationRequest } from '../../policy/engine/evaluation-request';
import type { FactCache } from '../../policy/facts/cache';
import type { LaneMetricsRecorder } from '../../activities/store/lane-metrics';
import { chooseArm, decisionsDiffer, shouldShadow } from '../../policy/canary/routing';
import type { LaneTable, ServingLane } from './lanes';
import type { LoadedSnapshot } from './registry';
import type { EvaluatorProm } from './prom';
import type { DecisionLog } from './decision-log';
import { decisionJson, decisionResultJson } from '../../policy/decision-log/entry';
import { laneName, type Lane } from '../../policy/lane';

/**
 * One request end to end: resolve the lane, route by routing key, find facts, decide, measure.
 * CONTROL never answers `ok: true` without a decision from a verified snapshot; ADVISORY decides
 * without stored facts when they cannot be read.
 */
export interface EvaluatorServiceDeps {
  lanes: LaneTable;
  defaultLane: Lane;
  facts: FactCache;
  metrics: LaneMetricsRecorder;
  prom: EvaluatorProm;
  shadowRate: number;
  /** Absent when no lane is sampled. */
  decisionLog?: DecisionLog;
  /** Absent when the evaluator has no semantic memory: an embedding is then reported as not used. */
  hydrator?: SemanticHydrator;
  random?: () => number;
}

export interface EvaluationReply {
  status: number;
  body: EvaluationOutput;
  /** `body` as JSON, when the service already rendered it (a decision's JSON also goes to the decision log). */
  text?: string;
}

export interface EvaluatorService {
  /** The lane a request names, the evaluator's own filling what it leaves out. */
  laneOf(request: EvaluationRequest): Lane;
  /**
   * `lane` when the caller already resolved it; `body` the request's JSON as received, which the
   * decision log keeps instead of serialising the input again.
   */
  evaluate(request: EvaluationRequest, received?: { lane?: Lane; body?: string }): Promise<EvaluationReply>;
}

export function createEvaluatorService(deps: EvaluatorServiceDeps): EvaluatorService {
  const random = deps.random ?? Math.random;

  const resolveLane = (request: EvaluationRequest): Lane => {
    const { env, target, region } = request.lane;
    if (env === undefined && target === undefined && region === undefined) return deps.defaultLane;
    return {
      env: env ?? deps.defaultLane.env,
      target: target ?? deps.defaultLane.target,
      region: region ?? deps.defaultLane.region,
    };
  };

  const shadow = (
    lane: Lane,
    state: ServingLane,
    chosen: 'serving' | 'candidate',
    input: EvaluationInput,
    facts: readonly Fact[],
    decision: Decision,
  ) => {
    const other = chosen === 'candidate' ? state.serving : state.candidate;
    const candidate = state.candidate;
    if (!other || !candidate) return;
    let diverged: boolean;
    try {
      diverged = decisionsDiffer(decision, other.engine.evaluate(input, facts));
    } catch {
      diverged = true;
    }
    deps.metrics.recordShadow(lane, candidate.version, diverged);
    deps.prom.shadow.labels(laneName(lane), candidate.version, diverged ? 'diverged' : 'matched').inc();
  };

  return {
    laneOf: resolveLane,
    async evaluate(request, { lane = resolveLane(request), body } = {}) {
      let state = deps.lanes.current(lane);
      if (!state) {
        try {
          state = await deps.lanes.ensure(lane);
        } catch (error) {
          return unavailable(request.mode, `lane ${laneName(lane)} state unavailable: ${oneLine(error)}`);
        }
      }
      const arm = chooseArm(state.split, routingKeyOf(request));
      const snapshot = arm === 'candidate' ? state.candidate : state.serving;
      if (!snapshot) return unavailable(request.mode, `lane ${laneName(lane)} has no serving snapshot`);
      const started = performance.now();
      const hydrated = await withSemanticContext(deps.hydrator, snapshot, request);
      // Once memory joined the input, the body as received no longer says what was decided.
      const received = hydrated.request === request ? body : undefined;
      const routed: Routed = { lane, snapshot, canary: arm === 'candidate', body: received, ...hydrated };
      const { input } = routed.request;
      const facts = await factsFor(deps.facts, snapshot, routed.request);
      if (!facts.ok) return failed(deps, routed, started, 503, facts.reason, []);
      let decision: Decision;
      const evalStart = performance.now();
      try {
        decision = snapshot.engine.evaluate(input, facts.facts);
      } catch (error) {
        return failed(deps, routed, started, 500, `evaluation failed: ${oneLine(error)}`, facts.facts, evalStart);
      }
      const done = performance.now();
      record(deps, lane, snapshot, false, done - started, done - evalStart);
      if (shouldShadow(state.split, deps.shadowRate, random())) shadow(lane, state, arm, input, facts.facts, decision);
      const json = decisionJson(decision);
      const decisionId = logDecision(deps, routed, facts.facts, decisionResultJson(json), null, done - evalStart);
      const meta = metaOf(routed, done - evalStart, decisionId);
      // Exactly JSON.stringify of the body, with the decision's part rendered once for both uses.
      const text = `{"ok":true,"snapshot":${JSON.stringify(snapshot.version)},${json.slice(1, -1)},"meta":${JSON.stringify(meta)}}`;
      return { status: 200, body: { ok: true, snapshot: snapshot.version, ...decision, meta }, text };
    },
  };
}

/** Where a request went: the lane, the snapshot its arm serves, and whether that arm is the canary. */
interface Routed {
  lane: Lane;
  snapshot: LoadedSnapshot;
  request: EvaluationRequest;
  /** The request's JSON as received, while `request` is still exactly what it says. */
  body: string | undefined;
  canary: boolean;
  hydration?: HydrationMeta;
}

/**
 * ADVISORY with an embedding: the input gains the memories near it as `semantic_context` (replacing
 * one the caller pinned). When memory is late or down the decision is still made, on the input as
 * given, and `meta.hydration` says why memory was not used.
 */
async function withSemanticContext(
  hydrator: SemanticHydrator | undefined,
  snapshot: LoadedSnapshot,
  request: EvaluationRequest,
): Promise<{ request: EvaluationRequest; hydration?: HydrationMeta }> {
  if (!request.embedding) return { request };
  if (!hydrator) return { request, hydration: { status: 'skipped', reason: 'no semantic memory here', ms: 0 } };
  const { context, meta } = await hydrator.hydrate(snapshot.snapshotId, request.embedding);
  if (!context) return { request, hydration: meta };
  return { request: { ...request, input: { ...request.input, semantic_context: context } }, hydration: meta };
}

function metaOf(routed: Routed, engineMs: number, decisionId: string | null): EvaluationMeta {
  const meta: EvaluationMeta = {
    engine: routed.snapshot.engine.kind,
    mode: routed.request.mode,
    canary: routed.canary,
    eval_us: Math.round(engineMs * 1000),
  };
  if (decisionId !== null) meta.decision_id = decisionId;
  const semantic = routed.request.input.semantic_context;
  if (semantic) meta.semantic_context = semantic;
  if (routed.hydration) meta.hydration = routed.hydration;
  return meta;
}

/** The input as evaluated with the facts the engine saw, so a replay needs nothing but the logged decision. */
function logDecision(
  deps: EvaluatorServiceDeps,
  routed: Routed,
  facts: readonly Fact[],
  result: string | null,
  error: string | null,
  engineMs: number,
): string | null {
  if (!deps.decisionLog) return null;
  return deps.decisionLog.record({
    lane: routed.lane,
    snapshotVersion: routed.snapshot.version,
    canary: routed.canary,
    mode: routed.request.mode,
    requestJson: routed.body ?? JSON.stringify({ input: routed.request.input }),
    factsJson: facts === routed.request.input.facts ? null : JSON.stringify(facts),
    result,
    error,
    evalNs: engineMs * 1e6,
  });
}

type FactsResult = { ok: true; facts: readonly Fact[] } | { ok: false; reason: string };

async function factsFor(cache: FactCache, snapshot: LoadedSnapshot, request: EvaluationRequest): Promise<FactsResult> {
  if (request.input.facts) return { ok: true, facts: request.input.facts };
  const subject = request.input.context?.subject;
  if (!snapshot.usesFacts || typeof subject !== 'string') return { ok: true, facts: [] };
  try {
    return { ok: true, facts: await cache.factsFor(subject) };
  } catch (error) {
    if (request.mode === 'advisory') return { ok: true, facts: [] };
    return { ok: false, reason: `facts for ${subject} unavailable: ${oneLine(error)}` };
  }
}

/**
 * The gates judge the snapshot, so they get the engine's own time: fact lookups go through a cache
 * shared by both versions, and their misses would make a 1% canary's p99 measure Postgres, not the
 * policy. Prometheus still sees the whole request.
 */
function record(
  deps: EvaluatorServiceDeps,
  lane: Lane,
  snapshot: LoadedSnapshot,
  error: boolean,
  requestMs: number,
  engineMs: number,
): void {
  deps.metrics.recordRequest(lane, snapshot.version, { error, micros: engineMs * 1000 });
  const meter = deps.prom.meter(lane, snapshot.version);
  (error ? meter.error : meter.ok).inc();
  meter.latency.observe(requestMs / 1000);
}

/** `evalStart` when the engine itself failed: the time it spent is logged as the decision's engine time. */
function failed(
  deps: EvaluatorServiceDeps,
  routed: Routed,
  started: number,
  status: number,
  reason: string,
  facts: readonly Fact[],
  evalStart?: number,
): EvaluationReply {
  const now = performance.now();
  record(deps, routed.lane, routed.snapshot, true, now - started, now - started);
  const decisionId = logDecision(deps, routed, facts, null, reason, evalStart === undefined ? 0 : now - evalStart);
  const meta = metaOf(routed, 0, decisionId);
  return { status, body: { ok: false, snapshot: routed.snapshot.version, reason, meta } };
}

function unavailable(mode: Mode, reason: string): EvaluationReply {
  return {
    status: 503,
    body: { ok: false, snapshot: null, reason, meta: { engine: 'native', mode, canary: false, eval_us: 0 } },
  };
}

export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}
