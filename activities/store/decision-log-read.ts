import type { Pool } from 'pg';
import type { Mode } from '../../policy/engine/evaluation';
import type { Lane } from '../../policy/lane';

/** Logged decisions as the replay reads them (migrations/008_decision_log_chunks.sql). */
export interface LoggedDecision {
  decisionId: string;
  mode: Mode;
  input: unknown;
}

interface ChunkRow {
  chunk_id: string;
  /** As text: a JS Date would drop the microseconds and the keyset would skip chunks. */
  first_at: string;
  body: string;
}

interface Line {
  decision_id: string;
  at: number;
  mode: Mode;
  input: unknown;
}

/** Chunks per read: with 500 decisions a chunk, a page is a few thousand decisions. */
const PAGE = 10;

/**
 * A lane's logged decisions since `sinceMs`, newest first, at most `limit`, a page of chunks at a
 * time: keyset paging on (first_at, chunk_id) walks the lane/time index, so a million decisions
 * never sit in memory at once. The next page is already being read while the caller works on this one.
 */
export async function* readLoggedDecisions(
  pool: Pool,
  lane: Lane,
  sinceMs: number,
  limit: number,
): AsyncGenerator<LoggedDecision[]> {
  const read = async (after: ChunkRow | null): Promise<ChunkRow[]> =>
    (
      await pool.query<ChunkRow>(
        `SELECT chunk_id, first_at::text AS first_at, body
           FROM pkg_decision_log_chunks
          WHERE env = $1 AND target = $2 AND region = $3 AND last_at >= $4
            AND ($5::timestamptz IS NULL OR (first_at, chunk_id) < ($5, $6::uuid))
          ORDER BY first_at DESC, chunk_id DESC
          LIMIT $7`,
        [lane.env, lane.target, lane.region, new Date(sinceMs), after?.first_at ?? null, after?.chunk_id ?? null, PAGE],
      )
    ).rows;
  let left = limit;
  let next: Promise<ChunkRow[]> | null = read(null);
  try {
    while (next) {
      const chunks: ChunkRow[] = await next;
      next = chunks.length === PAGE ? read(chunks[chunks.length - 1]!) : null;
      const page = newestFirst(chunks, sinceMs).slice(0, left);
      left -= page.length;
      if (left <= 0) next = null;
      if (page.length > 0)
        yield page.map((line) => ({ decisionId: line.decision_id, mode: line.mode, input: line.input }));
    }
  } finally {
    // A caller that stops early leaves a read in flight: its failure must not go unhandled.
    void next?.catch(() => undefined);
  }
}

/** The chunks' decisions since `sinceMs`, newest first (a chunk's lines are in time order). */
function newestFirst(chunks: readonly ChunkRow[], sinceMs: number): Line[] {
  const lines = chunks.flatMap((chunk) => chunk.body.split('\n').map((text) => JSON.parse(text) as Line));
  return lines
    .filter((line) => line.at >= sinceMs)
    .sort((a, b) => b.at - a.at || (a.decision_id < b.decision_id ? 1 : -1));
}
