import type { Queryable } from './transaction';
import { laneName, type Lane } from '../../policy/lane';
import type { RolloutNotification } from '../../policy/notify/notification';

/**
 * Rollout audit rows (pkg_rollout_events) and outbox rows (pkg_outbox). Both are keyed for
 * idempotency: a retried or replayed activity inserts nothing the second time. Every audit row
 * writes its notification (pkg_notifications) in the caller's transaction, so nobody is told of an
 * event that did not commit, and no committed event goes untold.
 */
export interface RolloutEvent {
  rolloutId: string;
  /** Unique per transition, e.g. `<rolloutId>:step:2`; the same key never writes twice. */
  eventKey: string;
  lane: Lane;
  snapshotId: string | null;
  event: string;
  step?: number | null;
  percent?: number | null;
  isRollback?: boolean;
  actor: string;
  /** Operator events: whether the API verified the actor; absent for the workflow's own events. */
  actorVerified?: boolean;
  reason?: string | null;
  details?: Record<string, unknown>;
}

export async function insertRolloutEvent(db: Queryable, e: RolloutEvent): Promise<void> {
  await db.query(
    `INSERT INTO pkg_rollout_events
       (rollout_id, event_key, env, target, region, snapshot_uuid, event, step, to_percent, is_rollback, actor, reason, details,
        actor_verified)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (event_key) DO NOTHING`,
    [
      e.rolloutId,
      e.eventKey,
      e.lane.env,
      e.lane.target,
      e.lane.region,
      e.snapshotId,
      e.event,
      e.step ?? null,
      e.percent ?? null,
      e.isRollback ?? false,
      e.actor,
      e.reason ?? null,
      JSON.stringify(e.details ?? {}),
      e.actorVerified ?? null,
    ],
  );
  await insertNotification(db, e);
}

type StoredFields = 'version' | 'at';

/** The event as sinks see it (pkg_notifications); the candidate's version and the time come from the database. */
async function insertNotification(db: Queryable, e: RolloutEvent): Promise<void> {
  const notification: Omit<RolloutNotification, StoredFields> = {
    event: e.event,
    event_key: e.eventKey,
    rollout_id: e.rolloutId,
    lane: laneName(e.lane),
    env: e.lane.env,
    step: e.step ?? null,
    percent: e.percent ?? null,
    actor: e.actor,
    reason: e.reason ?? null,
  };
  // One delivery per sink a notifier has registered (store/notifications.ts), keyed <event_key>@<sink>.
  await db.query(
    `WITH notification AS (
       INSERT INTO pkg_notifications (event_key, payload)
       VALUES ($1, $2::jsonb || jsonb_build_object(
         'version', (SELECT version FROM pkg_snapshots WHERE id = $3::uuid),
         'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
       ON CONFLICT (event_key) DO NOTHING
       RETURNING seq, event_key)
     INSERT INTO pkg_notification_deliveries (notification_seq, sink, dedupe_key)
     SELECT n.seq, s.id, n.event_key || '@' || s.id
       FROM notification n CROSS JOIN pkg_notification_sinks s
      WHERE s.last_seen_at > now() - interval '1 hour'`,
    [e.eventKey, JSON.stringify(notification), e.snapshotId],
  );
}

/** The hot-swap message of ARCHITECTURE.md §5, minus `seq` which the relay adds from the row. */
export interface LaneUpdate {
  type: 'activate' | 'canary' | 'rollback';
  env: string;
  target: string;
  region: string;
  version: string;
  snapshot_id: string;
  checksum: string;
  percent: number;
}

export async function insertOutboxMessage(db: Queryable, dedupeKey: string, update: LaneUpdate): Promise<void> {
  await db.query(`INSERT INTO pkg_outbox (dedupe_key, payload) VALUES ($1, $2) ON CONFLICT (dedupe_key) DO NOTHING`, [
    dedupeKey,
    JSON.stringify(update),
  ]);
}
