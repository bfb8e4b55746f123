import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { classify } from '../../client/exit-codes';
import { parseInput } from '../../policy/facts/input';
import { MAX_PACKED_BYTES } from '../../policy/bundle/pack';
import { ENVS } from '../../policy/lane';
import type { ErrorType } from '../../policy/errors';
import type { Authenticate } from './authenticate';
import { describeApi } from './openapi';
import { assertAllowed, type ApiDeps, type ApiRoute } from './route';

/**
 * The control-plane API's HTTP face: every route authenticated, then authorized for its action in
 * the envs it touches, then handled. Every failure is `{outcome: "error", type, message}` (the
 * shape of pkgctl --json's), its status from the error's type; the message is one line.
 */
const STATUS: Partial<Record<ErrorType, number>> & Record<'UsageInvalid' | 'Unavailable' | 'Unexpected', number> = {
  Unauthenticated: 401,
  Forbidden: 403,
  NotFound: 404,
  InputInvalid: 400,
  UsageInvalid: 400,
  LaneBusy: 409,
  ActionRefused: 409,
  // Temporal, Postgres or a worker the answer needs is not there: the client may try again later.
  Unavailable: 503,
  Unexpected: 500,
};
/** The bundle rejections (BundleInvalid, FixturesFailed, GateConfigLoosened, ...) and anything else a client caused. */
const REFUSED = 422;
// Room for the upload envelope of a bundle at the size limit.
const BODY_LIMIT = MAX_PACKED_BYTES + 65_536;

export function buildApiServer(
  deps: ApiDeps,
  authenticate: Authenticate,
  routes: readonly ApiRoute[],
): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, return503OnClosing: true });
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error: FastifyError, _request, reply) => sendError(reply, error));
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ outcome: 'error', type: 'NotFound', message: `no route ${request.method} ${request.url}` }),
  );
  app.get('/healthz', (_request, reply) => reply.send({ ok: true }));
  const openapi = describeApi(routes);
  app.get('/openapi.json', (_request, reply) => reply.send(openapi));
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      handler: (request) => serve(deps, authenticate, route, request),
    });
  }
  return app;
}

async function serve(deps: ApiDeps, authenticate: Authenticate, route: ApiRoute, request: FastifyRequest) {
  const identity = await authenticate(request.headers.authorization);
  const where = `${route.method} ${route.url}`;
  const input = {
    params: parseInput(route.params, request.params, `${where}: bad path`),
    query: parseInput(route.query, request.query, `${where}: bad query`),
    body: route.body ? parseInput(route.body, request.body ?? {}, `${where}: bad body`) : undefined,
  };
  assertAllowed(identity, route.action, route.envs ? route.envs({ ...input, identity }) : ENVS);
  return route.handle({ ...input, identity, deps });
}

function sendError(reply: FastifyReply, error: FastifyError): FastifyReply {
  // Fastify's own refusals (a malformed or oversized body) carry a 4xx status of their own.
  const own = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : null;
  const failure = classify(error);
  const status = own ?? STATUS[failure.type as keyof typeof STATUS] ?? (failure.type === 'Unexpected' ? 500 : REFUSED);
  const type = own && failure.type === 'Unexpected' ? 'InputInvalid' : failure.type;
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply.code(status).send({ outcome: 'error', type, message: oneLine(failure.message) });
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, '; ');
