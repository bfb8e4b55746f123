import { decide, type RuleOutput } from '../engine/compiled-snapshot';
import { isRecord } from '../engine/engine-input';
import type { Decision } from '../engine/evaluation';
import { REGO_DATA_ROOT } from './data';

/**
 * What a wasm policy answers, as a ARCHITECTURE.md §4 decision. A policy may answer with the three lists
 * themselves (`{subtasks, dag, rules}`, as hand-written Rego usually does) or with the rules it
 * matched (`{rule_refs}`, as the generated Rego does): their positions in `data.pkg_snapshot.rules`,
 * ascending, each once, made into the decision by `decide` exactly as the native engine's matched
 * rules are. Anything else, or a position naming no rule or out of order, is refused: a malformed
 * answer never becomes a decision.
 */
export const RULE_REFS = 'rule_refs';

export function decisionOf(answer: unknown, rules: readonly RuleOutput[], version: string): Decision {
  if (isRecord(answer) && Array.isArray(answer[RULE_REFS]))
    return decide(matchedRules(answer[RULE_REFS], rules, version));
  if (
    !isRecord(answer) ||
    !Array.isArray(answer.subtasks) ||
    !Array.isArray(answer.dag) ||
    !Array.isArray(answer.rules)
  ) {
    throw new Error(
      `wasm policy of ${version} returned no decision (expected {subtasks, dag, rules} or {${RULE_REFS}})`,
    );
  }
  // A hand-written policy's own lists are taken as it returned them, as OPA's server would.
  return {
    subtasks: answer.subtasks as Decision['subtasks'],
    dag: answer.dag as Decision['dag'],
    rules: answer.rules as Decision['rules'],
  };
}

function matchedRules(refs: readonly unknown[], rules: readonly RuleOutput[], version: string): RuleOutput[] {
  return refs.map((ref, at) => {
    if (typeof ref !== 'number' || !Number.isInteger(ref) || ref < 0 || ref >= rules.length) {
      throw refused(version, refs, at, `which names no entry of data.${REGO_DATA_ROOT}.rules (${rules.length} rules)`);
    }
    if (at > 0 && ref <= (refs[at - 1] as number)) {
      throw refused(
        version,
        refs,
        at,
        `not after ${JSON.stringify(refs[at - 1])}: ${RULE_REFS} must name rules in evaluation order, each once`,
      );
    }
    return rules[ref]!;
  });
}

function refused(version: string, refs: readonly unknown[], at: number, why: string): Error {
  return new Error(`wasm policy of ${version} returned ${RULE_REFS}[${at}] = ${JSON.stringify(refs[at])}, ${why}`);
}
