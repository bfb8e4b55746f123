import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { parseEvaluationRequest } from '../../policy/engine/evaluation-request';
import { parseDeviceHeartbeat, type DeviceHeartbeat } from '../../policy/devices/heartbeat';
import { PkgError } from '../../policy/errors';
import type { RecordedDevice } from '../../activities/store/fleet';
import { oneLine, type EvaluatorService } from './service';
import type { EvaluatorProm } from './prom';
import type { AccessGate, Admission } from './access';

/**
 * The evaluator's HTTP face. Every refusal is a 4xx with a one-line `reason` in the same
 * `{ok: false, ...}` shape as an evaluation that could not decide; nothing a caller sends can
 * take the process down.
 *
 * `POST /v1/evaluate` is answered straight from node:http, beside fastify rather than through it:
 * measured under load, fastify's per-request routing, hooks and reply pipeline cost about as much
 * as the whole decision (bench/evaluator.ts). Fastify serves everything else and every 404.
 */
export interface Readiness {
  ready: boolean;
  details: Record<string, unknown>;
}

export interface EvaluatorHttpDeps {
  service: EvaluatorService;
  /** Evaluator keys, lane scope and rate limits; /healthz, /readyz and /metrics stay open. */
  access: AccessGate;
  prom: EvaluatorProm;
  readiness(): Readiness;
  bodyLimit: number;
  /** Sent as `x-evaluator-instance` with every decision: which process of which host answered. */
  instanceId: string;
  /** Records an edge device's heartbeat in pkg_device_versions (`POST /v1/devices/heartbeat`). */
  recordHeartbeat(heartbeat: DeviceHeartbeat): Promise<RecordedDevice>;
}

const EVALUATE_PATH = '/v1/evaluate';
// Fastify's default: longer than the usual load balancer's idle timeout, so the balancer closes first.
const KEEP_ALIVE_MS = 72_000;
const JSON_TYPE = /^application\/json\s*(;|$)/i;

export function buildEvaluatorHttp(deps: EvaluatorHttpDeps): FastifyInstance {
  let closing = false;
  const evaluateRoute = createEvaluateRoute(deps, () => closing);
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit,
    return503OnClosing: true,
    // Fastify leaves the timeouts of a server it did not create to its factory: its own defaults.
    serverFactory: (handler) => {
      const server = createServer((request, response) => {
        if (request.method === 'POST' && isEvaluatePath(request.url)) evaluateRoute(request, response);
        else handler(request, response);
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.requestTimeout = 0;
      return server;
    },
  });
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // JSON only: a text body would otherwise reach a handler as a string.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    void reply.code(status).send(refusal(describeHttpError(error, status)));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(refusal(`no route ${request.method} ${request.url}`));
  });
  app.get('/healthz', (_request, reply) => reply.send({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, details } = deps.readiness();
    return reply.code(ready ? 200 : 503).send({ ready, ...details });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await deps.prom.metrics();
    return reply.type(deps.prom.contentType).send(text);
  });
  app.post('/v1/devices/heartbeat', async (request, reply) => {
    const parsed = parseDeviceHeartbeat(request.body);
    if (!parsed.ok) return reply.code(400).send(refusal(parsed.reason));
    try {
      const device = await deps.recordHeartbeat(parsed.value);
      return reply.send({
        ok: true,
        device_id: device.deviceId,
        device_type: device.deviceType,
        env: device.env,
        target: device.target,
        region: device.region,
        snapshot_id: device.snapshotNumber,
        version: device.version,
      });
    } catch (error) {
      if (!(error instanceof PkgError)) throw error;
      return reply.code(error.type === 'NotFound' ? 404 : 400).send(refusal(error.message));
    }
  });
  return app;
}

function isEvaluatePath(url: string | undefined): boolean {
  return url === EVALUATE_PATH || (url !== undefined && url.startsWith(`${EVALUATE_PATH}?`));
}

type BodyResult = { ok: true; value: unknown; text: string } | { ok: false; status: number; reason: string };

function createEvaluateRoute(deps: EvaluatorHttpDeps, closing: () => boolean) {
  // Headers as a flat list: writeHead then skips building and walking a header object.
  const answer = (
    response: ServerResponse,
    status: number,
    body: unknown,
    close = false,
    rendered?: string,
    extra?: (string | number)[],
  ) => {
    const text = rendered ?? JSON.stringify(body);
    const headers = [
      'content-type',
      'application/json; charset=utf-8',
      'content-length',
      Buffer.byteLength(text),
      'x-evaluator-instance',
      deps.instanceId,
    ];
    if (close) headers.push('connection', 'close');
    if (extra) headers.push(...extra);
    response.writeHead(status, headers);
    response.end(text);
  };

  const refuse = (response: ServerResponse, admission: Exclude<Admission, { ok: true }>) => {
    const extra = admission.status === 401 ? ['www-authenticate', 'Bearer'] : [];
    if (admission.retryAfterS !== undefined) extra.push('retry-after', String(admission.retryAfterS));
    answer(response, admission.status, refusal(admission.reason), false, undefined, extra);
  };

  const decide = async (request: IncomingMessage, response: ServerResponse) => {
    const body = await readJsonBody(request, deps.bodyLimit);
    if (!body.ok) return answer(response, body.status, refusal(body.reason), body.status === 413);
    const parsed = parseEvaluationRequest(body.value);
    if (!parsed.ok) return answer(response, 400, refusal(parsed.reason));
    const lane = deps.service.laneOf(parsed.value);
    let admission = deps.access.admit(request.headers.authorization, request.socket, lane);
    if (admission instanceof Promise) admission = await admission;
    if (!admission.ok) return refuse(response, admission);
    const { status, body: decision, text } = await deps.service.evaluate(parsed.value, { lane, body: body.text });
    answer(response, status, decision, false, text);
  };

  return (request: IncomingMessage, response: ServerResponse) => {
    if (closing()) return answer(response, 503, refusal('evaluator shutting down'), true);
    decide(request, response).catch((error: unknown) => {
      if (!response.headersSent) answer(response, 500, refusal(oneLine(error)));
      else response.destroy();
    });
  };
}

/** The same refusals fastify gives its own routes: 415 for non-JSON, 413 over the limit, 400 for bad JSON. */
function readJsonBody(request: IncomingMessage, limit: number): Promise<BodyResult> {
  if (!JSON_TYPE.test(request.headers['content-type'] ?? '')) {
    request.resume();
    return Promise.resolve({ ok: false, status: 415, reason: 'body: expected Content-Type application/json' });
  }
  const tooLarge: BodyResult = { ok: false, status: 413, reason: `body: larger than the ${limit} byte limit` };
  if (Number(request.headers['content-length'] ?? 0) > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.pause();
        resolve(tooLarge);
      } else chunks.push(chunk);
    });
    request.on('error', (error) => resolve({ ok: false, status: 400, reason: `body: ${oneLine(error)}` }));
    request.on('end', () => {
      if (size > limit) return;
      const text = chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString();
      if (text.trim() === '')
        return resolve({ ok: false, status: 400, reason: 'body: empty; expected a JSON object with an "input" field' });
      try {
        resolve({
          ok: true,
          value: secureJson.parse(text, { protoAction: 'error', constructorAction: 'error' }),
          text,
        });
      } catch (error) {
        resolve({ ok: false, status: 400, reason: `body: not valid JSON (${oneLine(error)})` });
      }
    });
  });
}

function refusal(reason: string) {
  return { ok: false, snapshot: null, reason };
}

function describeHttpError(error: FastifyError, status: number): string {
  if (status === 415) return 'body: expected Content-Type application/json';
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'body: empty; expected a JSON object with an "input" field';
  if (status === 400) return `body: not valid JSON (${oneLine(error)})`;
  return oneLine(error);
}
