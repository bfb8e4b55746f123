import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { keyMatches, presentedKeyId } from '../../policy/access/evaluator-key';
import { compileKeyScope, parseKeyScope } from '../../policy/access/key-scope';
import type { LiveEvaluatorKey } from '../../activities/store/evaluator-keys';
import { EVALUATOR_KEYS_CHANNEL } from '../../policy/constants';
import type { Lane } from '../../policy/lane';
import { oneLine } from './service';

/**
 * The evaluator keys this process accepts, cached in memory so a request is authenticated without
 * I/O. The whole set is reread from Postgres on a period (at most 4 s) and whenever Redis announces
 * a change; an announced revocation drops the key before the reread. When Postgres is down the last
 * set stays, and a key still stops at its expiry.
 */
export interface CachedKey {
  id: string;
  name: string;
  sha256: Buffer;
  allows(lane: Lane): boolean;
  ratePerS: number;
  burst: number;
  expiresAtMs: number;
}

export interface EvaluatorKeyCache {
  /** The live key of an `Authorization` header; null when missing, malformed, unknown, wrong, revoked or expired. */
  authenticate(authorization: string | undefined, socket: Socket): CachedKey | null;
  refresh(): Promise<void>;
  /** Follows announcements on `subscriber` (a dedicated connection) and rereads on the period. */
  start(subscriber: Redis): void;
  stop(): void;
  status(): { keys: number; lastRefreshAt: string | null; error: string | null };
}

export interface EvaluatorKeyCacheDeps {
  load(): Promise<LiveEvaluatorKey[]>;
  refreshMs: number;
  log(line: string): void;
  now?: () => number;
}

/** A connection's last verified header: a keep-alive connection presents the same key again and again. */
interface Verified {
  authorization: string;
  key: CachedKey;
}

export function createEvaluatorKeyCache(deps: EvaluatorKeyCacheDeps): EvaluatorKeyCache {
  const now = deps.now ?? Date.now;
  let keys = new Map<string, CachedKey>();
  // Compared only with what the same connection already proved: a plain string comparison there
  // leaks nothing the caller does not hold, and saves the digest on every later request.
  const verified = new WeakMap<Socket, Verified>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let again = false;
  let lastRefreshAt: string | null = null;
  let error: string | null = null;

  const load = async () => {
    try {
      keys = new Map((await deps.load()).map((row) => [row.id, cachedKeyOf(row)]));
      lastRefreshAt = new Date(now()).toISOString();
      if (error !== null) deps.log('evaluator keys: reread again');
      error = null;
    } catch (failure) {
      if (error === null) deps.log(`evaluator keys: keeping the last ${keys.size}: ${oneLine(failure)}`);
      error = oneLine(failure);
    }
  };

  // Coalesced: a change announced during a reread is read by one more reread after it.
  const refresh = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = load().finally(() => {
      running = null;
      if (again) {
        again = false;
        void refresh();
      }
    });
    return running;
  };

  const onAnnouncement = (message: string) => {
    const id = announcedRevocation(message);
    if (id !== null) keys.delete(id);
    void refresh();
  };

  return {
    authenticate(authorization, socket) {
      if (authorization === undefined) return null;
      const memo = verified.get(socket);
      let key: CachedKey | undefined;
      if (memo && memo.authorization === authorization && keys.get(memo.key.id) === memo.key) key = memo.key;
      else {
        const id = presentedKeyId(authorization);
        key = id === null ? undefined : keys.get(id);
        if (!key || !keyMatches(authorization, key.sha256)) return null;
        verified.set(socket, { authorization, key });
      }
      // Most keys never expire: only those that do pay for reading the clock.
      return key.expiresAtMs === Infinity || key.expiresAtMs > now() ? key : null;
    },
    refresh,
    start(subscriber) {
      subscriber.on('ready', () => {
        subscriber.subscribe(EVALUATOR_KEYS_CHANNEL).then(
          () => refresh(),
          () => undefined,
        );
      });
      subscriber.on('error', () => undefined);
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === EVALUATOR_KEYS_CHANNEL) onAnnouncement(message);
      });
      timer = setInterval(() => void refresh(), deps.refreshMs);
      timer.unref();
    },
    stop: () => clearInterval(timer),
    status: () => ({ keys: keys.size, lastRefreshAt, error }),
  };
}

function cachedKeyOf(row: LiveEvaluatorKey): CachedKey {
  const scope = parseKeyScope(row.scope.join(','));
  return {
    id: row.id,
    name: row.name,
    sha256: row.sha256,
    // A row whose scope no longer parses allows nothing rather than everything.
    allows: scope.ok ? rememberLast(compileKeyScope(scope.value)) : () => false,
    ratePerS: row.ratePerS,
    burst: row.burst,
    expiresAtMs: row.expiresAt ? row.expiresAt.getTime() : Infinity,
  };
}

/** Requests that name no lane all get the evaluator's own lane object: its answer is kept. */
function rememberLast(allows: (lane: Lane) => boolean): (lane: Lane) => boolean {
  let last: Lane | null = null;
  let answer = false;
  return (lane) => {
    if (lane !== last) [last, answer] = [lane, allows(lane)];
    return answer;
  };
}

/** The id of an announced revocation; anything else only asks for a reread. */
function announcedRevocation(message: string): string | null {
  try {
    const parsed = JSON.parse(message) as { change?: unknown; id?: unknown };
    return parsed.change === 'revoked' && typeof parsed.id === 'string' ? parsed.id : null;
  } catch {
    return null;
  }
}
