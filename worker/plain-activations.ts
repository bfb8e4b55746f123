import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { honourPlainActivation } from '../activities/store/plain-activation';
import { UPDATES_CHANNEL } from '../policy/constants';
import {
  describePlainActivation,
  plainActivationVersion,
  type PlainActivation,
} from '../policy/rollout/plain-activation';

/**
 * The control plane's ear on `pkg_updates` for the seed's plain `activate:<version>` messages
 * (policy/rollout/plain-activation.ts): each is honoured or refused, and logged either way. Lane
 * messages (JSON, from the outbox relay) are the evaluators' business and ignored here.
 */
export interface PlainActivationListenerDeps {
  /** A dedicated connection: a subscribed connection can run nothing else. */
  subscriber: Redis;
  pool: Pool;
  log: (line: string) => void;
  onResult?: (result: PlainActivation) => void;
  channel?: string;
}

export const PLAIN_ACTIVATION_ACTOR = 'pkg_updates';

export function listenForPlainActivations(deps: PlainActivationListenerDeps): Promise<void> {
  const channel = deps.channel ?? UPDATES_CHANNEL;
  deps.subscriber.on('message', (received: string, message: string) => {
    const version = received === channel ? plainActivationVersion(message) : null;
    if (version === null) return;
    honourPlainActivation(deps.pool, version, PLAIN_ACTIVATION_ACTOR).then(
      (result) => {
        deps.log(describePlainActivation(result));
        deps.onResult?.(result);
      },
      (error: Error) => deps.log(`plain activate:${version}: failed: ${error.message}`),
    );
  });
  return deps.subscriber.subscribe(channel).then(() => undefined);
}
