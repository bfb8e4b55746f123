import {
  deliveryHeaders,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  signBody,
  TIMESTAMP_HEADER,
  verifySignature,
} from '../../policy/notify/signature';

const secret = 's3cret-s3cret-s3cret';
const body = '{"a":1}';
const at = 1_700_000_000;

test('the signature is HMAC-SHA256 over "<timestamp>.<body>", as any receiver can compute it', () => {
  // openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret-s3cret-s3cret
  expect(signBody(secret, at, body)).toBe('sha256=79a6c445ff099c53dc2ea6b6df3e4609699187aa67857a2783882ea8fd1e5c11');
});

test('headers carry the key, the timestamp and the signature of the exact body', () => {
  const headers = deliveryHeaders(body, 'key-1', at, secret);
  expect(headers[IDEMPOTENCY_HEADER]).toBe('key-1');
  expect(headers[TIMESTAMP_HEADER]).toBe(String(at));
  expect(
    verifySignature(secret, { body, timestamp: headers[TIMESTAMP_HEADER], signature: headers[SIGNATURE_HEADER] }, at),
  ).toBe(true);
  expect(deliveryHeaders(body, 'key-1', at)).not.toHaveProperty(SIGNATURE_HEADER);
});

test.each([
  ['another secret', { secret: 'another-secret-entirely' }],
  ['a changed body', { body: '{"a":2}' }],
  ['a re-dated call', { timestamp: String(at + 1) }],
  ['a stale call', { now: at + 301 }],
  ['a call from the future', { now: at - 301 }],
  ['no signature', { signature: undefined }],
  ['no timestamp', { timestamp: undefined }],
])(
  'verification fails with %s',
  (_, change: { secret?: string; body?: string; timestamp?: string; signature?: string; now?: number }) => {
    const call = { body, timestamp: String(at), signature: signBody(secret, at, body), ...change };
    expect(verifySignature(change.secret ?? secret, call, change.now ?? at)).toBe(false);
  },
);

test('a call within the tolerance verifies', () => {
  const call = { body, timestamp: String(at), signature: signBody(secret, at, body) };
  expect(verifySignature(secret, call, at + 300)).toBe(true);
});
