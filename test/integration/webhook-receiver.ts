import { text } from 'node:stream/consumers';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, type SignedCall } from '../../policy/notify/signature';

/**
 * A real HTTP receiver on 127.0.0.1 (random port) for webhook and notification tests. `answer`
 * decides each call by its number (0-based): a status code, or 'drop' to cut the connection
 * without answering. Every call is recorded, dropped ones too, as it arrived.
 */
export interface ReceivedCall extends SignedCall {
  path: string;
  key: string;
  status: number | 'drop';
  json: Record<string, unknown>;
}

export interface Receiver {
  url: string;
  calls: ReceivedCall[];
  stop(): Promise<void>;
}

const header = (request: IncomingMessage, name: string) => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export async function startReceiver(answer: (n: number, call: ReceivedCall) => number | 'drop'): Promise<Receiver> {
  const calls: ReceivedCall[] = [];
  const server = createServer((request, response) => {
    void text(request).then((body) => {
      const call: ReceivedCall = {
        path: request.url ?? '/',
        key: header(request, IDEMPOTENCY_HEADER) ?? '',
        timestamp: header(request, TIMESTAMP_HEADER),
        signature: header(request, SIGNATURE_HEADER),
        body,
        json: JSON.parse(body) as Record<string, unknown>,
        status: 200,
      };
      call.status = answer(calls.length, call);
      calls.push(call);
      if (call.status === 'drop') return void request.socket.destroy();
      response.writeHead(call.status, { 'content-type': 'text/plain' }).end(call.status < 300 ? 'ok' : 'not yet');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
