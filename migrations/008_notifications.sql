-- Notifications (README "Webhooks and notifications"). Every audited rollout event also writes a
-- pkg_outbox row on channel pkg_notifications in the same transaction; the notifier fans each one
-- out into one delivery per configured sink, then marks the outbox row published. Deliveries keep
-- their own retry state, so a down sink never holds back hot-swap messages or other sinks.
-- IF NOT EXISTS: the statements are safe to run again (e.g. applied by hand before the numbering settles).
CREATE TABLE IF NOT EXISTS pkg_notification_deliveries (
  id              bigserial PRIMARY KEY,
  outbox_seq      bigint NOT NULL REFERENCES pkg_outbox (seq),
  sink            text NOT NULL CHECK (sink <> ''),
  -- What the receiver de-duplicates by: <event_key>@<sink>.
  dedupe_key      text NOT NULL UNIQUE,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pkg_notification_deliveries_due
  ON pkg_notification_deliveries (next_attempt_at) WHERE delivered_at IS NULL;

-- The hot-swap relay and the notifier each scan only their own channel's pending rows.
CREATE INDEX IF NOT EXISTS pkg_outbox_pending_by_channel ON pkg_outbox (channel, seq) WHERE published_at IS NULL;
