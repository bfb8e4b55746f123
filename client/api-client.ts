import type { StoredFact } from '../activities/store/facts';
import type { MemoryStats } from '../activities/store/cortex-memories';
import type { StoredToken } from '../activities/store/api-tokens';
import type { EvaluatorKeyInfo } from '../activities/store/evaluator-keys';
import { formatKeyScope } from '../policy/access/key-scope';
import type { SnapshotSeal } from '../activities/store/snapshot-seals';
import { ROLLOUT_WORKFLOW_ID_PREFIX } from '../policy/constants';
import { ERROR_TYPES, PkgError, type ErrorType } from '../policy/errors';
import { formatDuration } from '../policy/facts/duration';
import { laneName, parseLaneName, type Env, type Lane } from '../policy/lane';
import type { RolloutStatus } from '../policy/rollout/status';
import type { PromotionResult } from '../workflows/definitions';
import type { ChangedEvaluatorKey, ControlPlane, CreatedEvaluatorKey, CreatedToken } from './control-plane';
import { ServiceUnavailable } from './session';

/**
 * The ControlPlane of pkgctl when PKG_API_URL and PKG_TOKEN are set: the same operations over the
 * control-plane API (worker/api/), so a CI job needs no Postgres URL and no Temporal access. The
 * API's typed errors come back as PkgErrors of the same type, so exit codes do not change.
 */
export function apiControlPlane(baseUrl: string, token: string, pollMs = 1000): ControlPlane {
  const call = createCall(baseUrl, token);
  const rollout = (workflowId: string) => `/v1/rollouts/${laneName(laneOfWorkflow(workflowId))}`;
  const laneUrl = (lane: Lane) => `/v1/lanes/${laneName(lane)}`;
  return {
    upload: (packed, env, _actor) => call('POST', '/v1/bundles', { env, bundle: envelope(packed) }),
    validate: (packed, env) => call('POST', '/v1/bundles/validate', { env, bundle: envelope(packed) }),
    promote: ({ packed, lane, overrides }) =>
      call('POST', '/v1/promotions', { ...lane, overrides, bundle: envelope(packed) }),
    sealSnapshot: async ({ snapshot, env }) => {
      const sealed = await call<SnapshotSeal & { env: Env }>(
        'POST',
        `/v1/envs/${env}/snapshots/${encodeURIComponent(snapshot)}/seal`,
      );
      return { ...sealed, sealedAt: date(sealed.sealedAt)! };
    },
    async waitForOutcome(workflowId, onProgress) {
      let last = '';
      for (;;) {
        const answer = await call<{ done: boolean; status?: RolloutStatus; result?: PromotionResult }>(
          'GET',
          `${rollout(workflowId)}/result`,
        );
        if (answer.done) return answer.result!;
        const line = `${answer.status!.stage} ${answer.status!.percent}%: ${answer.status!.message}`;
        if (line !== last) onProgress(answer.status!);
        last = line;
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
    status: (workflowId) => call('GET', rollout(workflowId)),
    act: ({ workflowId, action, reason }) => call('POST', `${rollout(workflowId)}/${action}`, { reason }),
    abort: (lane, reason) => call('POST', `${laneUrl(lane)}/abort`, { reason }),
    revert: ({ lane, version, reason, force }) =>
      call('POST', `${laneUrl(lane)}/revert`, { to: version, reason, force }),
    history: (env, limit) => call('GET', `/v1/envs/${env}/history?limit=${limit}`),
    decision: (id) => call('GET', `/v1/decisions/${encodeURIComponent(id)}`),
    addFact: async (input) => reviveFact(await call('POST', '/v1/facts', input)),
    listFacts: async ({ subject, namespace, includeExpired }) =>
      (await call<StoredFact[]>('GET', `/v1/facts?${query({ subject, namespace, includeExpired })}`)).map(reviveFact),
    factStatistics: (namespace) => call('GET', `/v1/facts/stats?${query({ namespace })}`),
    // Batches are not reported through the API: the answer lists them all.
    cleanupFacts: (request) => call('POST', '/v1/facts/cleanup', request),
    addMemory: (input) => call('POST', '/v1/memories', input),
    memoryStats: async () => {
      const stats = await call<MemoryStats>('GET', '/v1/memories/stats');
      return { ...stats, oldest: date(stats.oldest), newest: date(stats.newest) };
    },
    pruneMemories: (request) => call('POST', '/v1/memories/prune', request),
    verifyDecision: (id, publicKey) => call('POST', `/v1/decisions/${encodeURIComponent(id)}/verify`, { publicKey }),
    verifyChain: (env, publicKey) => call('POST', `/v1/envs/${env}/verify`, { publicKey }),
    impact: ({ lane, bundle, windowMs, limit, maxExamples }) =>
      call('POST', '/v1/impact', {
        ...lane,
        ...('packed' in bundle ? { bundle: envelope(bundle.packed) } : { version: bundle.version }),
        since: formatDuration(windowMs),
        limit,
        examples: maxExamples,
      }),
    workers: () => call('GET', '/v1/workers'),
    evaluate: (request) => call('POST', '/v1/evaluations', request),
    schedule: ({ name, every, request }) => call('PUT', `/v1/schedules/${name}`, { every, request }),
    createToken: async (request) =>
      reviveToken(
        await call<CreatedToken>('POST', '/v1/tokens', {
          ...request,
          envs: request.envs.join(','),
          expiresIn: formatDuration(request.expiresIn),
        }),
      ),
    listTokens: async () => (await call<StoredToken[]>('GET', '/v1/tokens')).map(reviveToken),
    revokeToken: async (name) => reviveToken(await call('DELETE', `/v1/tokens/${encodeURIComponent(name)}`)),
    createEvaluatorKey: async ({ name, scope, rate, burst, expiresIn }) =>
      reviveKey(
        await call<CreatedEvaluatorKey>('POST', '/v1/evaluator-keys', {
          name,
          scope: formatKeyScope(scope),
          rate,
          burst,
          ...(expiresIn === undefined ? {} : { expiresIn: formatDuration(expiresIn) }),
        }),
      ),
    listEvaluatorKeys: async (includeRevoked) =>
      (await call<EvaluatorKeyInfo[]>('GET', `/v1/evaluator-keys?${query({ all: includeRevoked })}`)).map(reviveKey),
    revokeEvaluatorKey: async (nameOrId) =>
      reviveKey(await call<ChangedEvaluatorKey>('DELETE', `/v1/evaluator-keys/${encodeURIComponent(nameOrId)}`)),
  };
}

type Call = <T>(method: string, path: string, body?: unknown) => Promise<T>;

function createCall(baseUrl: string, token: string): Call {
  const base = baseUrl.replace(/\/$/, '');
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).catch((cause: unknown) => {
      throw new ServiceUnavailable(`the control-plane API at ${base}`, (cause as { cause?: unknown }).cause ?? cause);
    });
    const answer: unknown = await response.json().catch(() => null);
    if (response.ok) return answer as T;
    throw apiError(response.status, answer);
  };
}

/** The upload format is JSON already: sent as the request body's `bundle` object. */
const envelope = (packed: Buffer): unknown => JSON.parse(packed.toString('utf8'));

function apiError(status: number, answer: unknown): Error {
  const { type, message } = (answer ?? {}) as { type?: string; message?: string };
  const text = message ?? `the control-plane API answered ${status}`;
  if (type === 'Unavailable') return ServiceUnavailable.relayed(text);
  return ERROR_TYPES.includes(type as ErrorType) ? new PkgError(type as ErrorType, text) : new Error(text);
}

/** `rollout-dev/web/eu` → its lane; the API names rollouts by lane. */
function laneOfWorkflow(workflowId: string): Lane {
  const prefix = `${ROLLOUT_WORKFLOW_ID_PREFIX}-`;
  if (!workflowId.startsWith(prefix)) {
    throw new PkgError(
      'InputInvalid',
      `bad workflow id ${JSON.stringify(workflowId)}: expected ${prefix}env/target/region`,
    );
  }
  return parseLaneName(workflowId.slice(prefix.length));
}

function query(fields: Record<string, string | boolean | null | undefined>): string {
  const defined = Object.entries(fields).filter(([, value]) => value !== undefined && value !== null);
  return new URLSearchParams(defined.map(([key, value]): [string, string] => [key, String(value)])).toString();
}

const date = (text: string | Date | null): Date | null => (text === null ? null : new Date(text));

function reviveFact(fact: StoredFact): StoredFact {
  return { ...fact, validFrom: date(fact.validFrom)!, validTo: date(fact.validTo) };
}

function reviveKey<T extends EvaluatorKeyInfo>(key: T): T {
  return { ...key, createdAt: date(key.createdAt)!, expiresAt: date(key.expiresAt), revokedAt: date(key.revokedAt) };
}

function reviveToken<T extends StoredToken>(token: T): T {
  // JSON carries the dates as ISO text.
  return {
    ...token,
    createdAt: date(token.createdAt)!,
    expiresAt: date(token.expiresAt)!,
    revokedAt: date(token.revokedAt),
  };
}
