import { FINAL_STAGES, holdOf, type OperatorRequest, type RolloutFacts } from './status';

/**
 * Operator actions on a running rollout (ARCHITECTURE.md §6). They arrive two ways: as Updates,
 * whose validator refuses a bad payload before it enters history, and as signals (the Temporal UI's
 * path), which cannot be refused and so are read defensively: a handler that throws would fail every
 * workflow task from then on and wedge the rollout.
 */
export const OPERATOR_ACTIONS = ['pause', 'resume', 'rollback', 'approve'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** Actions that widen exposure: in envs that require it, only an identity the API verified may send them. */
const WIDENING: readonly OperatorAction[] = ['resume', 'approve'];

/**
 * Why this action is refused for want of a verified identity, or null. Pause and rollback only
 * reduce exposure and are honoured from anyone; resume and approve, in a rollout whose plan says
 * its env requires it, must come through the control-plane API.
 */
export function identityRefusal(action: OperatorAction, verified: boolean, required: boolean): string | null {
  if (verified || !required || !WIDENING.includes(action)) return null;
  return (
    `${action} needs a verified identity in this env, and one sent straight through Temporal (UI, CLI, ` +
    `pkgctl without the API) has none: run pkgctl ${action} with PKG_API_URL and PKG_TOKEN set ` +
    `(or POST /v1/rollouts/<env>/<target>/<region>/${action}); pause and rollback work from anywhere`
  );
}

/** The id of the API's verification an Update carries (pkg_verified_actions), or null. */
export function readVerification(raw: unknown): string | null {
  const value = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).verification : undefined;
  return typeof value === 'string' && value.length <= 64 ? value : null;
}

/** Who acted when a signal names nobody; recorded as such rather than guessed. */
export const UNKNOWN_ACTOR = 'unknown';

const MAX_TEXT = 500;

/** An Update's payload, checked: the problems name each bad field, empty when it is fine. */
export function payloadProblems(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return [`payload must be an object like {"actor":"alice","reason":"…"}, got ${describe(raw)}`];
  }
  const { actor, reason } = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof actor !== 'string' || actor.trim() === '')
    problems.push(`actor must be a non-empty string, got ${describe(actor)}`);
  else if (actor.length > MAX_TEXT) problems.push(`actor is longer than ${MAX_TEXT} characters`);
  const { verification } = raw as Record<string, unknown>;
  if (verification !== undefined && typeof verification !== 'string')
    problems.push(`verification must be a string, got ${describe(verification)}`);
  if (reason !== undefined && typeof reason !== 'string')
    problems.push(`reason must be a string, got ${describe(reason)}`);
  else if (typeof reason === 'string' && reason.length > MAX_TEXT)
    problems.push(`reason is longer than ${MAX_TEXT} characters`);
  return problems;
}

/** A signal's payload as far as it can be read: never throws; a missing actor is UNKNOWN_ACTOR. */
export function readRequest(raw: unknown): OperatorRequest {
  const fields = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const text = (value: unknown) => (typeof value === 'string' ? value.trim().slice(0, MAX_TEXT) : '');
  return { actor: text(fields.actor) || UNKNOWN_ACTOR, reason: text(fields.reason) };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

/**
 * Why the rollout's state refuses this action now, or null when it may proceed. The same answer
 * refuses an Update synchronously and turns a signal into an audited no-op.
 */
export function actionRefusal(action: OperatorAction, facts: RolloutFacts, rollbackRequested: boolean): string | null {
  if (FINAL_STAGES.includes(facts.stage)) return `the rollout has already ended (${facts.stage})`;
  if (rollbackRequested) return 'a rollback was already requested: the rollout is ending';
  switch (action) {
    case 'pause':
    case 'rollback':
      return null;
    case 'resume':
      return holdOf(facts, 'paused') ? null : 'the rollout is not paused';
    case 'approve': {
      if (holdOf(facts, 'approval')) return null;
      const at = facts.steps.length > 0 ? ` (now ${facts.stage} at ${facts.percent}%)` : '';
      return `no step is waiting for approval${at}: approve once status shows "waiting for approval"`;
    }
  }
}
