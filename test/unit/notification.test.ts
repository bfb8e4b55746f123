import {
  deliveryBody,
  notificationText,
  retryDelayMs,
  sinksFrom,
  type RolloutNotification,
} from '../../policy/notify/notification';

const notification: RolloutNotification = {
  event: 'verdict_pass',
  event_key: 'rollout-dev/web/eu:run-1:verdict:1',
  rollout_id: 'rollout-dev/web/eu:run-1',
  lane: 'dev/web/eu',
  env: 'dev',
  version: 'rules@2.0.0',
  step: 0,
  percent: 50,
  actor: 'gate',
  reason: 'step 1/2 (50%) passed: error rate 0% ≤ 1%',
  at: '2026-12-07T01:00:00.000Z',
};

test('sinks come from comma lists, with stable ids that do not reveal the URL', () => {
  const sinks = sinksFrom({
    webhook: ' http://127.0.0.1:9000/hook , ',
    slack: 'https://hooks.slack.com/services/T000/B000/SECRET',
  });
  expect(sinks.map((s) => s.kind)).toEqual(['webhook', 'slack']);
  expect(sinks[0]!.id).toMatch(/^webhook:[0-9a-f]{12}$/);
  expect(sinks[1]!.id).not.toContain('SECRET');
  expect(sinksFrom({ webhook: 'http://127.0.0.1:9000/hook' })[0]!.id).toBe(sinks[0]!.id);
  expect(sinksFrom({})).toEqual([]);
});

test('a generic webhook gets the notification and its dedupe key', () => {
  const [sink] = sinksFrom({ webhook: 'http://a.example/' });
  expect(JSON.parse(deliveryBody(notification, sink!, `${notification.event_key}@${sink!.id}`))).toEqual({
    dedupe_key: `${notification.event_key}@${sink!.id}`,
    ...notification,
  });
});

test('a Slack incoming webhook gets text and one mrkdwn section saying lane, version, step and why', () => {
  const [sink] = sinksFrom({ slack: 'https://hooks.slack.example/x' });
  const text = '[dev/web/eu] rules@2.0.0 verdict pass (step 1, 50%) by gate: step 1/2 (50%) passed: error rate 0% ≤ 1%';
  expect(notificationText(notification)).toBe(text);
  expect(JSON.parse(deliveryBody(notification, sink!, 'key'))).toEqual({
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
  });
  expect(
    notificationText({ ...notification, version: null, step: null, reason: null, event: 'paused', actor: 'ada' }),
  ).toBe('[dev/web/eu] paused by ada');
});

test('retries back off exponentially up to the cap', () => {
  expect([1, 2, 3, 4, 10, 40].map((n) => retryDelayMs(n, 1000, 60_000))).toEqual([
    1000, 2000, 4000, 8000, 60_000, 60_000,
  ]);
});
