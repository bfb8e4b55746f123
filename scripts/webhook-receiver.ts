import { text } from 'node:stream/consumers';
import { createServer } from 'node:http';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../policy/notify/signature';

/**
 * An example receiver for rollout webhooks and notifications (for examples/hotel-ops-webhooks):
 *   PKG_WEBHOOK_SECRET=… npx tsx scripts/webhook-receiver.ts
 * It refuses a call whose signature does not verify (401), prints each call once (a repeated
 * Idempotency-Key is acknowledged, not processed again), and answers the two confirmations 503
 * until someone approves: `curl -X POST http://127.0.0.1:8787/approve`.
 */
const port = Number(process.env.RECEIVER_PORT ?? 8787);
const secret = process.env.PKG_WEBHOOK_SECRET;
const seen = new Set<string>();
let approved = false;

function answer(path: string, body: string, key: string): number {
  if (path === '/approve') return ((approved = true), 200);
  if (path.startsWith('/confirm-') && !approved) return 503;
  if (seen.has(key)) return 200;
  seen.add(key);
  process.stdout.write(`${path} ${body}\n`);
  return 200;
}

createServer((request, response) => {
  void text(request).then((body) => {
    const header = (name: string) => request.headers[name] as string | undefined;
    const signed = { body, timestamp: header(TIMESTAMP_HEADER), signature: header(SIGNATURE_HEADER) };
    const verified = !secret || request.url === '/approve' || verifySignature(secret, signed, Date.now() / 1000);
    const status = verified ? answer(request.url ?? '/', body, header(IDEMPOTENCY_HEADER) ?? body) : 401;
    response.writeHead(status).end(status === 503 ? 'waiting for approval' : '');
  });
}).listen(port, '127.0.0.1', () => process.stderr.write(`receiver on http://127.0.0.1:${port}\n`));
