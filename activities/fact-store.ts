import type { ClientBase, Pool } from 'pg';
import type { Fact } from '../policy/evaluation';

/** A pool or a client inside a transaction: both answer queries the same way. */
export type FactQueryable = Pick<Pool, 'query'> | Pick<ClientBase, 'query'>;

/**
 * A fact as the evaluator sees it, plus where it came from and until when it holds. `validTo`
 * lets a cache drop an entry the moment its earliest fact expires instead of waiting for its TTL.
 */
export interface StoredFact extends Fact {
  id: string;
  namespace: string;
  subject: string;
  object: unknown;
  validFrom: Date;
  validTo: Date | null;
}

interface FactRow {
  id: string;
  namespace: string;
  subject: string;
  predicate: string;
  object: unknown;
  valid_from: Date;
  valid_to: Date | null;
}

/**
 * The facts valid now (valid_from ≤ now < valid_to, per the database clock) for one subject,
 * across namespaces, ordered by predicate then valid_from. The seed function keeps the validity
 * rule in one place, shared with `facts list`.
 */
export async function loadFactsForSubject(db: FactQueryable, subject: string): Promise<StoredFact[]> {
  const { rows } = await db.query<FactRow>(
    `SELECT id, namespace, subject, predicate, object, valid_from, valid_to
       FROM get_facts_by_subject($1, NULL, false)`,
    [subject],
  );
  return rows.map(toStoredFact);
}

/** The earliest moment any of these facts stops holding, or null if none expires. */
export function earliestExpiry(facts: readonly StoredFact[]): Date | null {
  let earliest: Date | null = null;
  for (const fact of facts) {
    if (fact.validTo && (!earliest || fact.validTo < earliest)) earliest = fact.validTo;
  }
  return earliest;
}

export function toStoredFact(row: FactRow): StoredFact {
  return {
    id: String(row.id),
    namespace: row.namespace,
    subject: row.subject,
    predicate: row.predicate,
    object: row.object,
    validFrom: row.valid_from,
    validTo: row.valid_to,
  };
}
