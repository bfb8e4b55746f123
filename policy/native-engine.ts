import { edgeKey, planRules, type CompiledSnapshot, type RulePlan } from './compiled-snapshot';
import { toEngineInput, type EngineInput } from './engine-input';
import type { DagEdge, Decision, EmittedSubtask, Engine, EvaluationInput, Fact } from './evaluation';
import { compileCondition, type Check } from './native-engine-conditions';
import { createRuleIndex, type RuleIndex } from './native-engine-index';

/**
 * The in-process engine. Output rules (mirrored by the generated Rego, see rego-generate.ts):
 * matched rules in evaluation order; a subtask appears once, as emitted by the first matched rule
 * that emits it (so a higher-priority rule's params win); an edge appears once per (from, to, type),
 * credited to the first rule that draws it, and only when its `from` subtask is in the decision.
 */
interface CompiledPlan {
  plan: RulePlan;
  checks: Check[];
}

export function createNativeEngine(snapshot: CompiledSnapshot): Engine {
  const plans: CompiledPlan[] = planRules(snapshot).map((plan) => ({
    plan,
    checks: plan.rule.conditions.map(compileCondition),
  }));
  const index: RuleIndex = createRuleIndex(plans.map((entry) => entry.plan.rule));
  return {
    kind: 'native',
    version: snapshot.version,
    evaluate(input: EvaluationInput, facts: readonly Fact[]): Decision {
      const engineInput = toEngineInput(input, facts);
      const matched: RulePlan[] = [];
      for (const position of index.candidates(engineInput)) {
        const entry = plans[position]!;
        if (holds(entry.checks, engineInput)) matched.push(entry.plan);
      }
      return decide(matched);
    },
  };
}

function holds(checks: readonly Check[], input: EngineInput): boolean {
  for (const check of checks) if (!check(input)) return false;
  return true;
}

function decide(matched: readonly RulePlan[]): Decision {
  const subtasks: EmittedSubtask[] = [];
  const names = new Set<string>();
  const edges: DagEdge[] = [];
  const drawn = new Set<string>();
  for (const plan of matched) {
    plan.subtasks.forEach((subtask, position) => {
      if (!names.has(subtask.name)) {
        names.add(subtask.name);
        subtasks.push(subtask);
      }
      const edge = plan.edges[position];
      if (edge && !drawn.has(edgeKey(edge))) {
        drawn.add(edgeKey(edge));
        edges.push(edge);
      }
    });
  }
  return {
    subtasks,
    dag: edges.filter((edge) => names.has(edge.from)),
    rules: matched.map((plan) => plan.summary),
  };
}
