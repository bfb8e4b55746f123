import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { parseEvaluationRequest } from '../../policy/engine/evaluation-request';
import type { EvaluatorService } from './service';
import type { EvaluatorProm } from './prom';

/**
 * The evaluator's HTTP face. Every refusal is a 4xx with a one-line `reason` in the same
 * `{ok: false, ...}` shape as an evaluation that could not decide; nothing a caller sends can
 * take the process down (fastify confines parse and size errors to the request).
 */
export interface Readiness {
  ready: boolean;
  details: Record<string, unknown>;
}

export interface EvaluatorHttpDeps {
  service: EvaluatorService;
  prom: EvaluatorProm;
  readiness(): Readiness;
  bodyLimit: number;
}

export function buildEvaluatorHttp(deps: EvaluatorHttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: deps.bodyLimit, return503OnClosing: true });
  // JSON only: a text body would otherwise reach the handler as a string.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    void reply.code(status).send(refusal(describeHttpError(error, status, deps.bodyLimit)));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(refusal(`no route ${request.method} ${request.url}`));
  });

  app.post('/v1/evaluate', async (request, reply) => {
    const parsed = parseEvaluationRequest(request.body);
    if (!parsed.ok) return reply.code(400).send(refusal(parsed.reason));
    const { status, body } = await deps.service.evaluate(parsed.value);
    return reply.code(status).send(body);
  });
  app.get('/healthz', (_request, reply) => reply.send({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, details } = deps.readiness();
    return reply.code(ready ? 200 : 503).send({ ready, ...details });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await deps.prom.registry.metrics();
    return reply.type(deps.prom.registry.contentType).send(text);
  });
  return app;
}

function refusal(reason: string) {
  return { ok: false, snapshot: null, reason };
}

function describeHttpError(error: FastifyError, status: number, bodyLimit: number): string {
  if (status === 413) return `body: larger than the ${bodyLimit} byte limit`;
  if (status === 415) return 'body: expected Content-Type application/json';
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'body: empty; expected a JSON object with an "input" field';
  if (status === 400) return `body: not valid JSON (${error.message.split('\n')[0]})`;
  return error.message.split('\n')[0] ?? 'internal error';
}
