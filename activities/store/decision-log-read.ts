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
  ts: Date;
  mode: Mode;
  input: unknown;
}

const PAGE = 5000;

/**
 * A lane's logged decisions since `sinceMs`, newest first, at most `limit`, in pages: keyset paging
 * on (timestamp, decision_id) walks the lane/time index, so a million rows never sit in memory at once.
 */
export async function* readLoggedDecisions(
  pool: Pool,
  lane: Lane,
  sinceMs: number,
  limit: number,
): AsyncGenerator<LoggedDecision[]> {
  let after: { ts: Date; id: string } | null = null;
  for (let left = limit; left > 0;) {
    const page: Row[] = (
      await pool.query<Row>(
        `SELECT decision_id, "timestamp" AS ts, mode, input
         FROM pkg_decision_logs
        WHERE env = $1 AND target = $2 AND region = $3 AND "timestamp" >= $4
          AND ($5::timestamptz IS NULL OR ("timestamp", decision_id) < ($5, $6::uuid))
        ORDER BY "timestamp" DESC, decision_id DESC
        LIMIT $7`,
        [
          lane.env,
          lane.target,
          lane.region,
          new Date(sinceMs),
          after?.ts ?? null,
          after?.id ?? null,
          Math.min(PAGE, left),
        ],
      )
    ).rows;
    if (page.length === 0) return;
    yield page.map((row) => ({ decisionId: row.decision_id, mode: row.mode, input: row.input }));
    const last: Row = page[page.length - 1]!;
    after = { ts: last.ts, id: last.decision_id };
    left -= page.length;
  }
}
