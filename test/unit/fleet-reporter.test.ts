import type { Pool } from 'pg';
import { createFleetReporter, type FleetEntry } from '../../worker/evaluator/fleet';

/** A pool whose statements finish only when the test lets them, logging when each is sent and done. */
function heldPool() {
  const log: string[] = [];
  const held: (() => void)[] = [];
  const kindOf = (text: string) =>
    text.startsWith('INSERT') ? 'upsert' : text.includes('device_id = $1') ? 'forget' : 'forget long gone';
  const pool = {
    query(text: string, values: unknown[]) {
      const kind = kindOf(text.trim());
      const what = kind === 'upsert' ? `upsert ${String(values[4])}` : kind;
      log.push(`${what} sent`);
      return new Promise((resolve) => held.push(() => (log.push(`${what} done`), resolve({ rows: [] }))));
    },
  };
  /** Lets every statement sent so far finish, and waits for what they started. */
  const release = async () => {
    while (held.length > 0) {
      held.splice(0).forEach((finish) => finish());
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { pool: pool as unknown as Pool, log, release };
}

const lane = { env: 'dev' as const, target: 'web', region: 'eu' };
const entryServing = (snapshotId: string): FleetEntry => ({
  instanceId: 'host:1#0',
  lane,
  state: { desired: { snapshotId, candidateSnapshotId: null, canaryPercent: 0 } } as FleetEntry['state'],
  loadedVersions: [],
});
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('an instance leaves the fleet only after its beat in flight has landed, and beats no more', async () => {
  const { pool, log, release } = heldPool();
  const fleet = createFleetReporter(
    pool,
    60_000,
    () => entryServing('v1'),
    () => undefined,
  );
  fleet.start();
  await tick();
  expect(log).toEqual(['upsert v1 sent']);

  const stopped = fleet.stop();
  void fleet.beat();
  await tick();
  expect(log).toEqual(['upsert v1 sent']);
  await release();
  await stopped;
  expect(log).toEqual([
    'upsert v1 sent',
    'upsert v1 done',
    'forget long gone sent',
    'forget long gone done',
    'forget sent',
    'forget done',
  ]);
});

test('beats run one at a time, each writing the state as it is when its turn comes', async () => {
  const { pool, log, release } = heldPool();
  let serving = 'v1';
  const fleet = createFleetReporter(
    pool,
    60_000,
    () => entryServing(serving),
    () => undefined,
  );
  fleet.start();
  await tick();
  serving = 'v2';
  const both = [fleet.beat(), fleet.beat()];
  expect(both[0]).toBe(both[1]);
  await release();
  await Promise.all(both);
  expect(log.filter((line) => line.startsWith('upsert'))).toEqual([
    'upsert v1 sent',
    'upsert v1 done',
    'upsert v2 sent',
    'upsert v2 done',
  ]);
});
