import { createHash } from 'node:crypto';
import type { DagEdge, Decision, EmittedSubtask, EngineKind, MatchedRule } from './evaluation';

/**
 * The compiled form of a policy that both engines and the Rego generator read. It has the same
 * shape whether built from a bundle or loaded from Postgres, so an engine never knows (or cares)
 * where its snapshot came from.
 */
export const CONDITION_TYPES = ['TAG', 'SIGNAL', 'VALUE', 'FACT'] as const;
export const OPERATORS = ['=', '!=', '>=', '<=', '>', '<', 'EXISTS', 'IN', 'MATCHES'] as const;
export const RELATIONSHIPS = ['EMITS', 'ORDERS', 'GATE'] as const;
export const NUMERIC_OPERATORS: readonly Operator[] = ['>=', '<=', '>', '<'];

export type ConditionType = (typeof CONDITION_TYPES)[number];
export type Operator = (typeof OPERATORS)[number];
export type Relationship = (typeof RELATIONSHIPS)[number];
export type Scalar = string | number | boolean;

export interface Condition {
  type: ConditionType;
  key: string;
  op: Operator;
  value?: Scalar | Scalar[];
}

/** ORDERS and GATE name their predecessor in `params.after`; it never reaches the subtask's params. */
export interface Emission {
  subtask: string;
  relationship: Relationship;
  params: Record<string, unknown>;
}

export interface CompiledRule {
  id: string;
  name: string;
  priority: number;
  enabled: boolean;
  description?: string;
  conditions: Condition[];
  emissions: Emission[];
}

export interface SubtaskType {
  name: string;
  defaultParams: Record<string, unknown>;
}

export interface CompiledSnapshot {
  version: string;
  engine: EngineKind;
  entrypoint: string;
  subtaskTypes: SubtaskType[];
  rules: CompiledRule[];
}

export const AFTER_PARAM = 'after';

/** sha256(version + "\n" + rule name), 32 hex: stable across recompiles, distinct across versions. */
export function ruleIdOf(version: string, ruleName: string): string {
  return createHash('sha256').update(`${version}\n${ruleName}`).digest('hex').slice(0, 32);
}

/**
 * Evaluation order, shared by both engines: enabled rules only, higher priority first, ties broken
 * by name in code-unit order (never locale order, which differs between machines).
 */
export function orderRules(rules: readonly CompiledRule[]): CompiledRule[] {
  return rules
    .filter((rule) => rule.enabled)
    .sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What one matched rule contributes, precomputed once so engines only select and deduplicate. */
export interface RuleOutput {
  summary: MatchedRule;
  /** One per emission, in emission order. */
  subtasks: EmittedSubtask[];
  /** One per emission: the edge an ORDERS/GATE emission draws, null for EMITS. */
  edges: (DagEdge | null)[];
}

export interface RulePlan extends RuleOutput {
  rule: CompiledRule;
}

export function planRules(snapshot: CompiledSnapshot): RulePlan[] {
  const defaults = new Map(snapshot.subtaskTypes.map((type) => [type.name, type.defaultParams]));
  return orderRules(snapshot.rules).map((rule) => ({
    rule,
    summary: {
      rule_id: rule.id,
      rule_name: rule.name,
      rule_priority: rule.priority,
      matched_conditions: rule.conditions.length,
      emissions_count: rule.emissions.length,
    },
    subtasks: rule.emissions.map((emission) => subtaskOf(rule, emission, defaults.get(emission.subtask) ?? {})),
    edges: rule.emissions.map((emission) => edgeOf(rule, emission)),
  }));
}

/** Params are a shallow merge: the emission's keys replace the type's defaults, `after` dropped. */
function subtaskOf(rule: CompiledRule, emission: Emission, defaults: Record<string, unknown>): EmittedSubtask {
  const params: Record<string, unknown> = { ...defaults, ...emission.params };
  if (emission.relationship !== 'EMITS') delete params[AFTER_PARAM];
  return { name: emission.subtask, type: emission.subtask, params, rule_id: rule.id, rule_name: rule.name };
}

/** ORDERS draws a sequential edge after → subtask; GATE draws a gate edge: `after` must clear first. */
function edgeOf(rule: CompiledRule, emission: Emission): DagEdge | null {
  if (emission.relationship === 'EMITS') return null;
  const after = emission.params[AFTER_PARAM];
  if (typeof after !== 'string') return null;
  const type = emission.relationship === 'ORDERS' ? 'sequential' : 'gate';
  return { from: after, to: emission.subtask, type, rule: rule.id };
}

/**
 * The decision (ARCHITECTURE.md §4) the matched rules make, given in evaluation order; both engines end
 * here, so they cannot differ in how a decision is put together: every matched rule in order; a
 * subtask once, as emitted by the first matched rule that emits it (a higher-priority rule's
 * params win); an edge once per (from, to, type), credited to the first rule that draws it, and
 * only when its `from` subtask is in the decision.
 */
export function decide(matched: readonly RuleOutput[]): Decision {
  const subtasks: EmittedSubtask[] = [];
  const names = new Set<string>();
  const edges: DagEdge[] = [];
  const drawn = new Set<string>();
  for (const output of matched) {
    output.subtasks.forEach((subtask, position) => {
      if (!names.has(subtask.name)) {
        names.add(subtask.name);
        subtasks.push(subtask);
      }
      const edge = output.edges[position];
      if (edge && !drawn.has(edgeKey(edge))) {
        drawn.add(edgeKey(edge));
        edges.push(edge);
      }
    });
  }
  return {
    subtasks,
    dag: edges.filter((edge) => names.has(edge.from)),
    rules: matched.map((output) => output.summary),
  };
}

function edgeKey(edge: DagEdge): string {
  return `${edge.from}\u0000${edge.to}\u0000${edge.type}`;
}
