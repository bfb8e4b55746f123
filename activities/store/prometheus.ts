import type { QueryOutcome } from '../../policy/rollout/analysis-judge';

/**
 * Instant queries against Prometheus' HTTP API (`/api/v1/query`) for the metric gates. Every way a
 * query can come back without a number (unreachable, HTTP or PromQL error, a range vector) is an
 * outcome with its reason, never an exception: the judge turns it into an inconclusive check.
 */
const QUERY_TIMEOUT_MS = 10_000;

type Sample = [number, string];

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: unknown };
}

export async function queryInstant(baseUrl: string, query: string, atMs: number): Promise<QueryOutcome> {
  const url = new URL('api/v1/query', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  let response: Response;
  try {
    // POST: a query with long label values must not hit a URL length limit.
    response = await fetch(url, {
      method: 'POST',
      body: new URLSearchParams({ query, time: (atMs / 1000).toFixed(3) }),
      signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
    });
  } catch (error) {
    return { ok: false, reason: `Prometheus at ${url.origin} unreachable: ${(error as Error).message}` };
  }
  const body = (await response.json().catch(() => null)) as QueryResponse | null;
  if (!body) return { ok: false, reason: `Prometheus answered HTTP ${response.status} without JSON` };
  if (body.status !== 'success' || !body.data) {
    return { ok: false, reason: `${body.errorType ?? `HTTP ${response.status}`}: ${body.error ?? 'no data'}` };
  }
  return valuesOf(body.data);
}

function valuesOf({ resultType, result }: NonNullable<QueryResponse['data']>): QueryOutcome {
  if (resultType === 'scalar') return { ok: true, values: [Number((result as Sample)[1])] };
  if (resultType === 'vector') {
    return { ok: true, values: (result as { value: Sample }[]).map((series) => Number(series.value[1])) };
  }
  return { ok: false, reason: `the query returns a ${resultType}; a gate needs an instant vector or a scalar` };
}
