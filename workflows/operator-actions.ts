import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import {
  actionRefusal,
  OPERATOR_ACTIONS,
  payloadProblems,
  readRequest,
  type OperatorAction,
} from '../policy/rollout/operator-actions';
import { describeRollout, type OperatorRequest, type RolloutStatus } from '../policy/rollout/status';
import { operatorSignals, operatorUpdates, statusQuery } from './definitions';
import { control } from './promotion-activities';
import type { Run } from './promotion-state';

type Audit = (event: string, actor: string, reason?: string) => Promise<void>;

/** Audits operator messages in the order received; `pending` holds the writes still under way. */
function operatorAuditor({ rolloutId, input, state }: Run): { audit: Audit; pending: Promise<void>[] } {
  const pending: Promise<void>[] = [];
  const audit: Audit = (event, actor, reason) => {
    const { stepIndex: step, percent } = state.facts;
    const eventKey = `${rolloutId}:signal:${pending.length}`;
    const row = { rolloutId, eventKey, lane: input.lane, snapshotId: null, event, step, percent, actor, reason };
    const write = control.recordRolloutEvent(row);
    pending.push(write);
    return write;
  };
  return { audit, pending };
}

/** What an accepted action changes, and the audit event it is recorded as. */
function apply({ state }: Run, action: OperatorAction, { actor, reason }: OperatorRequest): AuditEntry {
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
      state.rollbackRequest = { actor, reason };
      return { event: 'rollback_requested', reason };
    case 'approve':
      return { event: 'approved', reason: `step ${state.approveWaiting() + 1}` };
  }
}

interface AuditEntry {
  event: string;
  reason: string;
}

/**
 * Operator actions (ARCHITECTURE.md §6) as Updates and as signals, one code path for both; each
 * accepted or ignored action is audited exactly once. Returns the pending audit writes.
 */
export function registerHandlers(run: Run): Promise<void>[] {
  const { state } = run;
  const { audit, pending } = operatorAuditor(run);
  const refusal = (action: OperatorAction) => actionRefusal(action, state.facts, state.stopping);
  const accept = (action: OperatorAction, request: OperatorRequest) => {
    const { event, reason } = apply(run, action, request);
    return audit(event, request.actor, reason);
  };
  setHandler(statusQuery, () => describeRollout(state.facts));
  for (const action of OPERATOR_ACTIONS) {
    // Never throws: an exception in a signal handler fails every later workflow task.
    setHandler(operatorSignals[action], (raw: unknown) => {
      const request = readRequest(raw);
      const refused = refusal(action);
      if (refused !== null) return void audit(`${action}_ignored`, request.actor, refused);
      void accept(action, request);
    });
    setHandler(
      operatorUpdates[action],
      async (raw: unknown): Promise<RolloutStatus> => {
        await accept(action, readRequest(raw));
        return describeRollout(state.facts);
      },
      {
        validator: (raw: unknown) => {
          const problems = payloadProblems(raw);
          if (problems.length > 0) {
            throw ApplicationFailure.create({ type: 'InputInvalid', message: `${action}: ${problems.join('; ')}` });
          }
          const refused = refusal(action);
          if (refused !== null)
            throw ApplicationFailure.create({ type: 'ActionRefused', message: `${action}: ${refused}` });
        },
      },
    );
  }
  return pending;
}
