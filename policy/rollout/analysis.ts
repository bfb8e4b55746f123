import { z } from 'zod';
import type { Problem } from '../errors';

/**
 * Metric gates a team adds to a rollout (`rollout.analysis`, ARCHITECTURE.md §7): named PromQL
 * queries judged after each bake beside the built-in gates. A metric is a query with placeholders
 * and a declarative condition: `max`/`min` bounds on its value, and `baseline_factor` (plus
 * `baseline_slack`) that compares it with the same query run for the baseline, so a comparison
 * with the baseline is never left to the author's PromQL.
 *
 * Layers merge like the rest of the rollout settings and only tighten: a metric an earlier layer
 * (an env) defines cannot be dropped or have its query changed, and its bounds may only narrow.
 */
export const PLACEHOLDERS = ['version', 'candidate', 'baseline', 'env', 'target', 'region', 'lane', 'window'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export const PLACEHOLDER_PATTERN = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;

function unknownPlaceholders(query: string): string[] {
  return [...query.matchAll(PLACEHOLDER_PATTERN)]
    .map((m) => m[1]!)
    .filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
}

export function usesPlaceholder(query: string, name: Placeholder): boolean {
  return [...query.matchAll(PLACEHOLDER_PATTERN)].some((m) => m[1] === name);
}

const query = z
  .string()
  .min(1, 'a PromQL query')
  .refine((q) => unknownPlaceholders(q).length === 0, {
    error: (issue) =>
      `unknown placeholder(s) ${unknownPlaceholders(String(issue.input))
        .map((p) => `{{${p}}}`)
        .join(', ')}; known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ')}`,
  });

export const analysisMetricSchema = z.strictObject({
  query: query.optional(),
  /** The value must not exceed this. */
  max: z.number().optional(),
  /** The value must not fall below this. */
  min: z.number().optional(),
  /** value ≤ baseline value × baseline_factor + baseline_slack, when the step has a baseline. */
  baseline_factor: z.number().gt(0).optional(),
  baseline_slack: z.number().min(0).optional(),
  /** Skip the metric when the step has no baseline to compare (implied by {{baseline}} in the query). */
  requires_baseline: z.boolean().optional(),
});

export const analysisOverridesSchema = z.record(
  z.string().regex(/^[a-z][a-z0-9_]*$/, 'a metric name: lower case, digits and _'),
  analysisMetricSchema,
);

export type AnalysisMetricOverride = z.infer<typeof analysisMetricSchema>;
export type AnalysisOverrides = z.infer<typeof analysisOverridesSchema>;

/** One merged metric, as the gate activity receives it. */
export interface AnalysisMetric {
  name: string;
  query: string;
  max: number | null;
  min: number | null;
  baselineFactor: number | null;
  baselineSlack: number;
  requiresBaseline: boolean;
}

/** Bounds that may only fall (budgets) or only rise (floors) from one layer to the next. */
const BUDGETS = ['max', 'baseline_factor', 'baseline_slack'] as const;
const FLOORS = ['min'] as const;

type Bound = (typeof BUDGETS)[number] | (typeof FLOORS)[number];

/** Merges one layer's metrics into the accumulated ones; a relaxation becomes a Problem, not a value. */
export function mergeAnalysis(
  acc: Map<string, AnalysisMetricOverride>,
  layer: AnalysisOverrides | undefined,
  layerName: string,
  problems: Problem[],
): void {
  for (const [name, metric] of Object.entries(layer ?? {})) {
    const path = `rollout.analysis.${name}`;
    const current = acc.get(name);
    if (!current) {
      if (metric.query === undefined) {
        problems.push({
          path: `${path}.query`,
          message: `${layerName} sets no query and no earlier layer defines ${name}`,
        });
        continue;
      }
      acc.set(name, withDefaultSlack({ ...metric }));
      continue;
    }
    const next = { ...current };
    if (metric.query !== undefined && metric.query !== current.query) {
      problems.push({ path: `${path}.query`, message: `${layerName} changes the query an earlier layer requires` });
    }
    for (const bound of [...BUDGETS, ...FLOORS])
      tightenBound(next, metric, bound, `${path}.${bound}`, layerName, problems);
    if (metric.requires_baseline === true && current.requires_baseline !== true) {
      problems.push({
        path: `${path}.requires_baseline`,
        message: `${layerName} skips the metric without a baseline, which an earlier layer checks always`,
      });
    } else if (metric.requires_baseline !== undefined) {
      next.requires_baseline = metric.requires_baseline;
    }
    acc.set(name, withDefaultSlack(next));
  }
}

/** A factor set without slack compares with no slack: a later slack would loosen it. */
function withDefaultSlack(metric: AnalysisMetricOverride): AnalysisMetricOverride {
  if (metric.baseline_factor !== undefined && metric.baseline_slack === undefined) metric.baseline_slack = 0;
  return metric;
}

function tightenBound(
  next: AnalysisMetricOverride,
  metric: AnalysisMetricOverride,
  bound: Bound,
  path: string,
  layerName: string,
  problems: Problem[],
): void {
  const [value, current] = [metric[bound], next[bound]];
  if (value === undefined) return;
  const isFloor = (FLOORS as readonly string[]).includes(bound);
  if (current !== undefined && (isFloor ? value < current : value > current)) {
    const relation = isFloor ? 'below the floor' : 'above the budget';
    problems.push({ path, message: `${layerName} sets ${value}, ${relation} ${current}` });
    return;
  }
  next[bound] = value;
}

/** The merged metrics by name; a metric without a condition, or an inconsistent one, is a Problem. */
export function toAnalysisMetrics(acc: Map<string, AnalysisMetricOverride>, problems: Problem[]): AnalysisMetric[] {
  const metrics: AnalysisMetric[] = [];
  for (const [name, metric] of [...acc].sort(([a], [b]) => a.localeCompare(b))) {
    const path = `rollout.analysis.${name}`;
    const queryText = metric.query!;
    const usesBaseline = usesPlaceholder(queryText, 'baseline');
    if (metric.max === undefined && metric.min === undefined && metric.baseline_factor === undefined) {
      problems.push({ path, message: 'needs a condition: max, min or baseline_factor' });
    }
    if (metric.min !== undefined && metric.max !== undefined && metric.min > metric.max) {
      problems.push({ path, message: `min ${metric.min} is above max ${metric.max}: nothing could pass` });
    }
    if (usesBaseline && metric.requires_baseline === false) {
      problems.push({ path: `${path}.requires_baseline`, message: 'the query uses {{baseline}}, so it requires one' });
    }
    metrics.push({
      name,
      query: queryText,
      max: metric.max ?? null,
      min: metric.min ?? null,
      baselineFactor: metric.baseline_factor ?? null,
      baselineSlack: metric.baseline_slack ?? 0,
      requiresBaseline: metric.requires_baseline ?? usesBaseline,
    });
  }
  return metrics;
}
