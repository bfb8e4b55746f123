import { isRecord } from './engine-input';
import type { Decision } from './evaluation';
import { REGO_DATA_ROOT } from './rego-data';

/**
 * What a wasm policy answers, as a §4 decision. A policy may answer with the three lists
 * themselves (`{subtasks, dag, rules}`, as hand-written Rego usually does) or by number into its
 * data document (`{subtask_refs, edge_refs, rule_refs}`, as the generated Rego does): each number
 * names an entry of `data.pkg_snapshot.subtasks`, `.edges` or `.rules`. Anything else, or a
 * number naming no entry, is refused: a malformed answer never becomes a decision.
 */
export const REF_LISTS = [
  { list: 'subtasks', refs: 'subtask_refs', table: 'subtasks' },
  { list: 'dag', refs: 'edge_refs', table: 'edges' },
  { list: 'rules', refs: 'rule_refs', table: 'rules' },
] as const;

export function decisionOf(answer: unknown, data: unknown, version: string): Decision {
  if (isRecord(answer) && REF_LISTS.every(({ refs }) => Array.isArray(answer[refs]))) return fromRefs(answer, data, version);
  if (!isRecord(answer) || !REF_LISTS.every(({ list }) => Array.isArray(answer[list]))) {
    throw new Error(`wasm policy of ${version} returned no decision (expected {subtasks, dag, rules} or {subtask_refs, edge_refs, rule_refs})`);
  }
  return { subtasks: answer.subtasks, dag: answer.dag, rules: answer.rules } as Decision;
}

function fromRefs(answer: Record<string, unknown>, data: unknown, version: string): Decision {
  const document = isRecord(data) && isRecord(data[REGO_DATA_ROOT]) ? data[REGO_DATA_ROOT] : {};
  const [subtasks, dag, rules] = REF_LISTS.map(({ refs, table: name }) => {
    const table = document[name];
    return (answer[refs] as unknown[]).map((ref, at) => {
      if (!Array.isArray(table) || !Number.isInteger(ref) || (ref as number) < 0 || (ref as number) >= table.length) {
        throw new Error(`wasm policy of ${version} returned ${refs}[${at}] = ${JSON.stringify(ref)}, which names no entry of data.${REGO_DATA_ROOT}.${name}`);
      }
      return table[ref as number] as unknown;
    });
  });
  return { subtasks, dag, rules } as Decision;
}
