import { edgeKey, planRules, type CompiledSnapshot, type RulePlan } from './compiled-snapshot';

/**
 * The data document the wasm engine loads once (setData) next to the generated Rego.
 *
 * `rules`, `subtasks` and `edges` hold every value a decision can contain, in evaluation order:
 * a rule's summary at its position, and each rule's subtasks and edges (the first of each name /
 * key within the rule) numbered one after another. The generated Rego answers with those numbers (rego-decision.ts turns them back into
 * values), so OPA never copies or hashes the values themselves, and because numbering follows
 * evaluation order, sorting numbers sorts entries by (rule, emission).
 *
 * `rule_table` has per rule, in evaluation order, what the Rego needs to deduplicate: `emits` /
 * `draws` (the subtask names / edge keys the rule produces) and `subtask_entries` /
 * `edge_entries` (the first entry of each name / key inside the rule, with its number), so the
 * Rego never checks a rule against itself. Hand-written Rego may read it too.
 */
export const REGO_DATA_ROOT = 'pkg_snapshot';

export interface RegoData {
  version: string;
  rules: RulePlan['summary'][];
  subtasks: RulePlan['subtasks'];
  edges: NonNullable<RulePlan['edges'][number]>[];
  rule_table: RuleTableRow[];
}

interface RuleTableRow {
  emits: Record<string, true>;
  draws: Record<string, true>;
  subtask_entries: { name: string; id: number }[];
  edge_entries: { key: string; from: string; id: number }[];
}

export function regoData(snapshot: CompiledSnapshot): Record<string, RegoData> {
  const document: RegoData = { version: snapshot.version, rules: [], subtasks: [], edges: [], rule_table: [] };
  for (const plan of planRules(snapshot)) {
    const emits: Record<string, true> = {};
    const draws: Record<string, true> = {};
    const row: RuleTableRow = { emits, draws, subtask_entries: [], edge_entries: [] };
    plan.subtasks.forEach((subtask, position) => {
      if (!emits[subtask.name]) row.subtask_entries.push({ name: subtask.name, id: document.subtasks.push(subtask) - 1 });
      emits[subtask.name] = true;
      const edge = plan.edges[position];
      const key = edge && edgeKey(edge);
      if (!edge || !key || draws[key]) return;
      row.edge_entries.push({ key, from: edge.from, id: document.edges.push(edge) - 1 });
      draws[key] = true;
    });
    document.rules.push(plan.summary);
    document.rule_table.push(row);
  }
  return { [REGO_DATA_ROOT]: document };
}
