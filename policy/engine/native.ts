import { decide, planRules, type CompiledSnapshot, type RulePlan } from './compiled-snapshot';
import { toEngineInput, type EngineInput } from './engine-input';
import type { Decision, Engine, EvaluationInput, Fact } from './evaluation';
import { compileCondition, type Check } from './native-conditions';
import { createRuleIndex, type RuleIndex } from './native-index';

/**
 * The in-process engine: the rules whose conditions hold (checked in JavaScript, looking only at
 * the rules the input's keys file), made into a decision by `decide`, as the wasm engine's are.
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
