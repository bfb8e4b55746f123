import { z } from 'zod';
import type { Redis } from 'ioredis';
import { envSchema, type Lane } from '../../policy/lane';
import { UPDATES_CHANNEL } from '../../policy/constants';

/**
 * Hot-swap hints on Redis `pkg_updates` (ARCHITECTURE.md §5). A message never carries the state itself:
 * it says which lane to re-read from Postgres, so a lost, duplicated or reordered message can at
 * worst delay a swap until the next reconcile, never apply a wrong one.
 */
export type UpdateHint = { kind: 'lane'; lane: Lane } | { kind: 'all'; reason: string };

const laneMessage = z.looseObject({
  type: z.enum(['activate', 'canary', 'rollback']),
  env: envSchema,
  target: z.string().min(1).default('default'),
  region: z.string().min(1).default('default'),
});

/** Unknown or malformed messages still mean "something changed": re-read every lane. */
export function parseUpdateHint(message: string): UpdateHint {
  // The pipeline worker decides whether a plain activate:<version> is honoured (worker/plain-activations.ts);
  // if it is, its lane message follows. Re-reading every lane now costs nothing and misses nothing.
  if (message.startsWith('activate:')) return { kind: 'all', reason: `plain ${message}` };
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return { kind: 'all', reason: 'unparseable message' };
  }
  const parsed = laneMessage.safeParse(json);
  if (!parsed.success) return { kind: 'all', reason: 'message without a lane' };
  const { env, target, region } = parsed.data;
  return { kind: 'lane', lane: { env, target, region } };
}

export interface UpdateListener {
  onHint(hint: UpdateHint): void;
  /** Called on every (re)connect: messages sent while disconnected are lost, so reconcile all. */
  onConnected(): void;
  onDisconnected(): void;
}

/** `subscriber` must be a dedicated connection: a subscribed connection can run nothing else. */
export function subscribeToUpdates(subscriber: Redis, listener: UpdateListener, channel = UPDATES_CHANNEL): void {
  let connected = false;
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => {
        connected = true;
        listener.onConnected();
      },
      () => undefined,
    );
  });
  subscriber.on('close', () => {
    if (connected) listener.onDisconnected();
    connected = false;
  });
  subscriber.on('error', () => undefined);
  subscriber.on('message', (received: string, message: string) => {
    if (received === channel) listener.onHint(parseUpdateHint(message));
  });
}
