import { createHash } from 'node:crypto';

/**
 * Notifications: every audited rollout event (stage changes, verdicts, operator actions, webhook
 * holds) told to configured sinks. The event is stored once, sink-independent, in
 * pkg_notifications; each sink gets its own delivery with its own dedupe key, so a down sink
 * delays only itself.
 */
/** The stored notification: one audited rollout event as sinks see it. */
export interface RolloutNotification {
  event: string;
  event_key: string;
  rollout_id: string;
  lane: string;
  env: string;
  /** The candidate's version, when the event names a snapshot. */
  version: string | null;
  step: number | null;
  percent: number | null;
  actor: string;
  reason: string | null;
  /** ISO time the event was recorded. */
  at: string;
}

export const SINK_KINDS = ['webhook', 'slack'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];

/** A sink's id names its kind and a hash of its URL: stable across restarts, and no secret URL in rows or labels. */
export interface Sink {
  id: string;
  kind: SinkKind;
  url: string;
}

export function sinkOf(kind: SinkKind, url: string): Sink {
  return { id: `${kind}:${createHash('sha256').update(url).digest('hex').slice(0, 12)}`, kind, url };
}

/** Sinks from comma-separated URL lists (the PKG_NOTIFY_* variables); blanks ignored. */
export function sinksFrom(urls: Partial<Record<SinkKind, string>>): Sink[] {
  return SINK_KINDS.flatMap((kind) =>
    (urls[kind] ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '')
      .map((url) => sinkOf(kind, url)),
  );
}

/** One line a person reads: lane, version, what happened, why. */
export function notificationText(n: RolloutNotification): string {
  const version = n.version ? ` ${n.version}` : '';
  const at = n.percent !== null && n.step !== null ? ` (step ${n.step + 1}, ${Number(n.percent)}%)` : '';
  const why = n.reason ? `: ${n.reason}` : '';
  return `[${n.lane}]${version} ${n.event.replaceAll('_', ' ')}${at} by ${n.actor}${why}`;
}

/**
 * The body a sink receives: the notification plus its dedupe key (`<event_key>@<sink id>`, the key a
 * receiver dedupes by), or Slack's incoming-webhook shape.
 */
export function deliveryBody(n: RolloutNotification, sink: Sink, dedupeKey: string): string {
  if (sink.kind === 'slack') {
    const text = notificationText(n);
    return JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] });
  }
  return JSON.stringify({ dedupe_key: dedupeKey, ...n });
}

/** Exponential backoff for a delivery that failed `attempts` times: base, 2×base, 4×base… up to max. */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}
