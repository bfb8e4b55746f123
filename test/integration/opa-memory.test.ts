import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import fc from 'fast-check';
import { buildWasm } from '../../activities/opa-build';
import { loadConfig } from '../../policy/config';
import { OpaMemory, OpaWriter } from '../../policy/engine/opa-memory';

/**
 * OpaWriter lays inputs out in a real module's memory; whatever it writes must be, value for value
 * and bucket for bucket, what the module's own JSON parser builds from the same value, and what
 * it cannot write it must refuse rather than write differently.
 */
interface PolicyModule {
  memory: OpaMemory;
  writer: OpaWriter;
  parse(value: unknown): number;
  reset(): void;
}

const ARENA = 64 * 1024;
let policyModule: PolicyModule;

beforeAll(async () => {
  const wasm = await buildWasm(
    loadConfig().OPA_PATH,
    new Map([['policy/main.rego', 'package pkg\n\nimport rego.v1\n\nresult := input\n']]),
    'pkg/result',
  );
  const policy: LoadedPolicy = await loadPolicy(
    wasm.bytes.buffer.slice(wasm.bytes.byteOffset, wasm.bytes.byteOffset + wasm.bytes.byteLength),
  );
  const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const opa = instance.exports as unknown as {
    opa_malloc(size: number): number;
    opa_json_parse(address: number, length: number): number;
    opa_heap_ptr_get(): number;
    opa_heap_ptr_set(address: number): void;
  };
  const arena = opa.opa_malloc(ARENA);
  const base = opa.opa_heap_ptr_get();
  policyModule = {
    memory: new OpaMemory(policy.mem),
    writer: new OpaWriter(policy.mem, arena, arena + ARENA),
    parse(value) {
      const bytes = Buffer.from(JSON.stringify(value));
      const address = opa.opa_malloc(bytes.length);
      new Uint8Array(policy.mem.buffer).set(bytes, address);
      return opa.opa_json_parse(address, bytes.length);
    },
    reset: () => opa.opa_heap_ptr_set(base),
  };
});

function sameAsParsed(value: unknown): boolean {
  policyModule.reset();
  const written = policyModule.writer.write(value);
  if (written === undefined) throw new Error(`refused ${JSON.stringify(value)}`);
  return policyModule.memory.refresh().sameLayout(written, policyModule.parse(value));
}

describe('OpaWriter', () => {
  it('lays out any JSON value as the module parses it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(sameAsParsed(value)).toBe(true);
      }),
      { numRuns: 3000, seed: 20261122 },
    );
  });

  it.each([
    ['objects that grow their buckets', Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`key${k}`, k]))],
    [
      'keys sharing a bucket, in byte order',
      Object.fromEntries(Array.from({ length: 200 }, (_, k) => [String.fromCodePoint(0x41 + (k % 60), 0xe0 + k), k])),
    ],
    [
      'integers at the int64 and safe edges',
      [
        0,
        -1,
        2 ** 31,
        -(2 ** 31) - 1,
        2 ** 32,
        2 ** 40 + 5,
        Number.MAX_SAFE_INTEGER,
        Number.MIN_SAFE_INTEGER,
        2 ** 53,
        -(2 ** 60),
      ],
    ],
    ['fractions and exponents', [0.1, -0.5, 5e-324, 1e21, 1.7976931348623157e308, 123456789.123]],
    ['multi-byte text, NUL and empty strings', { ü: 'ünïcødé ✓ 🏨', '': '', 'a\u0000b': ['\u0000', '\u{10ffff}'] }],
    [
      'an input as evaluators pass it',
      {
        tags: ['vip'],
        signals: { x2: 0.8, temp: 28 },
        context: { subject: 'guest:Ben', area: { zone: 'a' } },
        facts: [{ predicate: 'p', object: { level: 2 } }],
      },
    ],
  ])('lays out %s as the module parses them', (_, value) => {
    expect(sameAsParsed(value)).toBe(true);
  });

  it('tells layouts apart: a value, a key, a bucket count or a type that differs', () => {
    const differing: [unknown, unknown][] = [
      [{ a: 1 }, { a: 2 }],
      [{ a: 1 }, { b: 1 }],
      [
        Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`k${k}`, k])),
        Object.fromEntries(Array.from({ length: 6 }, (_, k) => [`k${k}`, k])),
      ],
      [
        [1, 2],
        [1, 2, 3],
      ],
      ['1', 1],
      [true, false],
      [null, false],
      ['ab', 'ac'],
    ];
    for (const [a, b] of differing) {
      policyModule.reset();
      const written = policyModule.writer.write(a)!;
      expect(policyModule.memory.refresh().sameLayout(written, policyModule.parse(b))).toBe(false);
    }
  });

  it.each([
    ['a lone surrogate', { text: 'a\ud800b' }],
    ['a Date', { at: new Date(0) }],
    [
      'a class instance',
      {
        at: new (class Point {
          x = 1;
        })(),
      },
    ],
    ['a function value', { run: () => 1 }],
    ['an undefined value JSON would drop', { gone: undefined, kept: 1 }],
    ['a BigInt', { n: BigInt(1) }],
    ['an input larger than the arena', { text: 'x'.repeat(ARENA) }],
  ])('refuses %s, leaving it to JSON', (_, value) => {
    expect(policyModule.writer.write(value)).toBeUndefined();
  });
});
