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
} from '../../policy/rollout/config';

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
    { steps: [10, 60, 100], approve_at: [100] },
  );
  expect(config.approveAt).toEqual([50, 100]);
  expect(approvalStepIndexes(config)).toEqual([1, 2]);
});

const gatesArb = fc.record(
  {
    min_requests: fc.integer({ min: 1, max: 5000 }),
    max_error_rate: fc.double({ min: 0, max: 1, noNaN: true }),
    max_divergence: fc.double({ min: 0, max: 1, noNaN: true }),
    p99_factor: fc.double({ min: 1, max: 5, noNaN: true }),
    max_extensions: fc.integer({ min: 0, max: 20 }),
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
      expect(config.gates.maxExtensions).toBeLessThanOrEqual(base.gates.maxExtensions);
    }),
  );
});

test('the env layers themselves only tighten the global defaults', () => {
  for (const env of Object.keys(ENV_ROLLOUT_DEFAULTS) as (keyof typeof ENV_ROLLOUT_DEFAULTS)[]) {
    expect(() => rolloutConfigFor(env)).not.toThrow();
  }
});
