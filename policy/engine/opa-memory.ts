import { TextDecoder, TextEncoder } from 'node:util';

/**
 * OPA values in a policy module's linear memory, laid out as OPA's wasm/src/value.h (wasm32):
 * a type byte, then
 * - a boolean its value at +1;
 * - a number its representation at +1 and an int64 at +8, or its JSON digits' address at +8 and
 *   length at +12 (24 bytes);
 * - a string its length at +4 and bytes' address at +8 (12 bytes);
 * - an array its elements at +4 ({index number, value} pairs), length at +8 and capacity at +12;
 * - an object/set its buckets at +4, bucket count at +8 and size at +12; a bucket is a chain of
 *   {key, value, next} / {value, next}, an object's sorted by key.
 * A reader given a value of another type or representation than it expects returns undefined.
 */
const OPA_NULL = 1;
const OPA_BOOLEAN = 2;
const OPA_NUMBER = 3;
const OPA_STRING = 4;
const OPA_ARRAY = 5;
const OPA_OBJECT = 6;
const OPA_SET = 7;
const OPA_STRING_INTERNED = 8;
const OPA_BOOLEAN_INTERNED = 9;
const OPA_NUMBER_REPR_INT = 1;
const OPA_NUMBER_REPR_REF = 2;
/** value.c: objects start with 8 buckets and double once their size would pass 0.7 per bucket. */
const OBJECT_MIN_BUCKETS = 8;
const OBJECT_LOAD_FACTOR = 0.7;

/** A module's memory: its buffer is replaced whenever the memory grows. */
export interface LinearMemory {
  readonly buffer: ArrayBuffer;
}

export class OpaMemory {
  private view: DataView;
  private bytes: Uint8Array;
  private readonly decoder = new TextDecoder();
  constructor(private readonly memory: LinearMemory) {
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
    const type = this.bytes[value]!;
    return type === OPA_STRING_INTERNED ? OPA_STRING : type === OPA_BOOLEAN_INTERNED ? OPA_BOOLEAN : type;
  }

  /** The one element of a set of one, else undefined. */
  only(set: number): number | undefined {
    const element = this.soleElement(set, OPA_SET);
    return element === undefined ? undefined : this.word(element);
  }

  /** The value of an object whose only key is `key` (ASCII), else undefined. */
  soleField(object: number, key: Uint8Array): number | undefined {
    const element = this.soleElement(object, OPA_OBJECT);
    return element !== undefined && this.isString(this.word(element), key) ? this.word(element + 4) : undefined;
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

  /** A NUL-terminated JSON text the module wrote (opa_json_dump), parsed. */
  json(text: number): unknown {
    return JSON.parse(this.decoder.decode(this.bytes.subarray(text, this.bytes.indexOf(0, text))));
  }

  /**
   * Whether two values are laid out alike: same types, numbers, bytes, and for objects the same
   * bucket count with the same keys in the same chains. The engine compares what OpaWriter wrote
   * with what the module's own JSON parser built from the same value before trusting the writer.
   */
  sameLayout(a: number, b: number): boolean {
    const type = this.type(a);
    if (type !== this.type(b)) return false;
    switch (type) {
      case OPA_NULL:
        return true;
      case OPA_BOOLEAN:
        return this.bytes[a + 1] === this.bytes[b + 1];
      case OPA_NUMBER: {
        const number = this.number(a);
        return number !== undefined && number === this.number(b);
      }
      case OPA_STRING:
        return this.text(a) === this.text(b);
      case OPA_ARRAY: {
        const length = this.word(a + 8);
        if (length !== this.word(b + 8)) return false;
        for (let k = 0; k < length; k++) {
          const [x, y] = [this.word(a + 4) + 8 * k, this.word(b + 4) + 8 * k];
          if (!this.sameLayout(this.word(x), this.word(y)) || !this.sameLayout(this.word(x + 4), this.word(y + 4)))
            return false;
        }
        return true;
      }
      case OPA_OBJECT: {
        if (this.word(a + 8) !== this.word(b + 8) || this.word(a + 12) !== this.word(b + 12)) return false;
        for (let bucket = 0; bucket < this.word(a + 8); bucket++) {
          const [x, y] = [this.bucketChain(a, bucket), this.bucketChain(b, bucket)];
          if (x.length !== y.length) return false;
          if (
            x.some(
              (element, k) =>
                !this.sameLayout(this.word(element), this.word(y[k]!)) ||
                !this.sameLayout(this.word(element + 4), this.word(y[k]! + 4)),
            )
          )
            return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  private number(value: number): number | undefined {
    const repr = this.bytes[value + 1];
    if (repr === OPA_NUMBER_REPR_INT) return this.int64(value + 8);
    return repr === OPA_NUMBER_REPR_REF
      ? Number(
          this.decoder.decode(this.bytes.subarray(this.word(value + 8), this.word(value + 8) + this.word(value + 12))),
        )
      : undefined;
  }

  /** A safe integer, or undefined for anything else (a fraction, an exponent, a huge value). */
  private integer(value: number): number | undefined {
    if (this.type(value) !== OPA_NUMBER) return undefined;
    const repr = this.bytes[value + 1];
    if (repr === OPA_NUMBER_REPR_INT) return this.int64(value + 8);
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

  private int64(address: number): number | undefined {
    const integer = this.view.getInt32(address + 4, true) * 2 ** 32 + this.word(address);
    return Number.isSafeInteger(integer) ? integer : undefined;
  }

  private text(value: number): string {
    const start = this.word(value + 8);
    return this.decoder.decode(this.bytes.subarray(start, start + this.word(value + 4)));
  }

  private isString(value: number, text: Uint8Array): boolean {
    if (this.type(value) !== OPA_STRING || this.word(value + 4) !== text.length) return false;
    const start = this.word(value + 8);
    for (let at = 0; at < text.length; at++) if (this.bytes[start + at] !== text[at]) return false;
    return true;
  }

  /** The bucket element of a set or object holding exactly one, if `value` is one of `type`. */
  private soleElement(value: number, type: typeof OPA_SET | typeof OPA_OBJECT): number | undefined {
    if (this.type(value) !== type || this.word(value + 12) !== 1) return undefined;
    const buckets = this.word(value + 4);
    for (let bucket = 0; bucket < this.word(value + 8); bucket++) {
      const element = this.word(buckets + 4 * bucket);
      if (element !== 0) return element;
    }
    return undefined;
  }

  private bucketChain(object: number, bucket: number): number[] {
    const elements: number[] = [];
    for (let element = this.word(this.word(object + 4) + 4 * bucket); element !== 0; element = this.word(element + 8))
      elements.push(element);
    return elements;
  }

  private word(address: number): number {
    return this.view.getUint32(address, true);
  }
}

/**
 * Lays a JSON value out in the module's memory as its own opa_json_parse would, so an input costs
 * no JSON text and no parse inside the module. It writes into an arena the caller allocated once
 * below the heap base the engine resets to, overwriting the previous input (the module keeps no
 * input value across evaluations; its regex cache copies its keys). Integers within 32 bits become
 * int numbers; other numbers their JSON digits, as the module's own parser keeps every number (its
 * runtime, in OPA v1.22, turns a wider int64 into a wrong decimal when it compares it with a
 * fraction). An object's keys go into the buckets value.c's hash (FNV-1a over the UTF-8 bytes,
 * modulo the bucket count) puts them in, each chain sorted by key bytes. Anything JSON.stringify
 * would transform or drop (a Date, a function, a lone surrogate, a class instance, …), and an
 * input larger than the arena, is not written: `write` returns undefined and the caller goes
 * through JSON.
 */
export class OpaWriter {
  private readonly encoder = new TextEncoder();
  private u8!: Uint8Array;
  private u32!: Uint32Array;
  private i32!: Int32Array;
  private next = 0;
  /** FNV-1a of the last string written with `hashing`. */
  private hash = 0;

  constructor(
    private readonly memory: LinearMemory,
    private readonly arena: number,
    private readonly end: number,
  ) {}

  write(value: unknown): number | undefined {
    if (this.u8?.buffer !== this.memory.buffer) {
      this.u8 = new Uint8Array(this.memory.buffer);
      this.u32 = new Uint32Array(this.memory.buffer);
      this.i32 = new Int32Array(this.memory.buffer);
    }
    this.next = align(this.arena);
    try {
      return this.value(value);
    } catch (error) {
      if (error === UNWRITABLE) return undefined;
      throw error;
    }
  }

  private value(value: unknown): number {
    switch (typeof value) {
      case 'string':
        return this.string(value, false);
      case 'number':
        return Number.isFinite(value) ? this.number(value) : this.scalar(OPA_NULL, 0);
      case 'boolean':
        return this.scalar(OPA_BOOLEAN, value ? 1 : 0);
      case 'object':
        if (value === null) return this.scalar(OPA_NULL, 0);
        return Array.isArray(value) ? this.array(value) : this.object(value as Record<string, unknown>);
      default:
        throw UNWRITABLE;
    }
  }

  private scalar(type: number, byte: number): number {
    const at = this.take(2);
    this.u8[at] = type;
    this.u8[at + 1] = byte;
    return at;
  }

  private number(value: number): number {
    const at = this.take(NUMBER_SIZE);
    this.u8[at] = OPA_NUMBER;
    if ((value | 0) === value) {
      this.u8[at + 1] = OPA_NUMBER_REPR_INT;
      this.u32[(at + 8) >> 2] = value >>> 0;
      this.i32[(at + 12) >> 2] = value < 0 ? -1 : 0;
      return at;
    }
    const digits = String(value);
    const start = this.take(digits.length);
    for (let k = 0; k < digits.length; k++) this.u8[start + k] = digits.charCodeAt(k);
    this.u8[at + 1] = OPA_NUMBER_REPR_REF;
    this.u32[(at + 8) >> 2] = start;
    this.u32[(at + 12) >> 2] = digits.length;
    this.u8[at + 16] = 0;
    return at;
  }

  /** ASCII is copied (and hashed) by hand: TextEncoder's per-call cost outweighs short strings. */
  private string(value: string, hashing: boolean): number {
    const at = this.take(12);
    const start = this.take(value.length);
    let hash = FNV_OFFSET;
    for (let k = 0; k < value.length; k++) {
      const code = value.charCodeAt(k);
      if (code >= 0x80) return this.wideString(at, value, hashing);
      this.u8[start + k] = code;
      hash = fnvStep(hash, code);
    }
    if (hashing) this.hash = hash >>> 0;
    return this.stringHeader(at, start, value.length);
  }

  private wideString(at: number, value: string, hashing: boolean): number {
    if (LONE_SURROGATE.test(value)) throw UNWRITABLE;
    this.next = at + 16;
    const length = Buffer.byteLength(value, 'utf8');
    const start = this.take(length);
    this.encoder.encodeInto(value, this.u8.subarray(start, start + length));
    if (hashing) this.hash = fnv1a(this.u8.subarray(start, start + length));
    return this.stringHeader(at, start, length);
  }

  private stringHeader(at: number, start: number, length: number): number {
    this.u8[at] = OPA_STRING;
    this.u8[at + 1] = 0;
    this.u32[(at + 4) >> 2] = length;
    this.u32[(at + 8) >> 2] = start;
    return at;
  }

  private array(values: readonly unknown[]): number {
    const at = this.take(16);
    const elements = this.take(8 * values.length);
    for (let k = 0; k < values.length; k++) {
      this.u32[(elements >> 2) + 2 * k] = this.number(k);
      this.u32[(elements >> 2) + 2 * k + 1] = this.value(values[k] === undefined ? null : values[k]);
    }
    this.u8[at] = OPA_ARRAY;
    this.u32[(at + 4) >> 2] = values.length === 0 ? 0 : elements;
    this.u32[(at + 8) >> 2] = values.length;
    this.u32[(at + 12) >> 2] = values.length;
    return at;
  }

  private object(record: Record<string, unknown>): number {
    const prototype: unknown = Object.getPrototypeOf(record);
    if (prototype !== Object.prototype && prototype !== null) throw UNWRITABLE;
    const keys = Object.keys(record);
    const count = bucketCount(keys.length);
    const at = this.take(16);
    const buckets = this.take(4 * count);
    for (let b = 0; b < count; b++) this.u32[(buckets >> 2) + b] = 0;
    for (const key of keys) {
      const value = record[key];
      // JSON drops the key (and the bucket count would change): leave such an input to JSON.
      if (value === undefined) throw UNWRITABLE;
      const element = this.take(12);
      const name = this.string(key, true);
      const slot = buckets + 4 * (this.hash % count);
      this.u32[element >> 2] = name;
      this.u32[(element + 4) >> 2] = this.value(value);
      this.insertSorted(slot, element);
    }
    this.u8[at] = OPA_OBJECT;
    this.u32[(at + 4) >> 2] = buckets;
    this.u32[(at + 8) >> 2] = count;
    this.u32[(at + 12) >> 2] = keys.length;
    return at;
  }

  /** value.c keeps each bucket's chain in key order (unsigned byte compare, then length). */
  private insertSorted(slot: number, element: number): void {
    let previous = slot;
    let current = this.u32[slot >> 2]!;
    while (current !== 0 && this.compareKeys(current, element) < 0) {
      previous = current + 8;
      current = this.u32[previous >> 2]!;
    }
    this.u32[(element + 8) >> 2] = current;
    this.u32[previous >> 2] = element;
  }

  /** Compares two elements' keys in place: a subarray per comparison cost more than the compare. */
  private compareKeys(a: number, b: number): number {
    const keyA = this.u32[a >> 2]!;
    const keyB = this.u32[b >> 2]!;
    const lengthA = this.u32[(keyA + 4) >> 2]!;
    const lengthB = this.u32[(keyB + 4) >> 2]!;
    const startA = this.u32[(keyA + 8) >> 2]!;
    const startB = this.u32[(keyB + 8) >> 2]!;
    for (let k = 0, shared = Math.min(lengthA, lengthB); k < shared; k++) {
      const difference = this.u8[startA + k]! - this.u8[startB + k]!;
      if (difference !== 0) return difference;
    }
    return lengthA - lengthB;
  }

  private take(size: number): number {
    const at = this.next;
    this.next = align(at + size);
    if (this.next > this.end) throw UNWRITABLE;
    return at;
  }
}

/**
 * An input shaped like every evaluation's, with what could be laid out wrongly: multi-byte and
 * empty strings, NUL, integers at the int64 edges, fractions, exponents, nesting, and enough keys
 * to make an object grow its buckets twice.
 */
export const LAYOUT_PROBE = {
  tags: ['vip', 'ünïcødé ✓ 🏨', '', 'a\u0000b'],
  signals: {
    x2: 0.8,
    n: -3,
    zero: 0,
    negative: -0.5,
    tiny: 5e-324,
    // eslint-disable-next-line no-loss-of-precision -- a double past 2^53, laid out as OPA parses it
    huge: 12345678901234567890,
    exponent: 1e21,
    max: Number.MAX_SAFE_INTEGER,
    min: Number.MIN_SAFE_INTEGER,
    big: 2 ** 40 + 5,
  },
  context: {
    ...Object.fromEntries(Array.from({ length: 13 }, (_, k) => [`key${k}`, k])),
    area: { zone: 'a', list: [true, false, null, [], {}] },
    ü: 'é',
  },
  facts: [{ predicate: 'p', object: { level: 2 } }],
};

/**
 * Thrown inside OpaWriter when a value cannot be written; `write` turns it into undefined. One
 * instance made at load, so throwing it costs no stack capture on the decision path.
 */
const UNWRITABLE = new Error('value cannot be laid out by OpaWriter');
const NUMBER_SIZE = 24;
/** In a `u` regex a surrogate pair is one code point, so this matches only lone surrogates. */
const LONE_SURROGATE = /\p{Cs}/u;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function align(address: number): number {
  return (address + 7) & ~7;
}

function bucketCount(keys: number): number {
  let count = OBJECT_MIN_BUCKETS;
  for (let size = 1; size <= keys; size++) if (size > count * OBJECT_LOAD_FACTOR) count *= 2;
  return count;
}

function fnv1a(bytes: Uint8Array): number {
  let hash = FNV_OFFSET;
  for (let k = 0; k < bytes.length; k++) hash = fnvStep(hash, bytes[k]!);
  return hash >>> 0;
}

/** value.c's fnv1a32, one byte: multiply by the FNV prime, then xor, in 32-bit arithmetic. */
function fnvStep(hash: number, byte: number): number {
  return Math.imul(hash, FNV_PRIME) ^ byte;
}
