import type { Pool } from 'pg';
import { decisionEnv, readDecision, readDecisionChain } from '../activities/store/decisions';
import { verifyDecisionChain, type ChainVerification } from '../policy/rollout/decision-chain';
import { verifyDecision, type DecisionCheck } from '../policy/rollout/decision-record';

/** `pkgctl decision verify`: a stored record checked against its hash, signature and link. */
export interface DecisionVerification extends DecisionCheck {
  id: string;
  signed: boolean;
}

/** Hash and signature of the record, plus its link: the previous record exists in the same env. */
export async function verifyStoredDecision(
  pool: Pool,
  id: string,
  publicKeyPem?: string,
): Promise<DecisionVerification> {
  const stored = await readDecision(pool, id);
  const check = verifyDecision(stored, publicKeyPem);
  if (stored.previous_id !== null) {
    if ((await decisionEnv(pool, stored.previous_id)) !== stored.env)
      check.problems.push(`previous record ${stored.previous_id} is missing from env ${stored.env}`);
  }
  const recorded = JSON.parse(stored.canonical) as { previous_id: string | null };
  if (recorded.previous_id !== stored.previous_id)
    check.problems.push('stored previous_id differs from the one inside the record');
  return {
    id: stored.id,
    signed: stored.signature !== null,
    ok: check.problems.length === 0,
    problems: check.problems,
  };
}

/** `pkgctl decision verify --env`: the env's whole chain, naming its first broken link. */
export async function verifyEnvChain(pool: Pool, env: string, publicKeyPem?: string): Promise<ChainVerification> {
  return verifyDecisionChain(env, await readDecisionChain(pool, env), publicKeyPem);
}
