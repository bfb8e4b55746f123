import { AFTER_PARAM } from '../engine/compiled-snapshot';
import type { Fixture, RulesFile } from './schema';
import { locate, type ParsedYaml } from './yaml';
import type { Problem } from '../errors';

/**
 * Rules that span more than one field or file: names unique, every emitted or referenced subtask
 * declared, ORDERS/GATE edges acyclic, fixtures naming only subtasks and rules that exist.
 */
const RULES_FILE = 'rules.yaml';

export function checkRules(rules: RulesFile, parsed: ParsedYaml, problems: Problem[]): void {
  const at = (path: PropertyKey[], message: string) => problems.push(locate(RULES_FILE, parsed, path, message));
  duplicates(rules.subtask_types.map((t) => t.name)).forEach((i) =>
    at(['subtask_types', i, 'name'], `duplicate subtask type "${rules.subtask_types[i]!.name}"`),
  );
  duplicates(rules.rules.map((r) => r.name)).forEach((i) =>
    at(['rules', i, 'name'], `duplicate rule name "${rules.rules[i]!.name}"`),
  );
  const declared = new Set(rules.subtask_types.map((t) => t.name));
  rules.rules.forEach((rule, r) =>
    rule.emissions.forEach((emission, e) => {
      if (!declared.has(emission.subtask))
        at(
          ['rules', r, 'emissions', e, 'subtask'],
          `emits undeclared subtask type "${emission.subtask}" (declare it under subtask_types)`,
        );
      const after = emission.params[AFTER_PARAM];
      if (emission.relationship === 'EMITS' || typeof after !== 'string') return;
      if (!declared.has(after))
        at(['rules', r, 'emissions', e, 'params', AFTER_PARAM], `after names undeclared subtask type "${after}"`);
      if (after === emission.subtask)
        at(['rules', r, 'emissions', e, 'params', AFTER_PARAM], `"${after}" cannot follow itself`);
    }),
  );
  const cycle = findCycle(rules);
  if (cycle) at(['rules', cycle.rule, 'emissions', cycle.emission], `ORDERS/GATE cycle: ${cycle.path.join(' → ')}`);
}

function duplicates(names: readonly string[]): number[] {
  const seen = new Set<string>();
  return names.flatMap((name, i) => (seen.has(name) ? [i] : (seen.add(name), [])));
}

interface Cycle {
  path: string[];
  rule: number;
  emission: number;
}

/** Depth-first search over after → subtask edges across all rules (enabled or not: a switch-on must not create a cycle). */
function findCycle(rules: RulesFile): Cycle | null {
  const next = new Map<string, { to: string; rule: number; emission: number }[]>();
  rules.rules.forEach((rule, r) =>
    rule.emissions.forEach((emission, e) => {
      const after = emission.params[AFTER_PARAM];
      if (emission.relationship === 'EMITS' || typeof after !== 'string' || after === emission.subtask) return;
      next.set(after, [...(next.get(after) ?? []), { to: emission.subtask, rule: r, emission: e }]);
    }),
  );
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, trail: string[]): Cycle | null => {
    state.set(node, 'open');
    for (const edge of next.get(node) ?? []) {
      if (state.get(edge.to) === 'open')
        return {
          path: [...trail.slice(trail.indexOf(edge.to)), node, edge.to],
          rule: edge.rule,
          emission: edge.emission,
        };
      const found = state.get(edge.to) ? null : visit(edge.to, [...trail, node]);
      if (found) return found;
    }
    state.set(node, 'done');
    return null;
  };
  for (const node of [...next.keys()].sort()) {
    const found = state.get(node) ? null : visit(node, []);
    if (found) return found;
  }
  return null;
}

export interface LocatedFixture {
  fixture: Fixture;
  file: string;
  parsed: ParsedYaml;
  /** Path of the fixture inside its file: [] for a single fixture, [i] inside a list. */
  base: PropertyKey[];
}

export function checkFixtures(fixtures: readonly LocatedFixture[], rules: RulesFile | null, problems: Problem[]): void {
  const names = new Map<string, string>();
  for (const { fixture, file, parsed, base } of fixtures) {
    const at = (path: PropertyKey[], message: string) =>
      problems.push(locate(file, parsed, [...base, ...path], message));
    const earlier = names.get(fixture.name);
    if (earlier) at(['name'], `duplicate fixture name "${fixture.name}" (also in ${earlier})`);
    names.set(fixture.name, file);
    if (!rules) continue;
    const subtasks = new Set(rules.subtask_types.map((t) => t.name));
    const ruleNames = new Set(rules.rules.map((r) => r.name));
    const expect = fixture.expect;
    const unknown = (list: readonly string[] | undefined, known: Set<string>, field: string, what: string) =>
      list?.forEach((item, i) => known.has(item) || at(['expect', field, i], `unknown ${what} "${item}"`));
    unknown(expect.subtasks, subtasks, 'subtasks', 'subtask');
    unknown(expect.not_subtasks, subtasks, 'not_subtasks', 'subtask');
    unknown(expect.rules, ruleNames, 'rules', 'rule');
    Object.keys(expect.params ?? {}).forEach(
      (name) => subtasks.has(name) || at(['expect', 'params', name], `unknown subtask "${name}"`),
    );
    expect.dag?.forEach((edge, i) =>
      [edge.from, edge.to].forEach((end) => subtasks.has(end) || at(['expect', 'dag', i], `unknown subtask "${end}"`)),
    );
  }
}
