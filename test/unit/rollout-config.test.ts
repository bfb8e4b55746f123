import fc from 'fast-check';
import { PkgError } from '../../policy/errors';
import { pkgErrorOf } from '../support/pkg-error';
import {
  ENV_ROLLOUT_DEFAULTS,
  GLOBAL_ROLLOUT_DEFAULTS,
  approvalStepIndexes,
  mergeRolloutConfig,
  parseDuration,
  rolloutConfigFor,
  rolloutOverridesSchema,
  withGateDefaults,
  type RolloutOverrides,
} from '../../policy/rollout/config';
import { ENVS } from '../../policy/lane';

test('durations parse to milliseconds and junk is refused', () => {
  expect(parseDuration('30s')).toBe(30_000);
  expect(parseDuration('2m')).toBe(120_000);
  expect(parseDuration('500ms')).toBe(500);
  expect(parseDuration('0s')).toBe(0);
  expect(() => parseDuration('2 minutes')).toThrow(PkgError);
});

test('the manifest example parses and tightens the env defaults', () => {
  const bundle = rolloutOverridesSchema.parse({
    steps: [1, 5, 25, 50, 100],
    bake: '2m',
    approve_at: [50],
    gates: { max_error_rate: 0.001, max_divergence: 0.1 },
  });
  const config = rolloutConfigFor('staging', bundle);
  expect(config.steps).toEqual([1, 5, 25, 50, 100]);
  expect(config.bakeMs).toBe(120_000);
  expect(config.gates.maxErrorRate).toBe(0.001);
  expect(config.gates.maxDivergence).toBe(0.1);
  expect(config.gates.minRequests).toBe(200);
  expect(approvalStepIndexes(config)).toEqual([3]);
});

test('unknown keys and falling steps are refused by the schema', () => {
  expect(rolloutOverridesSchema.safeParse({ gates: { max_eror_rate: 0.1 } }).success).toBe(false);
  expect(rolloutOverridesSchema.safeParse({ steps: [5, 1] }).success).toBe(false);
  expect(rolloutOverridesSchema.safeParse({ steps: [0, 5] }).success).toBe(false);
});

test('a bundle that loosens is refused with every violation named', () => {
  const error = pkgErrorOf(() =>
    rolloutConfigFor('prod', { bake: '10s', gates: { max_error_rate: 0.05, min_requests: 10, coverage: 0.5 } }),
  );
  expect(error.type).toBe('GateConfigLoosened');
  expect(error.problems.map((p) => p.path).sort()).toEqual(
    ['rollout.bake', 'rollout.gates.coverage', 'rollout.gates.max_error_rate', 'rollout.gates.min_requests'].sort(),
  );
  expect(error.message).toContain('bundle sets 0.05, above the budget 0.001');
});

test('the command line is a layer too and may not loosen what the bundle tightened', () => {
  const error = pkgErrorOf(() =>
    rolloutConfigFor('dev', { gates: { max_divergence: 0.05 } }, { gates: { max_divergence: 0.2 } }),
  );
  expect(error.type).toBe('GateConfigLoosened');
  expect(error.message).toContain('command line sets 0.2');
});

test('approve_at from every layer accumulates and maps to the first step reaching it', () => {
  const config = mergeRolloutConfig(
    GLOBAL_ROLLOUT_DEFAULTS,
    { approve_at: [50] },
    { steps: [10, 50, 60, 100], approve_at: [60, 100] },
  );
  expect(config.approveAt).toEqual([50, 60, 100]);
  expect(approvalStepIndexes(config)).toEqual([1, 2, 3]);
});

const gatesArb = fc.record(
  {
    min_requests: fc.integer({ min: 1, max: 5000 }),
    max_error_rate: fc.double({ min: 0, max: 1, noNaN: true }),
    max_divergence: fc.double({ min: 0, max: 1, noNaN: true }),
    p99_factor: fc.double({ min: 1, max: 5, noNaN: true }),
    max_extensions: fc.integer({ min: 0, max: 20 }),
    alpha: fc.double({ min: 0.001, max: 0.5, noNaN: true }),
    max_latency_effect: fc.double({ min: 0.5, max: 1, noNaN: true }),
    consecutive_passes: fc.integer({ min: 1, max: 20 }),
    max_latency_excess: fc.double({ min: 0, max: 1, noNaN: true }),
    latency_slack_ms: fc.double({ min: 0, max: 10, noNaN: true }),
  },
  { requiredKeys: [] },
);

test('property: whatever a bundle asks, the merged config is never looser than the env defaults', () => {
  const base = rolloutConfigFor('prod');
  fc.assert(
    fc.property(gatesArb, (gates) => {
      let config;
      try {
        config = rolloutConfigFor('prod', { gates });
      } catch (error) {
        expect((error as PkgError).type).toBe('GateConfigLoosened');
        return;
      }
      expect(config.gates.minRequests).toBeGreaterThanOrEqual(base.gates.minRequests);
      expect(config.gates.maxErrorRate).toBeLessThanOrEqual(base.gates.maxErrorRate);
      expect(config.gates.maxDivergence).toBeLessThanOrEqual(base.gates.maxDivergence);
      expect(config.gates.p99Factor).toBeLessThanOrEqual(base.gates.p99Factor);
      expect(config.gates.maxExtensions).toBeGreaterThanOrEqual(base.gates.maxExtensions);
      expect(config.gates.alpha).toBeGreaterThanOrEqual(base.gates.alpha);
      expect(config.gates.maxLatencyEffect).toBeLessThanOrEqual(base.gates.maxLatencyEffect);
      expect(config.gates.consecutivePasses).toBeGreaterThanOrEqual(base.gates.consecutivePasses);
      expect(config.gates.maxLatencyExcess).toBeLessThanOrEqual(base.gates.maxLatencyExcess);
      expect(config.gates.latencySlackMs).toBeLessThanOrEqual(base.gates.latencySlackMs);
    }),
  );
});

test('the env layers themselves only tighten the global defaults', () => {
  for (const env of Object.keys(ENV_ROLLOUT_DEFAULTS) as (keyof typeof ENV_ROLLOUT_DEFAULTS)[]) {
    expect(() => rolloutConfigFor(env)).not.toThrow();
  }
});

test.each<[string, RolloutOverrides, string]>([
  ['no canary at all', { steps: [100] }, 'bundle removes step(s) 1, 5, 25, 50'],
  ['a plan that stops at 5%', { steps: [1, 5] }, 'bundle ends at 5%; every plan ends at 100%'],
  ['a plan that starts higher', { steps: [5, 25, 50, 100] }, 'bundle removes step(s) 1 of 1, 5, 25, 50, 100'],
  ['a shorter bake', { bake: '1m' }, 'bundle sets 1m, shorter than 5m'],
  ['a shorter coverage timeout', { coverage_timeout: '10s' }, 'bundle sets 10s, shorter than 60s'],
  ['fewer extensions', { gates: { max_extensions: 1 } }, 'bundle sets 1, below the floor 2'],
  ['stronger evidence before failing', { gates: { alpha: 0.01 } }, 'bundle sets 0.01, below the floor 0.05'],
  ['a larger latency effect', { gates: { max_latency_effect: 0.8 } }, 'bundle sets 0.8, above the budget 0.64'],
  ['a larger latency excess', { gates: { max_latency_excess: 0.3 } }, 'bundle sets 0.3, above the budget 0.2'],
  ['more latency slack', { gates: { latency_slack_ms: 5 } }, 'bundle sets 5, above the budget 2'],
])('a prod bundle asking for %s is refused, the violation named', (_, bundle, message) => {
  const error = pkgErrorOf(() => rolloutConfigFor('prod', bundle));
  expect(error.type).toBe('GateConfigLoosened');
  expect(error.problems.map((p) => p.message)).toContainEqual(expect.stringContaining(message));
});

test('every violation of one layer is named at once', () => {
  const error = pkgErrorOf(() =>
    rolloutConfigFor('prod', { steps: [50, 90], bake: '10s', coverage_timeout: '1s', gates: { max_extensions: 0 } }),
  );
  expect(error.problems.map((p) => p.path).sort()).toEqual(
    [
      'rollout.bake',
      'rollout.coverage_timeout',
      'rollout.gates.max_extensions',
      'rollout.steps',
      'rollout.steps',
    ].sort(),
  );
});

test('the judge defaults: α 0.05, latency effect 0.64, excess 0.2, slack 2 ms, one passing read; stricter is accepted', () => {
  expect(rolloutConfigFor('prod').gates).toMatchObject({
    alpha: 0.05,
    maxLatencyEffect: 0.64,
    maxLatencyExcess: 0.2,
    latencySlackMs: 2,
    consecutivePasses: 1,
  });
  const gates = rolloutConfigFor('prod', {
    gates: { alpha: 0.1, max_latency_effect: 0.6, consecutive_passes: 3 },
  }).gates;
  expect(gates).toMatchObject({ alpha: 0.1, maxLatencyEffect: 0.6, consecutivePasses: 3 });
  const error = pkgErrorOf(() =>
    rolloutConfigFor('prod', { gates: { consecutive_passes: 3 } }, { gates: { consecutive_passes: 2 } }),
  );
  expect(error.message).toContain('command line sets 2, below the floor 3');
});

test.each([
  ['an alpha above 0.5', { alpha: 0.6 }],
  ['an alpha of 0', { alpha: 0 }],
  ['a latency effect below no effect', { max_latency_effect: 0.4 }],
  ['zero consecutive passes', { consecutive_passes: 0 }],
  ['a fractional count of passes', { consecutive_passes: 1.5 }],
  ['a latency excess above 1', { max_latency_excess: 1.5 }],
  ['a negative latency slack', { latency_slack_ms: -1 }],
])('the schema refuses %s', (_, gates) => {
  expect(rolloutOverridesSchema.safeParse({ gates }).success).toBe(false);
});

test('a plan made before the judge settings existed is judged with their global defaults', () => {
  const {
    alpha: _a,
    maxLatencyEffect: _m,
    maxLatencyExcess: _x,
    latencySlackMs: _s,
    consecutivePasses: _c,
    ...older
  } = rolloutConfigFor('prod').gates;
  expect(withGateDefaults(older)).toEqual(rolloutConfigFor('prod').gates);
  expect(withGateDefaults({ ...older, alpha: 0.1 }).alpha).toBe(0.1);
});

test('adding steps, lengthening the bake and adding approvals are tightening and accepted', () => {
  const config = rolloutConfigFor(
    'prod',
    { steps: [1, 2, 5, 10, 25, 50, 75, 100], bake: '10m', approve_at: [50] },
    { bake: '15m', approve_at: [100] },
  );
  expect(config.steps).toEqual([1, 2, 5, 10, 25, 50, 75, 100]);
  expect(config.bakeMs).toBe(900_000);
  expect(approvalStepIndexes(config)).toEqual([5, 7]);
});

const percentArb = fc.integer({ min: 1, max: 100 });
const stepsArb = fc
  .uniqueArray(percentArb, { minLength: 1, maxLength: 7 })
  .map((steps) => [...steps].sort((a, b) => a - b));
const durationArb = fc.integer({ min: 0, max: 600 }).map((s) => `${s}s`);
const anyLayerArb: fc.Arbitrary<RolloutOverrides> = fc.record(
  {
    steps: stepsArb,
    bake: durationArb,
    coverage_timeout: durationArb,
    approve_at: fc.array(percentArb, { maxLength: 3 }),
    gates: gatesArb,
  },
  { requiredKeys: [] },
);
/** A layer that keeps what every built-in layer asks. */
const strictLayerArb: fc.Arbitrary<RolloutOverrides> = fc.record(
  {
    steps: stepsArb.map((extra) => [...new Set([1, 5, 25, 50, 100, ...extra])].sort((a, b) => a - b)),
    bake: fc.integer({ min: 300, max: 900 }).map((s) => `${s}s`),
    coverage_timeout: fc.integer({ min: 60, max: 600 }).map((s) => `${s}s`),
    approve_at: fc.array(percentArb, { maxLength: 3 }),
    gates: fc.record(
      {
        min_requests: fc.integer({ min: 200, max: 5000 }),
        max_error_rate: fc.double({ min: 0, max: 0.001, noNaN: true }),
        max_extensions: fc.integer({ min: 2, max: 20 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/** A command line that keeps or tightens each field `bundle` sets (and may set others strictly). */
const tighterThan = (bundle: RolloutOverrides): fc.Arbitrary<RolloutOverrides> =>
  fc
    .tuple(strictLayerArb, fc.integer({ min: 0, max: 120 }), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([own, grow, shrink]) => {
      const seconds = (d: string | undefined) => (d === undefined ? undefined : `${parseDuration(d) / 1000 + grow}s`);
      const gates = bundle.gates ?? {};
      return {
        ...own,
        ...(bundle.steps && { steps: [...new Set([...bundle.steps, ...(own.steps ?? [])])].sort((a, b) => a - b) }),
        ...(bundle.bake && { bake: seconds(bundle.bake) }),
        ...(bundle.coverage_timeout && { coverage_timeout: seconds(bundle.coverage_timeout) }),
        gates: {
          ...own.gates,
          ...(gates.min_requests !== undefined && { min_requests: gates.min_requests + grow }),
          ...(gates.max_error_rate !== undefined && { max_error_rate: gates.max_error_rate * shrink }),
          ...(gates.max_extensions !== undefined && { max_extensions: Math.min(20, gates.max_extensions + grow) }),
        },
      };
    });

/** Half the stacks are anything (mostly refused); half are strict and only tighten (all merge). */
const stackArb: fc.Arbitrary<[RolloutOverrides, RolloutOverrides]> = fc.oneof(
  fc.tuple(fc.oneof(anyLayerArb, strictLayerArb), fc.oneof(anyLayerArb, strictLayerArb)),
  strictLayerArb.chain((bundle) => fc.tuple(fc.constant(bundle), tighterThan(bundle))),
);

test('property: a merged plan is at least as strict as every layer of a random stack, and some stacks merge', () => {
  let merged = 0;
  fc.assert(
    fc.property(fc.constantFrom(...ENVS), stackArb, (env, [bundle, commandLine]) => {
      let config;
      try {
        config = rolloutConfigFor(env, bundle, commandLine);
      } catch (error) {
        expect((error as PkgError).type).toBe('GateConfigLoosened');
        expect((error as PkgError).problems.length).toBeGreaterThan(0);
        return;
      }
      merged += 1;
      for (const layer of [GLOBAL_ROLLOUT_DEFAULTS, ENV_ROLLOUT_DEFAULTS[env], bundle, commandLine]) {
        expect(config.steps.at(-1)).toBe(100);
        for (const step of layer.steps ?? []) expect(config.steps).toContain(step);
        if (layer.steps) expect(config.steps[0]).toBeLessThanOrEqual(layer.steps[0]!);
        if (layer.bake) expect(config.bakeMs).toBeGreaterThanOrEqual(parseDuration(layer.bake));
        if (layer.coverage_timeout) {
          expect(config.coverageTimeoutMs).toBeGreaterThanOrEqual(parseDuration(layer.coverage_timeout));
        }
        for (const p of layer.approve_at ?? []) expect(config.approveAt).toContain(p);
        const g = layer.gates ?? {};
        if (g.min_requests !== undefined) expect(config.gates.minRequests).toBeGreaterThanOrEqual(g.min_requests);
        if (g.max_extensions !== undefined) expect(config.gates.maxExtensions).toBeGreaterThanOrEqual(g.max_extensions);
        if (g.max_error_rate !== undefined) expect(config.gates.maxErrorRate).toBeLessThanOrEqual(g.max_error_rate);
        if (g.max_divergence !== undefined) expect(config.gates.maxDivergence).toBeLessThanOrEqual(g.max_divergence);
        if (g.p99_factor !== undefined) expect(config.gates.p99Factor).toBeLessThanOrEqual(g.p99_factor);
        if (g.alpha !== undefined) expect(config.gates.alpha).toBeGreaterThanOrEqual(g.alpha);
        if (g.max_latency_effect !== undefined) {
          expect(config.gates.maxLatencyEffect).toBeLessThanOrEqual(g.max_latency_effect);
        }
        if (g.consecutive_passes !== undefined) {
          expect(config.gates.consecutivePasses).toBeGreaterThanOrEqual(g.consecutive_passes);
        }
      }
      expect(approvalStepIndexes(config)).toHaveLength(new Set(approvalStepIndexes(config)).size);
    }),
    { numRuns: 2000 },
  );
  expect(merged).toBeGreaterThan(200);
});
