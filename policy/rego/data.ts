import { planRules, type CompiledSnapshot, type RuleOutput } from '../engine/compiled-snapshot';
import { isRecord } from '../engine/engine-input';
import { PkgError } from '../errors';

/**
 * The data document the wasm engine loads once (setData) next to the generated Rego, stored with
 * the module it was built for (opa-artifacts.ts). `rules` holds, in evaluation order, what each
 * rule contributes when it matches: its summary, subtasks and edges (compiled-snapshot.ts
 * RuleOutput). The generated Rego answers with the positions of the rules it matched, and the
 * engine makes those rules' outputs into the decision; hand-written Rego may read the table too.
 */
export const REGO_DATA_ROOT = 'pkg_snapshot';

export interface RegoData {
  version: string;
  rules: RuleOutput[];
}

export function regoData(snapshot: CompiledSnapshot): Record<string, RegoData> {
  const rules = planRules(snapshot).map(({ summary, subtasks, edges }) => ({ summary, subtasks, edges }));
  return { [REGO_DATA_ROOT]: { version: snapshot.version, rules } };
}

/**
 * The rule table of a stored data document. A document laid out otherwise was written by an
 * earlier pipeline for a module that answers differently; it is refused, never half-read.
 */
export function storedRuleOutputs(version: string, data: unknown): RuleOutput[] {
  const document = isRecord(data) ? data[REGO_DATA_ROOT] : undefined;
  const rules = isRecord(document) ? document.rules : undefined;
  if (!Array.isArray(rules) || !rules.every(isRuleOutput)) {
    throw new PkgError(
      'NotFound',
      `snapshot ${version}: its data document has no data.${REGO_DATA_ROOT}.rules table of rule outputs (compiled by an older pipeline); publish the bundle again under a new version`,
    );
  }
  return rules;
}

function isRuleOutput(entry: unknown): entry is RuleOutput {
  return (
    isRecord(entry) &&
    isRecord(entry.summary) &&
    Array.isArray(entry.subtasks) &&
    Array.isArray(entry.edges) &&
    entry.edges.length === entry.subtasks.length
  );
}
