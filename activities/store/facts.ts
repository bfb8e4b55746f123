import { DatabaseError } from 'pg';
import { PkgError } from '../../policy/errors';
import type { Fact } from '../../policy/engine/evaluation';
import type { NewFact } from '../../policy/facts/input';
import type { Queryable } from './transaction';

/**
 * A fact as the evaluator sees it, plus where it came from and until when it holds. `validTo`
 * lets the evaluator's cache drop an entry the moment its earliest fact expires.
 */
export interface StoredFact extends Fact {
  id: string;
  namespace: string;
  subject: string;
  object: unknown;
  validFrom: Date;
  validTo: Date | null;
}

const FACT_COLUMNS = 'id, namespace, subject, predicate, object, valid_from, valid_to';

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
export async function loadFactsForSubject(db: Queryable, subject: string): Promise<StoredFact[]> {
  const { rows } = await db.query<FactRow>(`SELECT ${FACT_COLUMNS} FROM get_facts_by_subject($1, NULL, false)`, [
    subject,
  ]);
  return rows.map(toStoredFact);
}

/** Stores one validated fact; valid_from defaults to now and a ttl counts from valid_from. */
export async function addFact(db: Queryable, fact: NewFact): Promise<StoredFact> {
  try {
    const { rows } = await db.query<FactRow>(
      `INSERT INTO pkg_facts (namespace, subject, predicate, object, valid_from, valid_to)
       SELECT $1, $2, $3, $4, start, coalesce($6, start + $7::bigint * interval '1 millisecond')
         FROM (SELECT coalesce($5::timestamptz, now()) AS start) s
       RETURNING ${FACT_COLUMNS}`,
      [
        fact.namespace,
        fact.subject,
        fact.predicate,
        fact.object,
        fact.validFrom ?? null,
        fact.validTo ?? null,
        fact.ttl ?? null,
      ],
    );
    return toStoredFact(rows[0] as FactRow);
  } catch (error) {
    if (error instanceof DatabaseError && error.constraint === 'chk_facts_temporal') {
      throw new PkgError(
        'InputInvalid',
        `fact for ${fact.subject}: valid_to ${fact.validTo?.toISOString()} is before valid_from (${fact.validFrom?.toISOString() ?? 'now'})`,
      );
    }
    throw error;
  }
}

export interface FactQuery {
  subject: string;
  namespace?: string | null;
  includeExpired?: boolean;
}

/** A subject's facts, valid now unless expired (and not-yet-valid) ones are asked for too. */
export async function listFacts(db: Queryable, query: FactQuery): Promise<StoredFact[]> {
  const { rows } = await db.query<FactRow>(`SELECT ${FACT_COLUMNS} FROM get_facts_by_subject($1, $2, $3)`, [
    query.subject,
    query.namespace ?? null,
    query.includeExpired ?? false,
  ]);
  return rows.map(toStoredFact);
}

export interface FactStatistics {
  namespace: string;
  total: number;
  temporal: number;
  expired: number;
  active: number;
}

/** The seed's get_fact_statistics, per namespace (one namespace or all). */
export async function getFactStatistics(db: Queryable, namespace: string | null = null): Promise<FactStatistics[]> {
  const { rows } = await db.query<Record<keyof FactStatistics, string>>(
    'SELECT namespace, total, temporal, expired, active FROM get_fact_statistics($1)',
    [namespace],
  );
  return rows.map((row) => ({
    namespace: row.namespace,
    total: Number(row.total),
    temporal: Number(row.temporal),
    expired: Number(row.expired),
    active: Number(row.active),
  }));
}

function toStoredFact(row: FactRow): StoredFact {
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
