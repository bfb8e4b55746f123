import { createLaneTable } from '../../worker/evaluator/lanes';
import { createSnapshotRegistry, type LoadedSnapshot } from '../../worker/evaluator/registry';
import type { DesiredLaneState } from '../../activities/store/lane-state';
import { parseUpdateHint } from '../../worker/evaluator/updates';
import type { Lane } from '../../policy/lane';

const lane: Lane = { env: 'dev', target: 'default', region: 'default' };

function snapshot(id: string): LoadedSnapshot {
  return {
    snapshotId: id,
    version: `rules@1.0.0-${id}`,
    checksum: id,
    usesFacts: false,
    engine: { kind: 'native', version: `rules@1.0.0-${id}`, evaluate: () => ({ subtasks: [], dag: [], rules: [] }) },
  };
}

function setup() {
  let desired: Omit<DesiredLaneState, 'lane'> = {
    snapshotId: 's1',
    candidateSnapshotId: null,
    canaryPercent: 0,
    salt: '',
    rolloutId: null,
    source: 'deployment',
  };
  const broken = new Set<string>();
  const builds: string[] = [];
  const registry = createSnapshotRegistry(async (id) => {
    builds.push(id);
    if (broken.has(id)) throw new Error(`checksum mismatch for ${id}`);
    return snapshot(id);
  }, 4);
  const table = createLaneTable({
    readDesired: async (l) => ({ ...desired, lane: l }),
    registry,
    maxLanes: 2,
    pinned: lane,
  });
  return { table, builds, broken, setDesired: (next: Partial<typeof desired>) => (desired = { ...desired, ...next }) };
}

test('a sync swaps to the desired snapshot and its canary candidate', async () => {
  const { table, setDesired } = setup();
  expect((await table.ensure(lane)).serving?.snapshotId).toBe('s1');
  setDesired({ candidateSnapshotId: 's2', canaryPercent: 10, salt: 'r1' });
  const next = await table.sync(lane);
  expect(next.candidate?.snapshotId).toBe('s2');
  expect(next.split).toEqual({ hasCandidate: true, canaryPercent: 10, salt: 'r1' });
  expect(table.current(lane)).toBe(next);
});

test('a snapshot that fails to load leaves the previous state serving', async () => {
  const { table, broken, setDesired } = setup();
  const before = await table.ensure(lane);
  broken.add('s3');
  setDesired({ snapshotId: 's3' });
  await expect(table.sync(lane)).rejects.toThrow('checksum mismatch');
  expect(table.current(lane)).toBe(before);
});

test('an unchanged desired state swaps nothing and a kept version is not rebuilt', async () => {
  const { table, builds, setDesired } = setup();
  const first = await table.ensure(lane);
  expect(await table.sync(lane)).toBe(first);
  setDesired({ snapshotId: 's2' });
  await table.sync(lane);
  setDesired({ snapshotId: 's1' });
  expect((await table.sync(lane)).serving?.snapshotId).toBe('s1');
  expect(builds).toEqual(['s1', 's2']);
});

test('syncs requested while one runs coalesce into one more', async () => {
  const { table } = setup();
  const first = table.sync(lane);
  const second = table.sync(lane);
  const third = table.sync(lane);
  expect(third).toBe(second);
  await Promise.all([first, second]);
});

test('lanes beyond the limit are forgotten, the pinned lane never', async () => {
  const { table } = setup();
  await table.ensure(lane);
  for (const region of ['a', 'b', 'c']) await table.ensure({ ...lane, region });
  expect(table.lanes().map((l) => l.region)).toEqual(['default', 'c']);
  expect(table.current({ ...lane, region: 'a' })).toBeUndefined();
});

test('update hints name a lane, or mean re-read everything', () => {
  expect(
    parseUpdateHint(JSON.stringify({ type: 'canary', env: 'prod', target: 't', region: 'r', percent: 5 })),
  ).toEqual({
    kind: 'lane',
    lane: { env: 'prod', target: 't', region: 'r' },
  });
  expect(parseUpdateHint(JSON.stringify({ type: 'activate', env: 'dev' }))).toEqual({
    kind: 'lane',
    lane: { env: 'dev', target: 'default', region: 'default' },
  });
  expect(parseUpdateHint('activate:rules@1.2.0').kind).toBe('all');
  expect(parseUpdateHint('{not json').kind).toBe('all');
});
