import { hashingEmbedding, textSha256 } from '../../policy/cortex/embedder';
import { COPY_BINARY_HEADER, copyTuple, parseMemoryLine } from '../../policy/cortex/memory';
import { vectorLiteral } from '../../policy/cortex/embedding';
import { dot } from '../support/vectors';

const embedding = Array.from({ length: 1024 }, (_, i) => (i % 7) - 3);
const valid = { id: 'task:1', tier: 'event_working', label: 'noise', text_sha256: 'ab'.repeat(32), embedding };

test('a valid line becomes a memory of every snapshot unless it names one', () => {
  expect(parseMemoryLine(JSON.stringify(valid), 'f:1')).toEqual({
    id: 'task:1',
    tier: 'event_working',
    label: 'noise',
    textSha256: 'ab'.repeat(32),
    embedding,
    snapshot: null,
  });
  expect(parseMemoryLine(JSON.stringify({ ...valid, snapshot: 'a@1.0.0' }), 'f:1').snapshot).toBe('a@1.0.0');
});

test.each([
  [{ ...valid, embedding: embedding.slice(1) }, 'f:9: embedding must have 1024 dimensions, got 1023'],
  [{ ...valid, embedding: new Array(1024).fill(0) }, 'f:9: embedding must not be all zeros'],
  [{ ...valid, embedding: [...embedding.slice(1), null] }, 'f:9: embedding [1023] must be a finite number, got null'],
  [{ ...valid, tier: 'x' }, 'f:9: tier: tier must be one of event_working, knowledge_base, world_memory'],
  [{ ...valid, id: 'a\tb' }, 'f:9: id: id must not contain control characters or \\'],
  [{ ...valid, text_sha256: 'AB' }, 'f:9: text_sha256: text_sha256 must be 64 lowercase hex digits'],
  [{ ...valid, extra: 1 }, 'f:9: body: unknown field(s) extra'],
])('a bad memory is refused with its place and the reason (%#)', (value, message) => {
  expect(() => parseMemoryLine(JSON.stringify(value), 'f:9')).toThrow(message);
});

test("a binary COPY tuple holds six fields and pgvector's big-endian vector", () => {
  const memory = parseMemoryLine(JSON.stringify(valid), 'f:1');
  const tuple = copyTuple(memory, '00112233-4455-6677-8899-aabbccddeeff');
  expect(tuple.readInt16BE(0)).toBe(6);
  let at = 2;
  const fields: Buffer[] = [];
  for (let i = 0; i < 6; i++) {
    const length = tuple.readInt32BE(at);
    fields.push(tuple.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  expect(at).toBe(tuple.length);
  expect(fields.slice(0, 4).map(String)).toEqual(['task:1', 'event_working', 'noise', 'ab'.repeat(32)]);
  expect([fields[4]!.readInt16BE(0), fields[4]!.readInt16BE(2), fields[4]!.readFloatBE(4 + 4 * 1023)]).toEqual([
    1024,
    0,
    embedding[1023],
  ]);
  expect(fields[5]!.toString('hex')).toBe('00112233445566778899aabbccddeeff');
  expect(copyTuple(memory, null).readInt32BE(copyTuple(memory, null).length - 4)).toBe(-1);
  expect(COPY_BINARY_HEADER.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  expect(vectorLiteral([1, -0.5])).toBe('[1,-0.5]');
});

test('the demo embedder: deterministic unit vectors, closer for texts that share words', () => {
  const noise = hashingEmbedding('Loud music from the bar, guest complains about noise');
  expect(noise).toHaveLength(1024);
  expect(dot(noise, noise)).toBeCloseTo(1, 10);
  expect(hashingEmbedding('Loud music from the bar, guest complains about noise')).toEqual(noise);
  const alike = dot(noise, hashingEmbedding('guest complains about noise and loud music'));
  const unlike = dot(noise, hashingEmbedding('late checkout requested for room 12'));
  expect(alike).toBeGreaterThan(0.7);
  expect(unlike).toBeLessThan(0.3);
  expect(textSha256('x')).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
});
