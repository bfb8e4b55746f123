import type { SemanticContext } from '../cortex/semantic-context';

/**
 * The evaluation contract of ARCHITECTURE.md §4, shared by both engines, the evaluator pool, the CLI and
 * fixture runs. Engines are pure: facts are handed in, never looked up from inside.
 */
export type Mode = 'control' | 'advisory';
export type EngineKind = 'native' | 'wasm';

export interface Fact {
  predicate: string;
  object?: unknown;
}

export interface EvaluationInput {
  tags?: string[];
  signals?: Record<string, number>;
  context?: Record<string, unknown>;
  facts?: Fact[];
  /** ADVISORY only: what hydration found for the request's embedding, or what the caller pinned. */
  semantic_context?: SemanticContext;
}

export interface EmittedSubtask {
  name: string;
  type: string;
  params: Record<string, unknown>;
  rule_id: string;
  rule_name: string;
}

export interface DagEdge {
  from: string;
  to: string;
  type: 'sequential' | 'gate';
  rule: string;
}

export interface MatchedRule {
  rule_id: string;
  rule_name: string;
  rule_priority: number;
  matched_conditions: number;
  emissions_count: number;
}

/** What an engine decides; the evaluator wraps it with ok/snapshot/meta. */
export interface Decision {
  subtasks: EmittedSubtask[];
  dag: DagEdge[];
  rules: MatchedRule[];
}

export interface EvaluationMeta {
  engine: EngineKind;
  mode: Mode;
  canary: boolean;
  eval_us: number;
  /** Set when the decision was logged (sampled and buffered), as OPA returns it: the key to its decision log row. */
  decision_id?: string;
  /** The semantic context the decision saw (README "Semantic memory"). */
  semantic_context?: SemanticContext;
  /** Set when the request carried an embedding: whether memory was searched, and if not, why. */
  hydration?: HydrationMeta;
}

export type HydrationMeta =
  { status: 'hydrated' | 'cached'; matches: number; ms: number } | { status: 'skipped'; reason: string; ms: number };

export type EvaluationOutput =
  | ({ ok: true; snapshot: string; meta: EvaluationMeta } & Decision)
  | { ok: false; snapshot: string | null; reason: string; meta: EvaluationMeta };

/** A loaded, verified snapshot ready to decide. `facts` are those valid now for the subject. */
export interface Engine {
  readonly kind: EngineKind;
  readonly version: string;
  evaluate(input: EvaluationInput, facts: readonly Fact[]): Decision;
}
