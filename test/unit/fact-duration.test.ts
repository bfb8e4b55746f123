import fc from 'fast-check';
import { durationSchema, formatDuration, parseDuration } from '../../policy/facts/duration';

test.each([
  ['90s', 90_000],
  ['15m', 900_000],
  ['2h', 7_200_000],
  ['1h30m', 5_400_000],
  ['7d', 604_800_000],
  ['250ms', 250],
  ['0s', 0],
])('%s is %i ms', (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

test.each(['', '2', 'h', '-1h', '1.5h', '2 h', '1y', 'abc'])('"%s" is not a duration', (text) => {
  expect(parseDuration(text)).toBeNull();
});

test('formatting then parsing gives the same milliseconds', () => {
  fc.assert(fc.property(fc.nat({ max: 10 * 365 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
});

test('the schema refuses durations below its minimum and names the value', () => {
  const result = durationSchema(1000).safeParse('500ms');
  expect(result.success).toBe(false);
  expect(result.error?.issues[0]?.message).toContain('"500ms" is shorter than 1s');
});
