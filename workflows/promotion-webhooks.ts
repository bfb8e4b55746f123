import { ActivityFailure, condition, isCancellation, type ActivityOptions } from '@temporalio/workflow';
import { REASONS } from '../policy/rollout/reasons';
import { webhookPayload, webhooksOfType, type Webhook, type WebhookType } from '../policy/rollout/webhooks';
import { control } from './promotion-activities';
import type { Run } from './promotion-state';

/**
 * Rollout webhooks (Flagger's set) in the workflow. Gating ones (pre-rollout, confirm-rollout,
 * confirm-promotion) either pass, hold the rollout and ask again every interval, or fail it;
 * informational ones (rollback, post-rollout) are told and their failure changes nothing. Each
 * outcome is an audit event, and so a notification.
 */
/** How the rollout ended, as the informational webhooks are told. */
export interface Told {
  outcome: string;
  reason: string;
}

/** A gate's answer: go on, end the rollout with this reason, or stop because an operator asked for a rollback. */
export type GateAnswer = { kind: 'pass' } | { kind: 'fail'; reason: string } | { kind: 'stopped' };

const PASS: GateAnswer = { kind: 'pass' };

/** The webhook's own timeout and retries; the same idempotency key goes with every retry. */
function callOptions(hook: Webhook): ActivityOptions {
  return {
    startToCloseTimeout: hook.timeoutMs + 5000,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: hook.retries + 1 },
    summary: `${hook.type} webhook ${hook.name}`,
  };
}

/** Calls once (with its retries); returns null on 2xx, or what went wrong. */
async function ask(run: Run, hook: Webhook, asked: number, told: Told | null): Promise<string | null> {
  const { state } = run;
  const payload = webhookPayload(hook, {
    rolloutId: run.rolloutId,
    lane: run.input.lane,
    candidate: state.evidence.candidate,
    baselineVersion: state.evidence.baseline?.version ?? null,
    stepIndex: state.facts.stepIndex,
    stepCount: state.facts.steps.length,
    percent: state.facts.percent,
    verdicts: state.facts.verdicts,
    outcome: told?.outcome ?? null,
    reason: told?.reason ?? null,
  });
  const idempotencyKey = `${run.rolloutId}:webhook:${hook.name}:${asked}`;
  try {
    await control.callRolloutWebhook.executeWithOptions(callOptions(hook), [{ hook, payload, idempotencyKey }]);
    return null;
  } catch (error) {
    // Refused, unreachable or timed out after its retries: an answer that is not a yes. A cancelled
    // workflow is not an answer.
    if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
    return error.cause?.message ?? error.message;
  }
}

async function hookEvent(run: Run, hook: Webhook, outcome: string, reason: string): Promise<void> {
  const { rolloutId, input, state } = run;
  await control.recordRolloutEvent({
    rolloutId,
    eventKey: `${rolloutId}:webhook:${hook.name}:${outcome}`,
    lane: input.lane,
    snapshotId: state.evidence.candidate?.snapshotId ?? null,
    event: `webhook_${outcome}`,
    step: state.facts.stepIndex < 0 ? null : state.facts.stepIndex,
    percent: state.facts.percent,
    actor: `webhook:${hook.name}`,
    reason,
    // Not the URL: it may carry a token, and audit rows are read widely.
    details: { type: hook.type },
  });
}

/**
 * One gating webhook: a failure either fails the rollout (on_failure: fail) or holds it, asking
 * again every interval until it confirms or an operator rolls back (which releases the hold).
 */
async function gate(run: Run, hook: Webhook): Promise<GateAnswer> {
  const { state } = run;
  for (let asked = 0; ; asked++) {
    const failure = await ask(run, hook, asked, null);
    if (failure === null) {
      if (state.isHeld('confirmation')) {
        state.release('confirmation');
        state.publish();
      }
      await hookEvent(run, hook, 'confirmed', REASONS.webhookConfirmed(hook.type, hook.name));
      return PASS;
    }
    if (hook.onFailure === 'fail') {
      const reason = REASONS.webhookFailed(hook.type, hook.name, failure);
      await hookEvent(run, hook, 'failed', reason);
      return { kind: 'fail', reason };
    }
    if (asked === 0) {
      const reason = REASONS.webhookHolding(hook.type, hook.name, failure);
      state.hold('confirmation', reason, `webhook:${hook.name}`);
      state.publish();
      await hookEvent(run, hook, 'held', reason);
    }
    if (await condition(() => state.stopping, hook.intervalMs)) {
      state.release('confirmation');
      state.publish();
      return { kind: 'stopped' };
    }
  }
}

/** Every gating webhook of a type in turn; the first that does not pass decides. */
export async function gateOn(run: Run, type: WebhookType): Promise<GateAnswer> {
  for (const hook of webhooksOfType(run.webhooks, type)) {
    if (run.state.stopping) return { kind: 'stopped' };
    const answer = await gate(run, hook);
    if (answer.kind !== 'pass') return answer;
  }
  return PASS;
}

/** Informational webhooks: told once (with retries); a failure is recorded and otherwise ignored. */
export async function tell(run: Run, type: WebhookType, told: Told): Promise<void> {
  for (const hook of webhooksOfType(run.webhooks, type)) {
    const failure = await ask(run, hook, 0, told);
    if (failure !== null) await hookEvent(run, hook, 'failed', REASONS.webhookFailed(hook.type, hook.name, failure));
  }
}
