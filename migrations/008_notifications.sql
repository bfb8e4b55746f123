-- Notifications (README "Webhooks and notifications"): an outbox of their own. Every audited rollout
-- event also writes a pkg_notifications row in the same transaction; the notifier fans each one out
-- into one delivery per configured sink and marks it fanned out. Not pkg_outbox: its relay publishes
-- every pending row in seq order, and a down sink must never hold back (or be taken for) a hot swap.
-- IF NOT EXISTS: safe to run again (e.g. applied by hand before the migration numbering settles).
CREATE TABLE IF NOT EXISTS pkg_notifications (
  seq           bigserial PRIMARY KEY,
  -- The audit row's event_key (pkg_rollout_events): one notification per event, however often written.
  event_key     text NOT NULL UNIQUE,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  fanned_out_at timestamptz
);
CREATE INDEX IF NOT EXISTS pkg_notifications_pending ON pkg_notifications (seq) WHERE fanned_out_at IS NULL;

-- One sink's copy of one notification, with its own retry state.
CREATE TABLE IF NOT EXISTS pkg_notification_deliveries (
  id               bigserial PRIMARY KEY,
  notification_seq bigint NOT NULL REFERENCES pkg_notifications (seq),
  sink             text NOT NULL CHECK (sink <> ''),
  -- What the receiver de-duplicates by: <event_key>@<sink>.
  dedupe_key       text NOT NULL UNIQUE,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pkg_notification_deliveries_due
  ON pkg_notification_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
