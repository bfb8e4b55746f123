import { randomUUID } from 'node:crypto';
import { pkgctl } from '../support/pkgctl';

/** `pkgctl facts …` as an operator runs it: a real process, its exit code and output. */

const namespace = `facts-cli-${randomUUID().slice(0, 8)}`;
const subject = `guest:${namespace}`;

test('facts add, list, stats and cleanup round trip through the CLI', async () => {
  const added = await pkgctl([
    'facts',
    'add',
    '--namespace',
    namespace,
    '--subject',
    subject,
    '--predicate',
    'hasTemporaryAccess',
    '--object',
    '{"service":"lounge"}',
    '--ttl',
    '2h',
    '--json',
  ]);
  expect(added).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(added.stdout)).toMatchObject({ namespace, subject, object: { service: 'lounge' } });
  const old = ['--valid-from', '2020-01-01T00:00:00Z', '--valid-to', '2020-01-02T00:00:00Z'];
  expect(
    (await pkgctl(['facts', 'add', '--namespace', namespace, '--subject', subject, '--predicate', 'hadAccess', ...old]))
      .code,
  ).toBe(0);

  const listed = await pkgctl(['facts', 'list', '--subject', subject, '--json']);
  expect(JSON.parse(listed.stdout).map((f: { predicate: string }) => f.predicate)).toEqual(['hasTemporaryAccess']);
  const stats = await pkgctl(['facts', 'stats', '--namespace', namespace, '--json']);
  expect(JSON.parse(stats.stdout)).toEqual([{ namespace, total: 2, temporal: 2, expired: 1, active: 1 }]);

  const dry = await pkgctl(['facts', 'cleanup', '--namespace', namespace, '--dry-run', '--json']);
  expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, namespaces: [{ namespace, expired: 1, archived: 0 }] });
  const real = await pkgctl(['facts', 'cleanup', '--namespace', namespace, '--grace', '0s', '--json']);
  expect(JSON.parse(real.stdout)).toMatchObject({
    dryRun: false,
    namespaces: [{ namespace, expired: 1, archived: 1 }],
  });
  const listedAll = await pkgctl(['facts', 'list', '--subject', subject, '--include-expired', '--json']);
  expect(JSON.parse(listedAll.stdout)).toHaveLength(1);
});

test.each([
  [
    ['--valid-from', '2026-01-02T00:00:00Z', '--valid-to', '2026-01-01T00:00:00Z'],
    '--valid-to: valid_from 2026-01-02T00:00:00.000Z is after valid_to',
  ],
  [['--namespace', ''], '--namespace: must not be empty'],
  [['--object', '{lounge}'], '--object: is not JSON'],
  [['--object', '[1]'], '--object: must be a JSON object'],
  [['--ttl', 'soon'], '--ttl: "soon" is not a duration'],
])('facts add %j fails with exit 2 (usage) naming the flag, and writes nothing', async (flags, message) => {
  const run = await pkgctl(['facts', 'add', '--subject', `${subject}-bad`, '--predicate', 'p', ...flags]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(message);
  expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
  const listed = await pkgctl(['facts', 'list', '--subject', `${subject}-bad`, '--include-expired', '--json']);
  expect(JSON.parse(listed.stdout)).toEqual([]);
});

test('a missing required flag is a usage error (exit 2)', async () => {
  expect((await pkgctl(['facts', 'add', '--subject', subject])).code).toBe(2);
});
