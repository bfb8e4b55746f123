import type { Pool } from 'pg';
import type { Mode } from '../../policy/engine/evaluation';
import type { Lane } from '../../policy/lane';

/** Logged decisions as the replay reads them (migrations/006_decision_logs.sql). */
export interface LoggedDecision {
  decisionId: string;
  mode: Mode;
  input: unknown;
}

interface Row {
  decision_id: string;
  /** As text: a JS Date would drop the microseconds and the keyset would skip rows. */
  ts: string;
  mode: Mode;
  input: unknown;
}

const PAGE = 5000;

/**
 * A lane's logged decisions since `sinceMs`, newest first, at most `limit`, in pages: keyset paging
 * on (timestamp, decision_id) walks the lane/time index, so a million rows never sit in memory at
 * once. The next page is already being read while the caller works on this one.
 */
export async function* readLoggedDecisions(
  pool: Pool,
  lane: Lane,
  sinceMs: number,
  limit: number,
): AsyncGenerator<LoggedDecision[]> {
  const since = new Date(sinceMs);
  const read = async (after: Row | null, count: number): Promise<Row[]> =>
    (
      await pool.query<Row>(
        `SELECT decision_id, "timestamp"::text AS ts, mode, input
           FROM pkg_decision_logs
          WHERE env = $1 AND target = $2 AND region = $3 AND "timestamp" >= $4
            AND ($5::timestamptz IS NULL OR ("timestamp", decision_id) < ($5, $6::uuid))
          ORDER BY "timestamp" DESC, decision_id DESC
          LIMIT $7`,
        [lane.env, lane.target, lane.region, since, after?.ts ?? null, after?.decision_id ?? null, count],
      )
    ).rows;
  let left = limit;
  let next: Promise<Row[]> | null = read(null, Math.min(PAGE, left));
  try {
    while (next) {
      const page: Row[] = await next;
      left -= page.length;
      next = page.length > 0 && left > 0 ? read(page[page.length - 1]!, Math.min(PAGE, left)) : null;
      if (page.length > 0) yield page.map((row) => ({ decisionId: row.decision_id, mode: row.mode, input: row.input }));
    }
  } finally {
    // A caller that stops early leaves a read in flight: its failure must not go unhandled.
    void next?.catch(() => undefined);
  }
}
