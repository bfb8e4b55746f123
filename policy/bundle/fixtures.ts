import { isDeepStrictEqual } from 'node:util';
import type { FixtureExpectation } from './schema';
import type { Decision, Engine, EvaluationInput } from '../engine/evaluation';

/**
 * Fixture runs (pure): each fixture's input through an engine, the decision compared with what the
 * fixture expects. The facts a fixture supplies in its input are the facts the engine sees, so a
 * fixture never depends on what happens to be in pkg_facts.
 */
export interface RunnableFixture {
  name: string;
  input: EvaluationInput;
  expect: FixtureExpectation;
}

export interface FixtureResult {
  name: string;
  ok: boolean;
  message?: string;
}

export interface FixtureReport {
  passed: number;
  failed: number;
  results: FixtureResult[];
}

export function runFixtures(engine: Engine, fixtures: readonly RunnableFixture[]): FixtureReport {
  const results = fixtures.map((fixture): FixtureResult => {
    let failures: string[];
    try {
      failures = compareDecision(engine.evaluate(fixture.input, fixture.input.facts ?? []), fixture.expect);
    } catch (error) {
      failures = [`evaluation failed: ${error instanceof Error ? error.message : String(error)}`];
    }
    return failures.length === 0
      ? { name: fixture.name, ok: true }
      : { name: fixture.name, ok: false, message: failures.join('; ') };
  });
  const passed = results.filter((result) => result.ok).length;
  return { passed, failed: results.length - passed, results };
}

/** Every way the decision misses the expectation, each as one short sentence. */
export function compareDecision(decision: Decision, expect: FixtureExpectation): string[] {
  const failures: string[] = [];
  const subtasks = decision.subtasks.map((s) => s.name);
  if (!sameList(subtasks, expect.subtasks, expect.ordered))
    failures.push(`subtasks ${show(subtasks)}, expected ${show(expect.subtasks)}`);
  const rules = decision.rules.map((r) => r.rule_name);
  if (expect.rules && !sameList(rules, expect.rules, expect.ordered))
    failures.push(`rules ${show(rules)}, expected ${show(expect.rules)}`);
  const unwanted = (expect.not_subtasks ?? []).filter((name) => subtasks.includes(name));
  if (unwanted.length > 0) failures.push(`unexpected subtasks ${show(unwanted)}`);
  const edges = decision.dag.map((e) => `${e.from}->${e.to}:${e.type}`);
  const wantedEdges = expect.dag?.map((e) => `${e.from}->${e.to}:${e.type}`);
  if (wantedEdges && !sameList(edges, wantedEdges, false))
    failures.push(`dag ${show(edges)}, expected ${show(wantedEdges)}`);
  for (const [name, wanted] of Object.entries(expect.params ?? {})) {
    const params = decision.subtasks.find((s) => s.name === name)?.params;
    for (const [key, value] of Object.entries(wanted)) {
      if (!params || !isDeepStrictEqual(params[key], value))
        failures.push(`${name}.params.${key} is ${JSON.stringify(params?.[key])}, expected ${JSON.stringify(value)}`);
    }
  }
  return failures;
}

function sameList(actual: readonly string[], expected: readonly string[], ordered: boolean): boolean {
  const [a, b] = ordered ? [actual, expected] : [[...actual].sort(), [...expected].sort()];
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function show(list: readonly string[]): string {
  return `[${list.join(', ')}]`;
}
