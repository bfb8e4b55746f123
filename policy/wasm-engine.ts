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
  const run = resultSetReader(policy, entrypoint);
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

type OpaEval = (ctx: number, entrypoint: number, data: number, input: number, inputLength: number, heap: number, format: number) => number;

/**
 * The SDK's evaluate() builds a TextEncoder and a TextDecoder and scans for the result's NUL byte
 * in a JS loop on every call; this is the same ABI 1.2 `opa_eval` call (input written just above
 * the data, result read back as JSON) with those costs paid once. Older modules use the SDK.
 */
function resultSetReader(policy: LoadedPolicy, entrypoint: string): (input: unknown) => unknown {
  const id = policy.entrypoints[entrypoint]!;
  const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const opaEval = instance.exports.opa_eval as OpaEval | undefined;
  if (Number(policy.minorVersion) < 2 || typeof opaEval !== 'function') return (input) => policy.evaluate(input, id);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return (input) => {
    const text = JSON.stringify(input);
    const address: number = policy.dataHeapPtr;
    const room = address + text.length * 3 - policy.mem.buffer.byteLength;
    if (room > 0) policy.mem.grow(Math.ceil(room / 65536));
    const { written } = encoder.encodeInto(text, new Uint8Array(policy.mem.buffer, address));
    const result = opaEval(0, id, policy.dataAddr, address, written, address + written, 0);
    const memory = new Uint8Array(policy.mem.buffer);
    return JSON.parse(decoder.decode(memory.subarray(result, memory.indexOf(0, result))));
  };
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
