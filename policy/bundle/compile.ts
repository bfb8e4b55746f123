import type { Bundle } from './bundle';
import { ruleIdOf, type CompiledSnapshot, type Condition } from '../engine/compiled-snapshot';
import { generateRego, GENERATED_REGO_PATH } from '../rego/generate';

/** A validated bundle → the snapshot both engines read, with deterministic rule ids. */
export function compileSnapshot(bundle: Bundle): CompiledSnapshot {
  const { manifest, rules } = bundle;
  return {
    version: manifest.version,
    engine: manifest.engine,
    entrypoint: manifest.entrypoint,
    subtaskTypes: (rules?.subtask_types ?? []).map((type) => ({ name: type.name, defaultParams: type.default_params })),
    rules: (rules?.rules ?? []).map((rule) => ({
      id: ruleIdOf(manifest.version, rule.name),
      name: rule.name,
      priority: rule.priority,
      enabled: rule.enabled,
      ...(rule.description === undefined ? {} : { description: rule.description }),
      conditions: rule.conditions.map((c): Condition => ({
        type: c.type,
        key: c.key,
        op: c.op,
        ...(c.value === undefined ? {} : { value: c.value }),
      })),
      emissions: rule.emissions.map((e) => ({
        subtask: e.subtask,
        relationship: e.relationship,
        params: e.params,
      })),
    })),
  };
}

/** The Rego that is built to wasm: the bundle's own policy/*.rego when it has any, else generated. */
export function regoSourcesOf(bundle: Bundle, snapshot: CompiledSnapshot): Map<string, string> {
  if (bundle.rego.size > 0) return new Map(bundle.rego);
  return new Map([[GENERATED_REGO_PATH, generateRego(snapshot)]]);
}
