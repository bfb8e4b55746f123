import { verifyDecision, type StoredDecision } from './decision-record';

/**
 * An env's decision records as one chain: from the one record with no predecessor, each record
 * followed by the one that names it. Every record is checked (hash, signature when a key is
 * given, the link stored beside it equal to the one inside it, its env), and every record must be
 * reached from the first; the first link that fails is named, with its position.
 */
export interface ChainRecord extends StoredDecision {
  env: string;
  previous_id: string | null;
}

export interface BrokenLink {
  id: string;
  /** 1 for the first record of the chain; null for a record not reached from it. */
  position: number | null;
  problems: string[];
}

export interface ChainVerification {
  env: string;
  ok: boolean;
  records: number;
  head: string | null;
  broken: BrokenLink | null;
}

/** `records` in the order they were written, so an unreached record is named by its age. */
export function verifyDecisionChain(
  env: string,
  records: readonly ChainRecord[],
  publicKeyPem?: string,
): ChainVerification {
  const result = (head: string | null, broken: BrokenLink | null): ChainVerification => ({
    env,
    ok: broken === null,
    records: records.length,
    head,
    broken,
  });
  const next = new Map(records.filter((r) => r.previous_id !== null).map((r) => [r.previous_id!, r]));
  const seen = new Set<string>();
  let current = records.find((r) => r.previous_id === null);
  let head: string | null = null;
  for (let position = 1; current && !seen.has(current.id); position += 1) {
    const problems = linkProblems(env, current, publicKeyPem);
    if (problems.length > 0) return result(head, { id: current.id, position, problems });
    seen.add(current.id);
    head = current.id;
    current = next.get(current.id);
  }
  const unreached = records.find((r) => !seen.has(r.id));
  if (!unreached) return result(head, null);
  const why =
    unreached.previous_id === null
      ? 'a second record without a predecessor'
      : `its previous record ${unreached.previous_id} is not in env ${env}'s chain`;
  return result(head, {
    id: unreached.id,
    position: null,
    problems: [`not reached from the chain's first record: ${why}`],
  });
}

function linkProblems(env: string, record: ChainRecord, publicKeyPem?: string): string[] {
  const { problems } = verifyDecision(record, publicKeyPem);
  if (record.env !== env) problems.push(`stored in env ${record.env}, not ${env}`);
  let inside: { env?: unknown; previous_id?: unknown } = {};
  try {
    inside = JSON.parse(record.canonical) as typeof inside;
  } catch {
    problems.push('the stored record is not JSON');
  }
  if (inside.previous_id !== record.previous_id)
    problems.push(
      `links to ${record.previous_id ?? 'nothing'}, but the record inside names ${JSON.stringify(inside.previous_id ?? null)}`,
    );
  if (inside.env !== env) problems.push(`the record inside names env ${JSON.stringify(inside.env ?? null)}`);
  return problems;
}
