import { TextDecoder, TextEncoder } from 'node:util';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import type { CompiledSnapshot } from './compiled-snapshot';
import { toEngineInput, isRecord } from './engine-input';
import type { Decision, Engine, EvaluationInput, Fact } from './evaluation';
import { PkgError } from './errors';
import { storedWasmData, verifyArtifact, type OpaArtifacts } from './opa-artifacts';

/**
 * The OPA engine: the compiled wasm module, loaded once and reused for every decision (the
 * instance resets its heap per evaluation). The bytes are checked against their recorded sha256
 * before anything is instantiated, so a tampered or truncated artifact is never run.
 */
export async function createWasmEngine(snapshot: CompiledSnapshot, artifacts: OpaArtifacts): Promise<Engine> {
  verifyArtifact(snapshot.version, 'wasm', artifacts.wasm);
  const data = storedWasmData(snapshot.version, artifacts.rego);
  const policy = await loadPolicy(toArrayBuffer(artifacts.wasm.bytes));
  policy.setData(data);
  const entrypoint = snapshot.entrypoint;
  if (!(entrypoint in policy.entrypoints)) {
    throw new PkgError('RegoCompileFailed', `wasm artifact of ${snapshot.version} has no entrypoint ${entrypoint}`);
  }
  const run = resultSetReader(policy, entrypoint, data);
  return {
    kind: 'wasm',
    version: snapshot.version,
    evaluate(input: EvaluationInput, facts: readonly Fact[]): Decision {
      return decisionOf(evaluateOnce(run, input, facts), snapshot.version);
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
    throw new PkgError('InputInvalid', `the wasm engine refused the input: ${error instanceof Error ? error.message : String(error)}`);
  }
  return Array.isArray(results) && isRecord(results[0]) ? results[0].result : undefined;
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
 * TextEncoder/TextDecoder per call and always dumps the whole result to JSON. A generated decision
 * only holds values of the data document (table rows, subtasks, edges), so when every entry of the
 * three lists is such a value the lists are read back by address (mirrorData, Memory) instead
 * of being dumped by the module and parsed again; anything else goes through JSON as before.
 * The heap is not reset before every evaluation, only once it has grown by HEAP_BUDGET (or after
 * an evaluation failed midway): a reset also empties the module's builtin caches, and recompiling
 * every MATCHES pattern (re2) on every evaluation cost more than the whole rest of a decision.
 */
function resultSetReader(policy: LoadedPolicy, entrypoint: string, data: unknown): (input: unknown) => unknown {
  const id = policy.entrypoints[entrypoint]!;
  const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const opa = instance.exports as unknown as OpaExports;
  if (typeof opa.opa_eval_ctx_new !== 'function') return (input) => policy.evaluate(input, id);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const mirror = new Map<number, unknown>();
  if (!mirrorData(new Memory(policy.mem, decoder), policy.dataAddr, data, mirror)) mirror.clear();
  let clean = false;
  return (input) => {
    if (!clean || opa.opa_heap_ptr_get() - policy.dataHeapPtr > HEAP_BUDGET) opa.opa_heap_ptr_set(policy.dataHeapPtr);
    clean = false;
    const text = JSON.stringify(input);
    const address = opa.opa_malloc(text.length * 3);
    const { written } = encoder.encodeInto(text, new Uint8Array(policy.mem.buffer, address, text.length * 3));
    const value = opa.opa_json_parse(address, written);
    if (value === 0) throw new Error('the module could not parse the input as JSON');
    const ctx = opa.opa_eval_ctx_new();
    opa.opa_eval_ctx_set_input(ctx, value);
    opa.opa_eval_ctx_set_data(ctx, policy.dataAddr);
    opa.opa_eval_ctx_set_entrypoint(ctx, id);
    opa.eval(ctx);
    const results = opa.opa_eval_ctx_get_result(ctx);
    const memory = new Memory(policy.mem, decoder);
    const decision = mirroredResultSet(memory, results, mirror) ?? memory.json(opa.opa_json_dump(results));
    clean = true;
    return decision;
  };
}

/** Bytes an instance's heap may grow by across evaluations before it is reset. */
const HEAP_BUDGET = 4 * 1024 * 1024;

const SHORT_ASCII = 24;
const OPA_NULL = 1;
const OPA_BOOLEAN = 2;
const OPA_NUMBER = 3;
const OPA_STRING = 4;
const OPA_ARRAY = 5;
const OPA_OBJECT = 6;
const OPA_SET = 7;
const OPA_STRING_INTERNED = 8;
const OPA_BOOLEAN_INTERNED = 9;
const SCALAR_TYPES: Record<string, number[]> = { number: [OPA_NUMBER], boolean: [OPA_BOOLEAN, OPA_BOOLEAN_INTERNED], object: [OPA_NULL] };

/**
 * Values in the module's linear memory, laid out as OPA's wasm/src/value.h (wasm32): a type byte,
 * then for a string its length at +4 and bytes at +8; an array its elements at +4 ({index, value}
 * pairs) and length at +8; an object/set its buckets at +4 and bucket count at +8, each bucket a
 * chain of {key, value, next} / {value, next}.
 */
class Memory {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  constructor(memory: LoadedPolicy['mem'], private readonly decoder: TextDecoder) {
    this.view = new DataView(memory.buffer);
    this.bytes = new Uint8Array(memory.buffer);
  }

  type(value: number): number {
    return this.view.getUint8(value);
  }

  string(value: number): string | undefined {
    const type = this.type(value);
    if (type !== OPA_STRING && type !== OPA_STRING_INTERNED) return undefined;
    const start = this.word(value + 8);
    const end = start + this.word(value + 4);
    return end - start <= SHORT_ASCII ? this.shortAscii(start, end) ?? this.decoder.decode(this.bytes.subarray(start, end)) : this.decoder.decode(this.bytes.subarray(start, end));
  }

  /** Object keys are short ASCII; building them directly skips TextDecoder's per-call overhead. */
  private shortAscii(start: number, end: number): string | undefined {
    let text = '';
    for (let at = start; at < end; at++) {
      const byte = this.bytes[at]!;
      if (byte >= 0x80) return undefined;
      text += String.fromCharCode(byte);
    }
    return text;
  }

  array(value: number): number[] | undefined {
    if (this.type(value) !== OPA_ARRAY) return undefined;
    const elements = this.word(value + 4);
    return Array.from({ length: this.word(value + 8) }, (_, k) => this.word(elements + 8 * k + 4));
  }

  object(value: number): Map<string, number> | undefined {
    if (this.type(value) !== OPA_OBJECT) return undefined;
    const entries = new Map<string, number>();
    for (const element of this.chains(value, 8)) {
      const key = this.string(this.word(element));
      if (key === undefined) return undefined;
      entries.set(key, this.word(element + 4));
    }
    return entries;
  }

  set(value: number): number[] | undefined {
    return this.type(value) === OPA_SET ? this.chains(value, 4).map((element) => this.word(element)) : undefined;
  }

  json(text: number): unknown {
    return JSON.parse(this.decoder.decode(this.bytes.subarray(text, this.bytes.indexOf(0, text))));
  }

  private chains(value: number, nextOffset: number): number[] {
    const buckets = this.word(value + 4);
    const elements: number[] = [];
    for (let b = 0; b < this.word(value + 8); b++) {
      for (let element = this.word(buckets + 4 * b); element !== 0; element = this.word(element + nextOffset)) elements.push(element);
    }
    return elements;
  }

  private word(address: number): number {
    return this.view.getUint32(address, true);
  }
}

/**
 * Walks the data document in memory alongside the JS value it was loaded from, recording the
 * address of every array and object. Any disagreement (a layout this reader does not know) makes
 * the caller drop the mirror, so decisions then always come back through JSON.
 */
function mirrorData(memory: Memory, address: number, value: unknown, mirror: Map<number, unknown>): boolean {
  if (Array.isArray(value)) {
    const items = memory.array(address);
    if (!items || items.length !== value.length) return false;
    mirror.set(address, value);
    return items.every((item, k) => mirrorData(memory, item, value[k], mirror));
  }
  if (isRecord(value)) {
    const entries = memory.object(address);
    const keys = Object.keys(value);
    if (!entries || entries.size !== keys.length) return false;
    mirror.set(address, value);
    return keys.every((key) => entries.has(key) && mirrorData(memory, entries.get(key)!, value[key], mirror));
  }
  if (typeof value === 'string') return memory.string(address) === value;
  return (SCALAR_TYPES[typeof value] ?? []).includes(memory.type(address));
}

/** The result set `[{"result": {subtasks, dag, rules}}]` when every list entry is a mirrored value. */
function mirroredResultSet(memory: Memory, results: number, mirror: Map<number, unknown>): unknown[] | undefined {
  const set = mirror.size > 0 ? memory.set(results) : undefined;
  if (!set || set.length !== 1) return undefined;
  const result = memory.object(set[0]!)?.get('result');
  const decision = result === undefined ? undefined : memory.object(result);
  if (!decision || decision.size !== 3) return undefined;
  const lists = ['subtasks', 'dag', 'rules'].map((key) => {
    const items = decision.has(key) ? memory.array(decision.get(key)!) : undefined;
    return items?.every((item) => mirror.has(item)) ? items.map((item) => mirror.get(item)) : undefined;
  });
  if (lists.some((list) => list === undefined)) return undefined;
  return [{ result: { subtasks: lists[0], dag: lists[1], rules: lists[2] } }];
}

/** A hand-written policy may return anything; only the three §4 lists are accepted as a decision. */
function decisionOf(result: unknown, version: string): Decision {
  if (!isRecord(result) || !Array.isArray(result.subtasks) || !Array.isArray(result.dag) || !Array.isArray(result.rules)) {
    throw new Error(`wasm policy of ${version} returned no decision (expected {subtasks, dag, rules})`);
  }
  return { subtasks: result.subtasks, dag: result.dag, rules: result.rules } as Decision;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
