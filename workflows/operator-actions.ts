import { ApplicationFailure, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  actionRefusal,
  identityRefusal,
  OPERATOR_ACTIONS,
  payloadProblems,
  readRequest,
  readVerification,
  type OperatorAction,
} from '../policy/rollout/operator-actions';
import { describeRollout, type OperatorRequest, type RolloutStatus } from '../policy/rollout/status';
import { operatorSignals, operatorUpdates, statusQuery } from './definitions';
import { control } from './promotion-activities';
import type { Run } from './promotion-state';
import type { RolloutEvent } from '../activities/store/audit';

/** `verified` is absent in histories recorded before identities existed. */
type Audit = (event: string, actor: string, reason?: string, verified?: boolean) => Promise<void>;

/**
 * Audits operator messages in the order received; `pending` holds the writes still under way.
 * Behind `ordered-operator-audit` each write starts after the one before it ends: activities
 * scheduled together run in any order, and the audit trail (and the decision record built from
 * it) lists events in the order they were written. Behind `grouped-operator-audit` the messages
 * that arrive while a write is under way go together in the next one, in order: one write at a
 * time had 20 operators pausing one rollout wait for each other's activity (pause 43 → 13 a
 * second, npm run bench -- api).
 */
function operatorAuditor({ rolloutId, input, state }: Run): { audit: Audit; pending: Promise<void>[] } {
  const pending: Promise<void>[] = [];
  let previous: Promise<unknown> = Promise.resolve();
  let next: { rows: RolloutEvent[]; write: Promise<void> } | null = null;
  const grouped = (row: RolloutEvent): Promise<void> => {
    if (!next) {
      const rows: RolloutEvent[] = [];
      const write = previous.then(() => {
        next = null;
        return control.recordRolloutEvents(rows);
      });
      next = { rows, write };
      previous = write.catch(() => undefined);
    }
    next.rows.push(row);
    return next.write;
  };
  const audit: Audit = (event, actor, reason, actorVerified) => {
    const { stepIndex: step, percent } = state.facts;
    const eventKey = `${rolloutId}:signal:${pending.length}`;
    const base = { rolloutId, eventKey, lane: input.lane, snapshotId: null, event, step, percent, actor, reason };
    const row = actorVerified === undefined ? base : { ...base, actorVerified };
    let write: Promise<void>;
    if (!patched('ordered-operator-audit')) write = control.recordRolloutEvent(row);
    else if (patched('grouped-operator-audit')) write = grouped(row);
    else {
      write = previous.then(() => control.recordRolloutEvent(row));
      // A failed write is reported through `pending`; the ones after it are still made.
      previous = write.catch(() => undefined);
    }
    pending.push(write);
    return write;
  };
  return { audit, pending };
}

/** What an accepted action changes, and the audit event it is recorded as. */
function apply(
  { state }: Run,
  action: OperatorAction,
  { actor, reason }: OperatorRequest,
  verified?: boolean,
): AuditEntry {
  switch (action) {
    case 'pause':
      state.hold('paused', reason, actor);
      state.publish();
      return { event: 'paused', reason };
    case 'resume':
      state.release('paused');
      state.publish();
      return { event: 'resumed', reason };
    case 'rollback':
      state.rollbackRequest = verified === undefined ? { actor, reason } : { actor, reason, verified };
      return { event: 'rollback_requested', reason };
    case 'approve':
      return { event: 'approved', reason: `step ${state.approveWaiting() + 1}` };
  }
}

interface AuditEntry {
  event: string;
  reason: string;
}

/** Who sent an Update: the identity the API verified when its verification resolves, else the payload's actor, unverified. */
async function identify(action: OperatorAction, raw: unknown, request: OperatorRequest) {
  const verification = readVerification(raw);
  if (verification === null) return { actor: request.actor, verified: false };
  const { workflowId } = workflowInfo();
  const subject = await control.verifyOperator({ workflowId, action, verification });
  return subject === null ? { actor: request.actor, verified: false } : { actor: subject, verified: true };
}

const failure = (type: 'InputInvalid' | 'ActionRefused' | 'Forbidden', action: OperatorAction, message: string) =>
  ApplicationFailure.create({ type, message: `${action}: ${message}` });

/**
 * Operator actions (ARCHITECTURE.md §6) as Updates and as signals, one code path for both; each
 * accepted or ignored action is audited exactly once. Behind `verified-identity`, each is audited
 * as verified or not, and resume and approve without a verified identity are refused where the
 * plan requires one. Returns the pending audit writes.
 */
export function registerHandlers(run: Run): Promise<void>[] {
  const { state } = run;
  const { audit, pending } = operatorAuditor(run);
  const refusal = (action: OperatorAction) => actionRefusal(action, state.facts, state.stopping);
  const accept = (action: OperatorAction, request: OperatorRequest, verified?: boolean) => {
    const { event, reason } = apply(run, action, request, verified);
    return audit(event, request.actor, reason, verified);
  };
  setHandler(statusQuery, () => describeRollout(state.facts));
  for (const action of OPERATOR_ACTIONS) {
    // Never throws: an exception in a signal handler fails every later workflow task.
    setHandler(operatorSignals[action], (raw: unknown) => {
      const request = readRequest(raw);
      const identified = patched('verified-identity');
      const refused = refusal(action) ?? (identified ? identityRefusal(action, false, state.verifiedIdentity) : null);
      const verified = identified ? false : undefined;
      if (refused !== null) return void audit(`${action}_ignored`, request.actor, refused, verified);
      void accept(action, request, verified);
    });
    setHandler(
      operatorUpdates[action],
      async (raw: unknown): Promise<RolloutStatus> => {
        const request = readRequest(raw);
        if (!patched('verified-identity')) {
          await accept(action, request);
          return describeRollout(state.facts);
        }
        const { actor, verified } = await identify(action, raw, request);
        // The state may have moved while the verification was read.
        const refused = refusal(action);
        if (refused !== null) throw failure('ActionRefused', action, refused);
        const unverified = identityRefusal(action, verified, state.verifiedIdentity);
        if (unverified !== null) {
          await audit(`${action}_refused`, actor, unverified, verified);
          throw failure('Forbidden', action, unverified);
        }
        await accept(action, { ...request, actor }, verified);
        return describeRollout(state.facts);
      },
      {
        validator: (raw: unknown) => {
          const problems = payloadProblems(raw);
          if (problems.length > 0) throw failure('InputInvalid', action, problems.join('; '));
          const refused = refusal(action);
          if (refused !== null) throw failure('ActionRefused', action, refused);
          // Without a verification nothing can verify it later: refused before it enters history.
          const unverified = readVerification(raw) === null;
          const identity = unverified ? identityRefusal(action, false, state.verifiedIdentity) : null;
          if (identity !== null) throw failure('Forbidden', action, identity);
        },
      },
    );
  }
  return pending;
}
