import { ENVS, type Env } from '../lane';

/**
 * Roles and what each may do (README "Identity and access"). A grant is one role over a set of
 * envs. Every role may read (status, history, decision records, facts); admin may do everything;
 * the other roles are disjoint on purpose, so that deploying, approving and steering a rollout can
 * be given to different people.
 */
export const ROLES = [
  'viewer', // reads only: status, history, decision records, facts
  'author', // uploads and validates bundles, seals snapshots written as rows, evaluates, adds facts and memories
  'deployer', // starts promotions
  'approver', // approves the step waiting for approval
  'operator', // pause, resume, rollback, abort, revert
  'admin', // everything, plus tokens, evaluator keys, schedules, fact cleanup and memory pruning
] as const;
export type Role = (typeof ROLES)[number];

export interface Grant {
  role: Role;
  envs: readonly Env[];
}

/** Who made a request, as verified by a token or an OIDC JWT; `subject` is what audit rows record. */
export interface Identity {
  subject: string;
  grants: readonly Grant[];
}

/** Each API action and the role it needs; the table-driven test walks this table. */
export const ACTION_ROLES = {
  read: 'viewer',
  'bundle.upload': 'author',
  'bundle.validate': 'author',
  // Vouches for a snapshot's rows as an upload vouches for a bundle's files; it serves nothing by itself.
  'snapshot.seal': 'author',
  'facts.add': 'author',
  'memory.add': 'author',
  impact: 'author',
  evaluate: 'author',
  promote: 'deployer',
  approve: 'approver',
  pause: 'operator',
  resume: 'operator',
  rollback: 'operator',
  abort: 'operator',
  revert: 'operator',
  'token.manage': 'admin',
  // A key opens evaluation of every lane its scope reaches: admin of each env it reaches.
  'evaluator-key.manage': 'admin',
  schedule: 'admin',
  'facts.cleanup': 'admin',
  'memory.prune': 'admin',
} as const satisfies Record<string, Role>;
export type Action = keyof typeof ACTION_ROLES;

export type AccessDecision = { ok: true } | { ok: false; needed: Role; message: string };

const mayAct = (grant: Grant, needed: Role): boolean =>
  grant.role === needed || grant.role === 'admin' || needed === 'viewer';

/**
 * Whether the identity may take the action in every one of the envs. Actions that touch no single
 * env (facts, schedules) pass all envs: facts feed every env's decisions, so writing them needs the
 * role everywhere.
 */
export function authorize(identity: Identity, action: Action, envs: readonly Env[] = ENVS): AccessDecision {
  const needed: Role = ACTION_ROLES[action];
  // A verified JWT that no role rule matches holds nothing, not even the reads every role has.
  if (identity.grants.length === 0)
    return { ok: false, needed, message: `${action} needs role ${needed}: ${identity.subject} holds no role` };
  const missing = envs.filter((env) => !identity.grants.some((g) => g.envs.includes(env) && mayAct(g, needed)));
  if (missing.length === 0) return { ok: true };
  return { ok: false, needed, message: `${action} needs role ${needed} in ${missing.join(', ')}` };
}

/**
 * Separation of duties: in the envs that ask for it, the identity that started a rollout may not
 * approve its steps. Null when the approval may proceed.
 */
export function separationRefusal(approver: string, starter: string, env: Env, separatedEnvs: readonly Env[]) {
  if (!separatedEnvs.includes(env) || approver !== starter) return null;
  return `separation of duties in ${env}: ${approver} started this rollout, so another identity must approve it`;
}
