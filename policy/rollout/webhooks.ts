import { z } from 'zod';
import type { Problem } from '../errors';
import { laneName, type Env, type Lane } from '../lane';
import type { StepVerdict, Verdict } from './gates';
import { durationSchema as duration, parseDuration } from './duration';

/**
 * Rollout webhooks (Flagger's set), configured in a layer's `rollout.webhooks`. Three gate the
 * rollout, two only inform:
 * - pre-rollout: called before the first step; a failure fails the rollout (rejected, no traffic);
 * - confirm-rollout: gates the start of the ramp, confirm-promotion the final promotion: while the
 *   receiver answers non-2xx the rollout holds and asks again every `interval`;
 * - rollback, post-rollout: told what happened; their failure never changes the outcome.
 * `on_failure` overrides what a gating webhook's failure does (hold or fail).
 */
export const WEBHOOK_TYPES = [
  'pre-rollout',
  'confirm-rollout',
  'confirm-promotion',
  'rollback',
  'post-rollout',
] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export const GATING_WEBHOOK_TYPES: readonly WebhookType[] = ['pre-rollout', 'confirm-rollout', 'confirm-promotion'];

export type WebhookFailureAction = 'hold' | 'fail';

export const webhookSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _ (at most 63)'),
    type: z.enum(WEBHOOK_TYPES),
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }),
    timeout: duration.optional(),
    retries: z.number().int().min(0).max(10).optional(),
    interval: duration.optional(),
    on_failure: z.enum(['hold', 'fail']).optional(),
  })
  .refine((hook) => hook.on_failure === undefined || GATING_WEBHOOK_TYPES.includes(hook.type), {
    message: 'on_failure applies to gating webhooks only (pre-rollout, confirm-rollout, confirm-promotion)',
    path: ['on_failure'],
  });

export type WebhookSettings = z.infer<typeof webhookSchema>;

/** One webhook with every default applied: what the workflow calls. */
export interface Webhook {
  name: string;
  type: WebhookType;
  url: string;
  timeoutMs: number;
  retries: number;
  /** How often a holding confirmation is asked again. */
  intervalMs: number;
  onFailure: WebhookFailureAction;
}

const DEFAULTS = { timeout: '10s', retries: 2, interval: '10s' } as const;

/** pre-rollout fails by default (nothing is serving yet, so holding buys nothing); confirmations hold. */
function defaultFailure(type: WebhookType): WebhookFailureAction {
  return type === 'pre-rollout' ? 'fail' : 'hold';
}

export function resolveWebhook(hook: WebhookSettings): Webhook {
  return {
    name: hook.name,
    type: hook.type,
    url: hook.url,
    timeoutMs: parseDuration(hook.timeout ?? DEFAULTS.timeout),
    retries: hook.retries ?? DEFAULTS.retries,
    intervalMs: parseDuration(hook.interval ?? DEFAULTS.interval),
    onFailure: hook.on_failure ?? defaultFailure(hook.type),
  };
}

/**
 * Webhooks only accumulate down the layers: a later layer (bundle, command line) may add webhooks
 * but never drop or redefine one an earlier layer (global, env) set, so an env's confirmation
 * cannot be bypassed by a bundle. Names are unique across all layers.
 */
export function mergeWebhooks(
  merged: Map<string, { layer: string; hook: WebhookSettings }>,
  layer: WebhookSettings[] | undefined,
  layerName: string,
  problems: Problem[],
): void {
  for (const [index, hook] of (layer ?? []).entries()) {
    const earlier = merged.get(hook.name);
    if (earlier) {
      problems.push({
        path: `rollout.webhooks.${index}.name`,
        message: `${layerName} redefines webhook ${hook.name} set by ${earlier.layer}; webhooks may only be added`,
      });
      continue;
    }
    merged.set(hook.name, { layer: layerName, hook });
  }
}

/** Webhooks of one type, in the order they were configured. */
export const webhooksOfType = (webhooks: readonly Webhook[], type: WebhookType): Webhook[] =>
  webhooks.filter((hook) => hook.type === type);

/** What the workflow knows when it calls a webhook; the payload is shaped from it. */
export interface WebhookContext {
  rolloutId: string;
  lane: Lane;
  candidate: { version: string; snapshotId: string } | null;
  baselineVersion: string | null;
  stepIndex: number;
  stepCount: number;
  percent: number;
  verdicts: readonly StepVerdict[];
  outcome: string | null;
  reason: string | null;
}

/** The JSON body of a webhook call, less the send-time `timestamp` and `idempotency_key`. */
export interface WebhookPayload {
  type: WebhookType;
  webhook: string;
  rollout_id: string;
  lane: string;
  env: Env;
  candidate: { version: string; snapshot_id: string } | null;
  baseline: { version: string } | null;
  /** 1-based step, null before the first. */
  step: number | null;
  step_count: number;
  percent: number;
  verdicts: { step: number; percent: number; verdict: Verdict; message: string }[];
  outcome: string | null;
  reason: string | null;
}

export function webhookPayload(hook: Webhook, context: WebhookContext): WebhookPayload {
  const { candidate, baselineVersion, stepIndex } = context;
  return {
    type: hook.type,
    webhook: hook.name,
    rollout_id: context.rolloutId,
    lane: laneName(context.lane),
    env: context.lane.env,
    candidate: candidate && { version: candidate.version, snapshot_id: candidate.snapshotId },
    baseline: baselineVersion === null ? null : { version: baselineVersion },
    step: stepIndex < 0 ? null : stepIndex + 1,
    step_count: context.stepCount,
    percent: context.percent,
    verdicts: context.verdicts.map((v) => ({
      step: v.step + 1,
      percent: v.percent,
      verdict: v.verdict,
      message: v.message,
    })),
    outcome: context.outcome,
    reason: context.reason,
  };
}
