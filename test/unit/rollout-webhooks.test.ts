import { pkgErrorOf } from '../support/pkg-error';
import {
  GLOBAL_ROLLOUT_DEFAULTS,
  mergeRolloutLayers,
  parseRolloutOverrides,
  rolloutConfigFor,
  type RolloutOverrides,
} from '../../policy/rollout/config';
import { webhookPayload, webhooksOfType, type Webhook } from '../../policy/rollout/webhooks';
import type { StepVerdict } from '../../policy/rollout/gates';
import { describeRollout, initialFacts } from '../../policy/rollout/status';
import { REASONS } from '../../policy/rollout/reasons';

const qa = { name: 'qa-signoff', type: 'confirm-promotion', url: 'https://qa.example/confirm' } as const;
const smoke = { name: 'smoke', type: 'pre-rollout', url: 'http://127.0.0.1:9000/smoke', retries: 0 } as const;

test('a bundle adds webhooks with every default applied: pre-rollout fails, confirmations hold', () => {
  const config = rolloutConfigFor('dev', { webhooks: [qa, smoke] });
  expect(config.webhooks).toEqual([
    { ...qa, timeoutMs: 10_000, retries: 2, intervalMs: 10_000, onFailure: 'hold' },
    { ...smoke, timeoutMs: 10_000, retries: 0, intervalMs: 10_000, onFailure: 'fail' },
  ]);
  expect(rolloutConfigFor('prod').webhooks).toEqual([]);
});

test('timeout, interval and on_failure are taken as written', () => {
  const [hook] = rolloutConfigFor('dev', {
    webhooks: [{ ...qa, timeout: '2s', interval: '1m', retries: 5, on_failure: 'fail' }],
  }).webhooks;
  expect(hook).toMatchObject({ timeoutMs: 2000, intervalMs: 60_000, retries: 5, onFailure: 'fail' });
});

test.each([
  [{ ...qa, type: 'post-rollout', on_failure: 'hold' }, 'rollout.webhooks.0.on_failure'],
  [{ ...qa, url: 'ftp://qa.example/' }, 'rollout.webhooks.0.url'],
  [{ ...qa, type: 'after-rollout' }, 'rollout.webhooks.0.type'],
  [{ ...qa, name: 'QA Signoff' }, 'rollout.webhooks.0.name'],
  [{ ...qa, retries: 11 }, 'rollout.webhooks.0.retries'],
  [{ ...qa, timeout: 'ten seconds' }, 'rollout.webhooks.0.timeout'],
  [{ ...qa, secret: 'in the bundle' }, 'rollout.webhooks.0'],
])('a bad webhook is refused naming its path: %j', (hook, path) => {
  const error = pkgErrorOf(() => parseRolloutOverrides({ webhooks: [hook] }, 'manifest.yaml'));
  expect(error.type).toBe('InputInvalid');
  expect(error.problems.map((p) => p.path)).toContain(path);
});

test('an env layer’s webhook cannot be dropped or redefined by the bundle; the bundle may add its own', () => {
  const env: RolloutOverrides = { webhooks: [qa] };
  const layers = (bundle: RolloutOverrides) => [
    { name: 'global defaults', overrides: GLOBAL_ROLLOUT_DEFAULTS },
    { name: 'environment defaults', overrides: env },
    { name: 'bundle', overrides: bundle },
  ];
  expect(mergeRolloutLayers(layers({})).webhooks.map((h) => h.name)).toEqual(['qa-signoff']);
  expect(mergeRolloutLayers(layers({ webhooks: [smoke] })).webhooks.map((h) => h.name)).toEqual([
    'qa-signoff',
    'smoke',
  ]);
  const error = pkgErrorOf(() =>
    mergeRolloutLayers(layers({ webhooks: [{ ...qa, url: 'https://elsewhere.example/yes' }] })),
  );
  expect(error.type).toBe('GateConfigLoosened');
  expect(error.problems).toEqual([
    {
      path: 'rollout.webhooks.0.name',
      message: 'bundle redefines webhook qa-signoff set by environment defaults; webhooks may only be added',
    },
  ]);
});

const hook = (type: Webhook['type']): Webhook => ({
  name: type,
  type,
  url: 'http://127.0.0.1/',
  timeoutMs: 1000,
  retries: 0,
  intervalMs: 1000,
  onFailure: 'hold',
});

test('webhooksOfType keeps the configured order', () => {
  const hooks = [hook('rollback'), { ...hook('post-rollout'), name: 'a' }, { ...hook('post-rollout'), name: 'b' }];
  expect(webhooksOfType(hooks, 'post-rollout').map((h) => h.name)).toEqual(['a', 'b']);
});

test('the payload names lane, versions, 1-based step, percent and each verdict', () => {
  const verdict: StepVerdict = {
    step: 0,
    stepCount: 2,
    percent: 50,
    verdict: 'pass',
    baseline: 'compared',
    checks: [],
    message: 'step 1/2 (50%) passed: fine',
  };
  const context = {
    rolloutId: 'rollout-dev/web/eu:run-1',
    lane: { env: 'dev', target: 'web', region: 'eu' } as const,
    candidate: { version: 'rules@2.0.0', snapshotId: 'snap-2' },
    baselineVersion: 'rules@1.0.0',
    stepIndex: 1,
    stepCount: 2,
    percent: 100,
    verdicts: [verdict],
    outcome: null,
    reason: null,
  };
  expect(webhookPayload(hook('confirm-promotion'), context)).toEqual({
    type: 'confirm-promotion',
    webhook: 'confirm-promotion',
    rollout_id: 'rollout-dev/web/eu:run-1',
    lane: 'dev/web/eu',
    env: 'dev',
    candidate: { version: 'rules@2.0.0', snapshot_id: 'snap-2' },
    baseline: { version: 'rules@1.0.0' },
    step: 2,
    step_count: 2,
    percent: 100,
    verdicts: [{ step: 1, percent: 50, verdict: 'pass', message: 'step 1/2 (50%) passed: fine' }],
    outcome: null,
    reason: null,
  });
  const before = webhookPayload(hook('pre-rollout'), { ...context, stepIndex: -1, baselineVersion: null });
  expect(before.step).toBeNull();
  expect(before.baseline).toBeNull();
});

test('a held confirmation is what the status says, until a pause says more', () => {
  const facts = {
    ...initialFacts({ env: 'dev', target: 'web', region: 'eu' }),
    stage: 'gating' as const,
    steps: [50, 100],
    stepIndex: 1,
    percent: 100,
  };
  const reason = REASONS.webhookHolding('confirm-promotion', 'qa-signoff', 'answered 503');
  const held = {
    ...facts,
    holds: [{ kind: 'confirmation' as const, reason, actor: 'webhook:qa-signoff', since: 'now' }],
  };
  expect(describeRollout(held).message).toBe('waiting for confirm-promotion webhook qa-signoff (answered 503)');
  const paused = {
    ...held,
    holds: [...held.holds, { kind: 'paused' as const, reason: 'lunch', actor: 'ada', since: 'now' }],
  };
  expect(describeRollout(paused).message).toBe(REASONS.paused('ada', 'lunch'));
});
