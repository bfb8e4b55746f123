-- Notifications (README "Webhooks and notifications"): an outbox of their own. Every audited rollout
-- event writes a pkg_notifications row, and one pkg_notification_deliveries row per registered sink,
-- in the transaction of its pkg_rollout_events row. Not pkg_outbox: its relay publishes every pending
-- row in seq order, and a down sink must never hold back (or be taken for) a hot swap.
-- IF NOT EXISTS: safe to run again (e.g. applied by hand before the migration numbering settles).
CREATE TABLE IF NOT EXISTS pkg_notifications (
  seq        bigserial PRIMARY KEY,
  -- The audit row's event_key (pkg_rollout_events): one notification per event, however often written.
  event_key  text NOT NULL UNIQUE,
  payload    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Sinks a notifier has configured, by id (kind and a hash of the URL; the URL stays in the
-- notifier's environment). A notifier refreshes last_seen_at; an event gets a delivery for each sink
-- seen within the last hour, so a new sink starts from now and a sink nobody configures any more
-- stops collecting deliveries.
CREATE TABLE IF NOT EXISTS pkg_notification_sinks (
  id            text PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN ('webhook', 'slack')),
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- One sink's copy of one notification, with its own retry state.
CREATE TABLE IF NOT EXISTS pkg_notification_deliveries (
  id               bigserial PRIMARY KEY,
  notification_seq bigint NOT NULL REFERENCES pkg_notifications (seq),
  sink             text NOT NULL REFERENCES pkg_notification_sinks (id),
  -- What the receiver dedupes by: <event_key>@<sink>.
  dedupe_key       text NOT NULL UNIQUE,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pkg_notification_deliveries_due
  ON pkg_notification_deliveries (sink, next_attempt_at) WHERE delivered_at IS NULL;
