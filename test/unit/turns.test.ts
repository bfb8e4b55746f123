import { createTurns } from '../../client/turns';

/** A call the test ends by hand, recording when it started. */
function gate(started: string[], name: string) {
  let finish!: (fail?: boolean) => void;
  const work = () =>
    new Promise<string>((resolve, reject) => {
      started.push(name);
      finish = (fail) => (fail ? reject(new Error(name)) : resolve(name));
    });
  return { work, finish: (fail?: boolean) => finish(fail) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('at most `limit` calls of a key run at once, the rest start in the order they came, as places free', async () => {
  const turns = createTurns(2);
  const started: string[] = [];
  const calls = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
  const results = calls.map((call) => turns('rollout-1', call.work));
  const failure = results[0]!.then(String, (error: Error) => `failed: ${error.message}`);
  await settle();
  expect(started).toEqual(['a', 'b']);
  calls[1]!.finish();
  await settle();
  expect(started).toEqual(['a', 'b', 'c']);
  // A newcomer while c and a run waits behind d.
  const late = gate(started, 'e');
  const lateResult = turns('rollout-1', late.work);
  calls[0]!.finish(true);
  await settle();
  expect(started).toEqual(['a', 'b', 'c', 'd']);
  calls[2]!.finish();
  await settle();
  expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
  calls[3]!.finish();
  late.finish();
  expect(await failure).toBe('failed: a');
  await expect(Promise.all([results[1], results[2], results[3], lateResult])).resolves.toEqual(['b', 'c', 'd', 'e']);
});

test('keys do not wait for each other', async () => {
  const turns = createTurns(1);
  const started: string[] = [];
  const one = gate(started, 'one');
  const other = gate(started, 'other');
  const results = [turns('rollout-1', one.work), turns('rollout-2', other.work)];
  await settle();
  expect(started).toEqual(['one', 'other']);
  one.finish();
  other.finish();
  await expect(Promise.all(results)).resolves.toEqual(['one', 'other']);
});
