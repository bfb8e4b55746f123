import { ApplicationFailure } from '@temporalio/common';
import type { Webhook, WebhookPayload } from '../policy/rollout/webhooks';
import { deliveryHeaders } from '../policy/notify/signature';

/**
 * Rollout webhooks as an activity: one signed POST with the webhook's timeout. A non-2xx answer or
 * an unreachable receiver is a retryable failure; the workflow's retry policy gives each webhook
 * its own `retries`, and the idempotency key stays the same across them, because a receiver may
 * see one question twice (a timeout after it answered).
 */
export interface WebhookCall {
  hook: Webhook;
  payload: WebhookPayload;
  idempotencyKey: string;
}

export interface WebhookAnswer {
  status: number;
}

export interface WebhookDeps {
  /** PKG_WEBHOOK_SECRET; calls go unsigned without it. */
  secret?: string;
  now?: () => number;
}

/** Enough of a receiver's answer to say why it refused, not a page of HTML. */
const ANSWER_CHARS = 200;

async function callWebhook(deps: WebhookDeps, { hook, payload, idempotencyKey }: WebhookCall): Promise<WebhookAnswer> {
  const nowMs = (deps.now ?? Date.now)();
  const body = JSON.stringify({
    ...payload,
    idempotency_key: idempotencyKey,
    timestamp: new Date(nowMs).toISOString(),
  });
  let response: Response;
  try {
    response = await fetch(hook.url, {
      method: 'POST',
      headers: deliveryHeaders(body, idempotencyKey, Math.floor(nowMs / 1000), deps.secret),
      body,
      signal: AbortSignal.timeout(hook.timeoutMs),
    });
  } catch (error) {
    // The message is the answer alone: the workflow's reasons name the webhook.
    throw ApplicationFailure.retryable(`unreachable: ${(error as Error).message}`, 'WebhookUnreachable');
  }
  const answer = (await response.text().catch(() => '')).slice(0, ANSWER_CHARS).trim();
  if (!response.ok) {
    const said = answer ? `: ${answer}` : '';
    throw ApplicationFailure.retryable(`answered ${response.status}${said}`, 'WebhookRefused');
  }
  return { status: response.status };
}

export function createWebhookActivities(deps: WebhookDeps) {
  return {
    callRolloutWebhook: (call: WebhookCall) => callWebhook(deps, call),
  };
}
