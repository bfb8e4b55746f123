import path from 'node:path';
import { readBundleDir } from '../activities/bundle-dir';
import { buildArtifacts, buildRegoArtifacts } from '../activities/compile';
import { loadBundle } from '../policy/bundle/bundle';
import { compileSnapshot } from '../policy/bundle/compile';
import {
  ruleIdOf,
  type CompiledRule,
  type CompiledSnapshot,
  type Condition,
  type Emission,
} from '../policy/engine/compiled-snapshot';
import { loadConfig } from '../policy/config';
import type { Engine, EvaluationInput, Fact } from '../policy/engine/evaluation';
import { createNativeEngine } from '../policy/engine/native';
import { generateRego, GENERATED_REGO_PATH } from '../policy/rego/generate';
import { createWasmEngine } from '../policy/engine/wasm';
import type { OpaArtifacts } from '../policy/rego/artifacts';

/**
 * Engine throughput and latency: `npx tsx bench/engines.ts [evaluations]`. Each evaluation is timed
 * on its own (hrtime) after a warm-up, over a fixed cycle of inputs, for both engines on the
 * hotel-ops example and on a generated 500-rule snapshot. Targets (issue 3): native p99 ≤ 20 µs
 * on 500 rules; wasm within 3× native.
 */
const EVALUATIONS = Number(process.argv[2] ?? 20000);
const WARMUP = Number(process.argv[3] ?? 3000);

interface Case {
  input: EvaluationInput;
  facts: Fact[];
}

function measure(
  engine: Engine,
  cases: readonly Case[],
): { perSecond: number; p50: number; p99: number; matched: number } {
  for (let i = 0; i < WARMUP; i++) engine.evaluate(cases[i % cases.length]!.input, cases[i % cases.length]!.facts);
  const samples = new Float64Array(EVALUATIONS);
  let matched = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVALUATIONS; i++) {
    const { input, facts } = cases[i % cases.length]!;
    const t0 = process.hrtime.bigint();
    matched += engine.evaluate(input, facts).rules.length;
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  samples.sort();
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { perSecond: EVALUATIONS / seconds, p50: at(0.5), p99: at(0.99), matched: matched / EVALUATIONS };
}

/** 500 rules over 60 tags, 20 signals, context values and 5 fact predicates; deterministic. */
export function generatedSnapshot(count: number): CompiledSnapshot {
  const version = 'bench@1.0.0';
  let seed = 42;
  // mulberry32: the low bits of a plain LCG cycle too fast for `% n`.
  const next = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const rules: CompiledRule[] = Array.from({ length: count }, (_, i) => {
    const conditions: Condition[] = [{ type: 'TAG', key: `tag${next(60)}`, op: 'EXISTS' }];
    if (next(2)) conditions.push({ type: 'SIGNAL', key: `s${next(20)}`, op: '>=', value: next(100) / 100 });
    if (next(2))
      conditions.push({ type: 'VALUE', key: `context.area.zone${next(5)}`, op: 'IN', value: ['a', 'b', 'c'] });
    if (next(4) === 0) conditions.push({ type: 'FACT', key: `p${next(5)}.level`, op: '>', value: next(3) });
    if (next(8) === 0) conditions.push({ type: 'VALUE', key: 'context.subject', op: 'MATCHES', value: '^guest:[A-M]' });
    const subtask = `task${next(20)}`;
    const emissions: Emission[] = [{ subtask, relationship: 'EMITS', params: { rule: i } }];
    if (next(3) === 0)
      emissions.push({
        subtask: `task${(Number(subtask.slice(4)) + 1) % 20}`,
        relationship: 'ORDERS',
        params: { after: subtask },
      });
    const name = `rule_${String(i).padStart(3, '0')}`;
    return { id: ruleIdOf(version, name), name, priority: next(50), enabled: next(20) !== 0, conditions, emissions };
  });
  const subtaskTypes = Array.from({ length: 20 }, (_, i) => ({ name: `task${i}`, defaultParams: { lane: 'ops' } }));
  return { version, engine: 'native', entrypoint: 'pkg/result', subtaskTypes, rules };
}

export function generatedCases(): Case[] {
  return Array.from({ length: 64 }, (_, i) => ({
    input: {
      tags: [`tag${i % 60}`, `tag${(i * 7) % 60}`, `tag${(i * 13) % 60}`],
      signals: Object.fromEntries(
        Array.from({ length: 6 }, (_, k) => [`s${(i + k * 3) % 20}`, ((i * 37 + k * 11) % 100) / 100]),
      ),
      context: {
        subject: i % 2 ? 'guest:Ben' : 'guest:Zoe',
        area: { zone0: 'a', zone1: 'b', zone2: 'x', zone3: 'c', zone4: 'z' },
      },
    },
    facts: [{ predicate: `p${i % 5}`, object: { level: i % 4 } }],
  }));
}

async function main(): Promise<void> {
  const opa = loadConfig().OPA_PATH;
  const bundle = loadBundle(await readBundleDir(path.join(__dirname, '..', 'examples', 'hotel-ops-v1')));
  const example = compileSnapshot(bundle);
  const exampleArtifacts = await buildArtifacts(opa, bundle, example);
  const large = generatedSnapshot(500);
  const largeArtifacts = await buildRegoArtifacts(opa, new Map([[GENERATED_REGO_PATH, generateRego(large)]]), large);
  const suites: [string, CompiledSnapshot, OpaArtifacts, Case[]][] = [
    [
      'hotel-ops-v1 (15 rules)',
      example,
      exampleArtifacts,
      bundle.fixtures.map((f) => ({ input: f.input, facts: f.input.facts ?? [] })),
    ],
    ['generated (500 rules)', large, largeArtifacts, generatedCases()],
  ];
  console.log(`${EVALUATIONS} evaluations per row after ${WARMUP} warm-up, node ${process.version}`);
  console.log('snapshot                  engine   evals/s     p50 µs   p99 µs   rules matched/eval');
  for (const [name, snapshot, artifacts, cases] of suites) {
    const engines = [createNativeEngine(snapshot), await createWasmEngine(snapshot, artifacts)];
    const rows = engines.map((engine) => ({ engine, result: measure(engine, cases) }));
    for (const { engine, result } of rows) {
      console.log(
        `${name.padEnd(26)}${engine.kind.padEnd(9)}${Math.round(result.perSecond).toString().padStart(8)}   ${result.p50.toFixed(1).padStart(7)}  ${result.p99.toFixed(1).padStart(7)}   ${result.matched.toFixed(1)}`,
      );
    }
    console.log(`${''.padEnd(26)}wasm/native p99: ${(rows[1]!.result.p99 / rows[0]!.result.p99).toFixed(1)}×`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
