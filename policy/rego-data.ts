import { edgeKey, planRules, type CompiledSnapshot, type RulePlan } from './compiled-snapshot';

/**
 * The data document the wasm engine loads once (setData) next to the generated Rego: per rule in
 * evaluation order, what it contributes when matched. `first_subtask`/`first_edge` give the first
 * position of each subtask name / edge key inside the rule, so the Rego can tell "emitted earlier"
 * by looking only at the matched rules (cost follows the decision, not the snapshot size);
 * `unique_subtasks`/`unique_edges` are the entries at those first positions, in order, so the
 * generated Rego never checks a rule against itself.
 * Hand-written Rego may read it too.
 */
export const REGO_DATA_ROOT = 'pkg_snapshot';

export function regoData(snapshot: CompiledSnapshot): Record<string, unknown> {
  return { [REGO_DATA_ROOT]: { version: snapshot.version, rule_table: planRules(snapshot).map(tableRow) } };
}

function tableRow(plan: RulePlan) {
  const edges = plan.edges.flatMap((edge) => (edge ? [{ edge, key: edgeKey(edge) }] : []));
  const firstSubtask = firstPositions(plan.subtasks.map((subtask) => subtask.name));
  const firstEdge = firstPositions(edges.map((entry) => entry.key));
  return {
    summary: plan.summary,
    subtasks: plan.subtasks,
    first_subtask: firstSubtask,
    edges,
    first_edge: firstEdge,
    unique_subtasks: plan.subtasks.filter((subtask, position) => firstSubtask[subtask.name] === position),
    unique_edges: edges.filter((entry, position) => firstEdge[entry.key] === position),
  };
}

function firstPositions(keys: readonly string[]): Record<string, number> {
  const first: Record<string, number> = {};
  keys.forEach((key, position) => {
    if (!(key in first)) first[key] = position;
  });
  return first;
}
