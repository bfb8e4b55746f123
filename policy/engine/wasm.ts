import { TextEncoder } from 'node:util';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import type { CompiledSnapshot } from './compiled-snapshot';
import { toEngineInput, isRecord } from './engine-input';
import type { Decision, Engine, EvaluationInput, Fact } from './evaluation';
import { PkgError } from '../errors';
import { storedWasmData, verifyArtifact, type OpaArtifacts } from '../rego/artifacts';
import { LAYOUT_PROBE, OpaMemory, OpaWriter, type LinearMemory } from './opa-memory';
import { storedRuleOutputs } from '../rego/data';
import { decisionOf, RULE_REFS } from '../rego/decision';

/**
 * The OPA engine: the compiled wasm module, loaded once and reused for every decision (the
 * instance resets its heap per evaluation). The bytes are checked against their recorded sha256
 * before anything is instantiated, so a tampered or truncated artifact is never run.
 */
export async function createWasmEngine(snapshot: CompiledSnapshot, artifacts: OpaArtifacts): Promise<Engine> {
  verifyArtifact(snapshot.version, 'wasm', artifacts.wasm);
  const data = storedWasmData(snapshot.version, artifacts.rego);
  const rules = storedRuleOutputs(snapshot.version, data);
  const policy = await loadPolicy(toArrayBuffer(artifacts.wasm.bytes));
  policy.setData(data);
  const entrypoint = snapshot.entrypoint;
  const internals = policy as unknown as PolicyInternals;
  if (!(entrypoint in internals.entrypoints)) {
    throw new PkgError('RegoCompileFailed', `wasm artifact of ${snapshot.version} has no entrypoint ${entrypoint}`);
  }
  const run = resultSetReader(internals, entrypoint);
  return {
    kind: 'wasm',
    version: snapshot.version,
    evaluate(input: EvaluationInput, facts: readonly Fact[]): Decision {
      return decisionOf(evaluateOnce(run, input, facts), rules, snapshot.version);
    },
  };
}

/**
 * OPA's JSON reader refuses what JSON.stringify can still write (a lone UTF-16 surrogate); such an
 * input is not valid Unicode text, so it is refused as bad input rather than failing obscurely.
 */
function evaluateOnce(run: (input: unknown) => unknown, input: EvaluationInput, facts: readonly Fact[]): unknown {
  let results: unknown;
  try {
    results = run(toEngineInput(input, facts));
  } catch (error) {
    throw new PkgError(
      'InputInvalid',
      `the wasm engine refused the input: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return Array.isArray(results) && isRecord(results[0]) ? results[0].result : undefined;
}

/**
 * The parts of opa-wasm's LoadedPolicy this engine reads. Its typings name WebAssembly types that
 * a Node build without the DOM library does not load (so they arrive untyped); this is their shape.
 */
interface PolicyInternals {
  mem: LinearMemory;
  wasmInstance: { exports: unknown } | { instance: { exports: unknown } };
  dataAddr: number;
  entrypoints: Record<string, number>;
  evaluate(input: unknown, entrypoint: number): unknown;
}

interface OpaExports {
  opa_heap_ptr_set(address: number): void;
  opa_heap_ptr_get(): number;
  opa_malloc(size: number): number;
  opa_json_parse(address: number, length: number): number;
  opa_json_dump(value: number): number;
  opa_eval_ctx_new(): number;
  opa_eval_ctx_set_input(ctx: number, value: number): void;
  opa_eval_ctx_set_data(ctx: number, value: number): void;
  opa_eval_ctx_set_entrypoint(ctx: number, entrypoint: number): void;
  opa_eval_ctx_get_result(ctx: number): number;
  eval(ctx: number): number;
}

/**
 * Evaluates through the module's exports rather than the SDK's evaluate(), which rebuilds a
 * TextEncoder/TextDecoder per call and always dumps the whole result to JSON. An answer of matched
 * rules (rego-decision.ts: a list of integers, what the generated Rego returns) is read straight
 * from the module's memory (opa-memory.ts); anything else goes through JSON, and so does an input
 * OpaWriter cannot lay out in memory itself.
 * The heap is not reset before every evaluation, only once it has grown by HEAP_BUDGET (or after
 * an evaluation failed midway): a reset also empties the module's builtin caches, and recompiling
 * every MATCHES pattern (re2) on every evaluation cost more than the whole rest of a decision.
 */
function resultSetReader(policy: PolicyInternals, entrypoint: string): (input: unknown) => unknown {
  const id = policy.entrypoints[entrypoint]!;
  const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const opa = instance.exports as OpaExports;
  if (typeof opa.opa_eval_ctx_new !== 'function') return (input) => policy.evaluate(input, id);
  const encoder = new TextEncoder();
  const parse = (input: unknown) => {
    const text = JSON.stringify(input);
    const address = opa.opa_malloc(text.length * 3);
    const { written } = encoder.encodeInto(text, new Uint8Array(policy.mem.buffer, address, text.length * 3));
    const value = opa.opa_json_parse(address, written);
    if (value === 0) throw new Error('the module could not parse the input as JSON');
    return value;
  };
  const memory = new OpaMemory(policy.mem);
  const writer = checkedWriter(opa, policy, memory, parse);
  // Resets return the heap to just above the data document and the writer's arena.
  const base = opa.opa_heap_ptr_get();
  let clean = false;
  return (input) => {
    if (!clean || opa.opa_heap_ptr_get() - base > HEAP_BUDGET) opa.opa_heap_ptr_set(base);
    clean = false;
    const value = writer?.write(input) ?? parse(input);
    const ctx = opa.opa_eval_ctx_new();
    opa.opa_eval_ctx_set_input(ctx, value);
    opa.opa_eval_ctx_set_data(ctx, policy.dataAddr);
    opa.opa_eval_ctx_set_entrypoint(ctx, id);
    opa.eval(ctx);
    const results = opa.opa_eval_ctx_get_result(ctx);
    const answer = ruleRefsResultSet(memory.refresh(), results) ?? jsonOf(memory, opa.opa_json_dump(results));
    clean = true;
    return answer;
  };
}

/** Dumping may grow the module's memory, so the view is refreshed after the dump, not before. */
function jsonOf(memory: OpaMemory, text: number): unknown {
  return memory.refresh().json(text);
}

/** Bytes an instance's heap may grow by across evaluations before it is reset. */
const HEAP_BUDGET = 4 * 1024 * 1024;

const RESULT_KEY = new TextEncoder().encode('result');
const RULE_REFS_KEY = new TextEncoder().encode(RULE_REFS);

/** The result set `[{"result": {"rule_refs": [...]}}]` when the list holds only integers. */
function ruleRefsResultSet(memory: OpaMemory, results: number): [{ result: Record<string, number[]> }] | undefined {
  const element = memory.only(results);
  const answer = element === undefined ? undefined : memory.soleField(element, RESULT_KEY);
  const refs = answer === undefined ? undefined : memory.integers(memory.soleField(answer, RULE_REFS_KEY));
  return refs && [{ result: { [RULE_REFS]: refs } }];
}

/**
 * The writer is only used once what it lays out for LAYOUT_PROBE matches, value for value and
 * bucket for bucket, what the module's own JSON parser builds; otherwise every input goes
 * through JSON, as a module whose layout this code does not know must.
 */
function checkedWriter(
  opa: OpaExports,
  policy: PolicyInternals,
  memory: OpaMemory,
  parse: (input: unknown) => number,
): OpaWriter | undefined {
  const arena = opa.opa_malloc(INPUT_ARENA);
  const writer = new OpaWriter(policy.mem, arena, arena + INPUT_ARENA);
  const written = writer.write(LAYOUT_PROBE);
  const parsed = parse(LAYOUT_PROBE);
  return written !== undefined && memory.refresh().sameLayout(written, parsed) ? writer : undefined;
}

/** Bytes set aside once per instance for the input; a larger input goes through JSON. */
const INPUT_ARENA = 64 * 1024;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
