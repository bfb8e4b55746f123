import { TextDecoder, TextEncoder } from 'node:util';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import type { CompiledSnapshot } from './compiled-snapshot';
import { toEngineInput, isRecord } from './engine-input';
import type { Decision, Engine, EvaluationInput, Fact } from './evaluation';
import { PkgError } from './errors';
import { storedWasmData, verifyArtifact, type OpaArtifacts } from './opa-artifacts';
import { decisionOf, REF_LISTS } from './rego-decision';

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
  const run = resultSetReader(policy, entrypoint);
  return {
    kind: 'wasm',
    version: snapshot.version,
    evaluate(input: EvaluationInput, facts: readonly Fact[]): Decision {
      return decisionOf(evaluateOnce(run, input, facts), data, snapshot.version);
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
 * TextEncoder/TextDecoder per call and always dumps the whole result to JSON. An answer by number
 * (rego-decision.ts: three lists of integers, what the generated Rego returns) is read straight
 * from the module's memory (Memory); anything else goes through JSON.
 * The heap is not reset before every evaluation, only once it has grown by HEAP_BUDGET (or after
 * an evaluation failed midway): a reset also empties the module's builtin caches, and recompiling
 * every MATCHES pattern (re2) on every evaluation cost more than the whole rest of a decision.
 */
function resultSetReader(policy: LoadedPolicy, entrypoint: string): (input: unknown) => unknown {
  const id = policy.entrypoints[entrypoint]!;
  const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const opa = instance.exports as unknown as OpaExports;
  if (typeof opa.opa_eval_ctx_new !== 'function') return (input) => policy.evaluate(input, id);
  const encoder = new TextEncoder();
  const memory = new Memory(policy.mem, new TextDecoder());
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
    const answer = refsResultSet(memory.refresh(), results) ?? memory.refresh().json(opa.opa_json_dump(results));
    clean = true;
    return answer;
  };
}

/** Bytes an instance's heap may grow by across evaluations before it is reset. */
const HEAP_BUDGET = 4 * 1024 * 1024;

const OPA_NUMBER = 3;
const OPA_STRING = 4;
const OPA_ARRAY = 5;
const OPA_OBJECT = 6;
const OPA_SET = 7;
const OPA_STRING_INTERNED = 8;
const OPA_NUMBER_REPR_INT = 1;
const OPA_NUMBER_REPR_REF = 2;

/**
 * Values in the module's linear memory, laid out as OPA's wasm/src/value.h (wasm32): a type byte,
 * then for a number its representation at +1 and an int64 at +8 (or the digits' address at +8 and
 * length at +12); a string its length at +4 and bytes at +8; an array its elements at +4
 * ({index, value} pairs) and length at +8; an object/set its buckets at +4, bucket count at +8
 * and size at +12, each bucket a chain of {key, value, next} / {value, next}. A value of another
 * type or representation than expected makes a reader return undefined.
 */
class Memory {
  private view: DataView;
  private bytes: Uint8Array;
  constructor(private readonly memory: LoadedPolicy['mem'], private readonly decoder: TextDecoder) {
    this.view = new DataView(memory.buffer);
    this.bytes = new Uint8Array(memory.buffer);
  }

  /** Growing the module's memory replaces its buffer; views of the old one read nothing. */
  refresh(): this {
    if (this.bytes.buffer !== this.memory.buffer) {
      this.view = new DataView(this.memory.buffer);
      this.bytes = new Uint8Array(this.memory.buffer);
    }
    return this;
  }

  type(value: number): number {
    return this.bytes[value]!;
  }

  /** The one element of a set of one, else undefined. */
  only(set: number): number | undefined {
    if (this.type(set) !== OPA_SET || this.word(set + 12) !== 1) return undefined;
    const buckets = this.word(set + 4);
    for (let b = 0; b < this.word(set + 8); b++) {
      const element = this.word(buckets + 4 * b);
      if (element !== 0) return this.word(element);
    }
    return undefined;
  }

  /** The value under an ASCII key of an object with exactly `size` keys, else undefined. */
  field(object: number, size: number, key: Uint8Array): number | undefined {
    if (this.type(object) !== OPA_OBJECT || this.word(object + 12) !== size) return undefined;
    const buckets = this.word(object + 4);
    for (let b = 0; b < this.word(object + 8); b++) {
      for (let element = this.word(buckets + 4 * b); element !== 0; element = this.word(element + 8)) {
        if (this.isString(this.word(element), key)) return this.word(element + 4);
      }
    }
    return undefined;
  }

  private isString(value: number, text: Uint8Array): boolean {
    const type = this.type(value);
    if ((type !== OPA_STRING && type !== OPA_STRING_INTERNED) || this.word(value + 4) !== text.length) return false;
    const start = this.word(value + 8);
    for (let at = 0; at < text.length; at++) if (this.bytes[start + at] !== text[at]) return false;
    return true;
  }

  /** An array of safe integers, else undefined. */
  integers(array: number | undefined): number[] | undefined {
    if (array === undefined || this.type(array) !== OPA_ARRAY) return undefined;
    const elements = this.word(array + 4);
    const length = this.word(array + 8);
    const integers: number[] = [];
    for (let k = 0; k < length; k++) {
      const integer = this.integer(this.word(elements + 8 * k + 4));
      if (integer === undefined) return undefined;
      integers.push(integer);
    }
    return integers;
  }

  /** A safe integer, or undefined for anything else (a fraction, an exponent, a huge value). */
  private integer(value: number): number | undefined {
    if (this.type(value) !== OPA_NUMBER) return undefined;
    const repr = this.bytes[value + 1];
    if (repr === OPA_NUMBER_REPR_INT) {
      const integer = this.view.getInt32(value + 12, true) * 2 ** 32 + this.word(value + 8);
      return Number.isSafeInteger(integer) ? integer : undefined;
    }
    if (repr !== OPA_NUMBER_REPR_REF) return undefined;
    const start = this.word(value + 8);
    const length = this.word(value + 12);
    if (length === 0 || length > 15) return undefined;
    let integer = 0;
    for (let at = start; at < start + length; at++) {
      const digit = this.bytes[at]! - 0x30;
      if (digit < 0 || digit > 9) return undefined;
      integer = integer * 10 + digit;
    }
    return integer;
  }

  json(text: number): unknown {
    return JSON.parse(this.decoder.decode(this.bytes.subarray(text, this.bytes.indexOf(0, text))));
  }

  private word(address: number): number {
    return this.view.getUint32(address, true);
  }
}

const RESULT_KEY = new TextEncoder().encode('result');
const REF_KEYS = REF_LISTS.map(([, key]) => [key, new TextEncoder().encode(key)] as const);

/** The result set `[{"result": {subtask_refs, edge_refs, rule_refs}}]` when the lists hold only integers. */
function refsResultSet(memory: Memory, results: number): [{ result: Record<string, number[]> }] | undefined {
  const element = memory.only(results);
  const answer = element === undefined ? undefined : memory.field(element, 1, RESULT_KEY);
  if (answer === undefined) return undefined;
  const lists: Record<string, number[]> = {};
  for (const [key, bytes] of REF_KEYS) {
    const integers = memory.integers(memory.field(answer, REF_KEYS.length, bytes));
    if (!integers) return undefined;
    lists[key] = integers;
  }
  return [{ result: lists }];
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
