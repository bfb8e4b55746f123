import path from 'node:path';
import { readBundleDir } from '../../activities/bundle-dir';
import { loadBundle } from '../../policy/bundle/bundle';
import { compileSnapshot } from '../../policy/bundle/compile';
import { createNativeEngine } from '../../policy/engine/native';
import type { Engine } from '../../policy/engine/evaluation';
import { decisionsDiffer } from '../../policy/canary/routing';
import { hotelOpsInput, hotelOpsRequest } from '../../examples/hotel-ops-traffic';

// The demo's story rests on these numbers: v2's intended change stays within the default
// divergence budget (25%), the broken v3 is far beyond its declared 10%.
const SAMPLE = 20_000;

async function engineOf(example: string): Promise<Engine> {
  const files = await readBundleDir(path.join(__dirname, '..', '..', 'examples', example));
  return createNativeEngine(compileSnapshot(loadBundle(files)));
}

function divergence(a: Engine, b: Engine): number {
  let differ = 0;
  for (let i = 0; i < SAMPLE; i++) {
    const input = hotelOpsInput(i);
    const facts = input.facts ?? [];
    if (decisionsDiffer(a.evaluate(input, facts), b.evaluate(input, facts))) differ += 1;
  }
  return differ / SAMPLE;
}

let v1: Engine, v2: Engine, v3: Engine;
beforeAll(async () => {
  v1 = await engineOf('hotel-ops-v1');
  v2 = await engineOf('hotel-ops-v2');
  v3 = await engineOf('hotel-ops-v3-broken');
});

test('v2 changes some decisions on purpose, within the default 25% budget', () => {
  const rate = divergence(v1, v2);
  expect(rate).toBeGreaterThan(0.01);
  expect(rate).toBeLessThan(0.25);
});

test('the broken v3 diverges from v2 far beyond its declared 10% budget', () => {
  expect(divergence(v2, v3)).toBeGreaterThan(0.5);
});

test('the traffic is reproducible and routed by guest', () => {
  const lane = { env: 'dev', target: 'demo', region: 'r1' };
  expect(hotelOpsRequest(42, lane)).toEqual(hotelOpsRequest(42, lane));
  expect(hotelOpsRequest(42, lane).routing_key).toBe(hotelOpsInput(42).context?.subject);
});
