import { edgeKey, planRules, type CompiledSnapshot, type RulePlan } from './compiled-snapshot';

/**
 * The data document the wasm engine loads once (setData) next to the generated Rego: per rule in
 * evaluation order, what it contributes when matched. `first_subtask`/`first_edge` give the first
 * position of each subtask name / edge key inside the rule, so the Rego can tell "emitted earlier"
 * by looking only at the matched rules (cost follows the decision, not the snapshot size).
 * Hand-written Rego may read it too.
 */
export const REGO_DATA_ROOT = 'pkg_snapshot';

export function regoData(snapshot: CompiledSnapshot): Record<string, unknown> {
  return { [REGO_DATA_ROOT]: { version: snapshot.version, rule_table: planRules(snapshot).map(tableRow) } };
}

function tableRow(plan: RulePlan) {
  const edges = plan.edges.flatMap((edge) => (edge ? [{ edge, key: edgeKey(edge) }] : []));
  return {
    summary: plan.summary,
    subtasks: plan.subtasks,
    first_subtask: firstPositions(plan.subtasks.map((subtask) => subtask.name)),
    edges,
    first_edge: firstPositions(edges.map((entry) => entry.key)),
  };
}

function firstPositions(keys: readonly string[]): Record<string, number> {
  const first: Record<string, number> = {};
  keys.forEach((key, position) => {
    if (!(key in first)) first[key] = position;
  });
  return first;
}
