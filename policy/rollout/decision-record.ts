import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { StepVerdict } from './gates';
import type { ReplayVerdict } from './impact';
import type { RolloutConfig } from './config';
import type { MergeReceipt } from './merge-receipt';
import { laneName, type Lane } from '../lane';

/**
 * Decision records (ARCHITECTURE.md §6): after a rollout ends, one canonical JSON document (RFC 8785 via
 * `canonicalize`) says what was decided and why. Its id is the sha256 of that text, and it names the
 * previous record of its env, so the chain is tamper-evident; an Ed25519 signature is optional.
 */
export type Outcome = 'promoted' | 'rolled_back' | 'rejected' | 'reverted' | 'aborted';

export interface DecisionEvent {
  event: string;
  step: number | null;
  percent: number | null;
  actor: string;
  reason: string | null;
  is_rollback: boolean;
  at: string;
}

export interface DecisionRecord {
  schema: 1;
  env: string;
  lane: Lane;
  rollout_id: string;
  outcome: Outcome;
  reason: string;
  snapshot: { id: string; version: string; checksum: string } | null;
  previous_snapshot: { id: string; version: string } | null;
  validation: { passed: number; failed: number } | null;
  verdicts: StepVerdict[];
  /** Present when the rollout had a replay stage: its verdict with its numbers. */
  replay?: ReplayVerdict;
  events: DecisionEvent[];
  actors: string[];
  previous_id: string | null;
  decided_at: string;
  /**
   * The merged rollout plan that was in force and how its layers made it (policy/rollout/merge-receipt.ts).
   * Absent where no plan was merged (a revert, a rollout refused while planning) and in records
   * written before plans were kept.
   */
  plan?: RolloutConfig;
  merge_receipt?: MergeReceipt;
}

export function canonicalDecision(record: DecisionRecord): string {
  const text = canonicalize(record);
  if (text === undefined) throw new Error('decision record is not serialisable');
  return text;
}

export function decisionId(canonical: string): string {
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

export function signDecision(canonical: string, privateKeyPem: string): string {
  return sign(null, Buffer.from(canonical, 'utf8'), createPrivateKey(privateKeyPem)).toString('base64');
}

/** Accepts a public key or a private key PEM (from which the public half is derived). */
export function publicKeyOf(pem: string): KeyObject {
  return pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
}

export interface StoredDecision {
  id: string;
  canonical: string;
  signature: string | null;
}

export interface DecisionCheck {
  ok: boolean;
  problems: string[];
}

/** Recomputes the id from the stored text and, given a key, checks the signature. */
export function verifyDecision(stored: StoredDecision, publicKeyPem?: string): DecisionCheck {
  const problems: string[] = [];
  const recomputed = decisionId(stored.canonical);
  if (recomputed !== stored.id) problems.push(`content hash ${recomputed} does not match id ${stored.id}`);
  if (publicKeyPem !== undefined) {
    if (stored.signature === null) problems.push('record is unsigned');
    else if (
      !verify(
        null,
        Buffer.from(stored.canonical, 'utf8'),
        publicKeyOf(publicKeyPem),
        Buffer.from(stored.signature, 'base64'),
      )
    ) {
      problems.push('signature does not verify with the given key');
    }
  }
  return { ok: problems.length === 0, problems };
}

const OUTCOME_TEXT: Record<Outcome, string> = {
  promoted: 'was promoted',
  rolled_back: 'was rolled back',
  rejected: 'was rejected before any traffic',
  reverted: 'was restored by a revert',
  aborted: 'was withdrawn after its rollout died',
};

/** A few sentences for humans; the canonical JSON stays the source of truth. */
export function narrateDecision(record: DecisionRecord): string {
  const lane = laneName(record.lane);
  const version = record.snapshot?.version ?? 'the candidate';
  const lines = [`${version} ${OUTCOME_TEXT[record.outcome]} on lane ${lane}: ${record.reason}.`];
  if (record.validation)
    lines.push(`Fixtures: ${record.validation.passed} passed, ${record.validation.failed} failed.`);
  if (record.merge_receipt) lines.push(narrateReceipt(record.merge_receipt));
  if (record.replay) lines.push(`${record.replay.message}.`);
  const passed = record.verdicts.filter((v) => v.verdict === 'pass').length;
  if (record.verdicts.length > 0) lines.push(`Gates: ${passed} of ${record.verdicts.length} verdict(s) passed.`);
  const last = record.verdicts[record.verdicts.length - 1];
  if (last && last.verdict !== 'pass') lines.push(`Last verdict: ${last.message}.`);
  if (record.previous_snapshot) lines.push(`Baseline was ${record.previous_snapshot.version}.`);
  lines.push(`Actors: ${record.actors.join(', ') || 'system'}.`);
  return lines.join(' ');
}

/** The receipt in one sentence: the plan's hash and which layer tightened which fields. */
function narrateReceipt(receipt: MergeReceipt): string {
  const tightening = receipt.layers
    .filter((layer) => layer.fields_tightened.length > 0)
    .map(
      (layer) => `${layer.name} tightened ${layer.fields_tightened.map((f) => f.slice(0, f.indexOf(': '))).join(', ')}`,
    );
  const merged = receipt.layers.map((layer) => layer.name).join(' → ');
  return `Plan ${receipt.merged_hash.slice(0, 12)} (${merged}): ${tightening.join('; ') || 'the global defaults as they are'}.`;
}
