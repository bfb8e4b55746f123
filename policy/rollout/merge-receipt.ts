import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import {
  mergeRolloutLayers,
  parseRolloutOverrides,
  plansAfterEachLayer,
  type RolloutConfig,
  type RolloutLayer,
} from './config';

/**
 * The merge receipt of a rollout plan (seed 002, "Merge Receipt"): how the layers (global → env →
 * bundle → command line) made the plan, so a decision record shows which settings were in force
 * and who tightened each. Hashes are sha256 over RFC 8785 canonical JSON, so key order never
 * changes them. A field a layer tightened is named by its path in the plan with both values, e.g.
 * `gates.maxErrorRate: 0.01 -> 0.005`; the first layer is the base, with nothing before it to tighten.
 */
export interface MergeReceiptLayer {
  name: string;
  /** sha256 of the layer's overrides as validated, canonical. */
  overrides_hash: string;
  fields_tightened: string[];
}

export interface MergeReceipt {
  layers: MergeReceiptLayer[];
  /** sha256 of the merged plan, canonical: the `plan` beside the receipt. */
  merged_hash: string;
}

export interface ReceiptedPlan {
  plan: RolloutConfig;
  merge_receipt: MergeReceipt;
}

/**
 * The record of a merge: the plan as decision records keep it and how each layer shaped it (refused
 * as mergeRolloutLayers refuses). Webhook URLs are recorded by origin and digest: a hook's path or
 * query often is its credential, and decision records are read far more widely than the bundle's
 * settings. The plan that runs is mergeRolloutLayers' own, with the URLs whole.
 */
export function mergeWithReceipt(layers: RolloutLayer[]): ReceiptedPlan {
  const plan = recordedPlan(mergeRolloutLayers(layers));
  const plans = plansAfterEachLayer(layers).map(recordedPlan);
  const receiptLayers = layers.map(({ name, overrides }, i) => ({
    name,
    overrides_hash: canonicalHash(parseRolloutOverrides(overrides, name)),
    fields_tightened: i === 0 ? [] : changedFields(plans[i - 1]!, plans[i]!),
  }));
  return { plan, merge_receipt: { layers: receiptLayers, merged_hash: canonicalHash(plan) } };
}

function recordedPlan(plan: RolloutConfig): RolloutConfig {
  return { ...plan, webhooks: plan.webhooks.map((hook) => ({ ...hook, url: recordedUrl(hook.url) })) };
}

/** `https://hooks.example.com/… sha256:<16 hex>`: which endpoint, and whether it was the same URL, without its secret parts. */
export function recordedUrl(url: string): string {
  const digest = createHash('sha256').update(url, 'utf8').digest('hex').slice(0, 16);
  return `${new URL(url).origin}/… sha256:${digest}`;
}

export function canonicalHash(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value is not serialisable as canonical JSON');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `path: before -> after` for every leaf that differs, sorted by path. */
export function changedFields(before: RolloutConfig, after: RolloutConfig): string[] {
  const was = leaves(before);
  const now = leaves(after);
  const paths = [...new Set([...was.keys(), ...now.keys()])].sort();
  return paths
    .filter((path) => was.get(path) !== now.get(path))
    .map((path) => `${path}: ${was.get(path) ?? 'unset'} -> ${now.get(path) ?? 'unset'}`);
}

/** Plan fields that list named entries: keyed by name, so adding one names only its own settings. */
const NAMED_LISTS = new Set(['analysis', 'webhooks']);

/** Leaves by dotted path, each value as canonical JSON; other lists (steps, approvals) are one value. */
function leaves(value: unknown, path = '', into = new Map<string, string>()): Map<string, string> {
  if (NAMED_LISTS.has(path) && Array.isArray(value)) {
    for (const { name, ...settings } of value as { name: string }[]) leaves(settings, `${path}.${name}`, into);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) leaves(inner, path === '' ? key : `${path}.${key}`, into);
  } else if (value !== undefined) {
    into.set(path, canonicalize(value)!);
  }
  return into;
}
