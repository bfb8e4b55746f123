import { parseEvaluationInput, parseEvaluationRequest, routingKeyOf } from '../../policy/engine/evaluation-request';

const input = { tags: ['vip'], signals: { x2: 0.8 }, context: { domain: 'hotel_ops', subject: 'guest:Ben' } };

function reason(body: unknown): string {
  const parsed = parseEvaluationRequest(body);
  if (parsed.ok) throw new Error('expected a refusal');
  return parsed.reason;
}

test('a well-formed request defaults to CONTROL and keeps lane overrides', () => {
  const parsed = parseEvaluationRequest({ input, routing_key: 'k1', env: 'prod', region: 'eu' });
  expect(parsed).toEqual({
    ok: true,
    value: { input, mode: 'control', routingKey: 'k1', lane: { env: 'prod', target: undefined, region: 'eu' } },
  });
});

test('CONTROL refuses an unknown input field and names it', () => {
  expect(reason({ input: { ...input, fcts: [] } })).toBe('input: unknown field(s) fcts');
});

test('CONTROL refuses an unknown request field', () => {
  expect(reason({ input, colour: 'red' })).toBe('body: unknown field(s) colour');
});

test('ADVISORY drops unknown fields instead of refusing', () => {
  const parsed = parseEvaluationRequest({ input: { ...input, fcts: [] }, mode: 'ADVISORY', extra: 1 });
  expect(parsed.ok && parsed.value).toMatchObject({ mode: 'advisory', input });
  expect(parsed.ok && 'fcts' in parsed.value.input).toBe(false);
});

test('wrong types are refused in both modes with the path', () => {
  expect(reason({ input: { tags: 'vip' } })).toMatch(/^input\.tags: /);
  expect(reason({ input: { signals: { x2: 'high' } }, mode: 'advisory' })).toMatch(/^input\.signals\.x2: /);
});

test('a missing input, a non-object body and an unknown mode are refused', () => {
  expect(reason({ routing_key: 'k' })).toMatch(/^input: /);
  expect(reason([1, 2])).toMatch(/^body: /);
  expect(reason('text')).toMatch(/^body: /);
  expect(reason({ input, mode: 'strict' })).toMatch(/^mode: /);
});

test('reasons are one line', () => {
  const many = reason({ input: { tags: [1, 2, 3, 4], signals: 5, facts: 'x' } });
  expect(many).not.toContain('\n');
  expect(many).toMatch(/\(\+\d+ more\)$/);
});

test('an input alone is parsed with the mode and a root path', () => {
  expect(parseEvaluationInput({ tags: [1] }, 'control')).toEqual({
    ok: false,
    reason: expect.stringMatching(/^input\.tags\.0: /),
  });
  expect(parseEvaluationInput(input, 'control')).toEqual({ ok: true, value: input });
});

test('the routing key defaults to the subject', () => {
  expect(routingKeyOf({ input })).toBe('guest:Ben');
  expect(routingKeyOf({ input, routingKey: 'explicit' })).toBe('explicit');
  expect(routingKeyOf({ input: { context: { subject: 42 } } })).toBeUndefined();
});
