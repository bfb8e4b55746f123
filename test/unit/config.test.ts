import { ConfigError, loadConfig } from '../../policy/config';

test('defaults match the services scripts/up starts', () => {
  const config = loadConfig({});
  expect(config.DATABASE_URL).toBe('postgres://pkg:pkg@127.0.0.1:55432/pkg');
  expect(config.REDIS_URL).toBe('redis://127.0.0.1:56379');
  expect(config.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
  expect(config.TEMPORAL_NAMESPACE).toBe('default');
  expect(config.PROMETHEUS_URL).toBe('http://127.0.0.1:9090');
  expect(config.PROMETHEUS_TARGETS_FILE).toMatch(/\/\.data\/prometheus\/targets\/evaluators\.json$/);
  expect(config.PIPELINE_METRICS_PORT).toBe(9464);
});

test('explicit values win over defaults', () => {
  const config = loadConfig({ DATABASE_URL: 'postgresql://u@db:5432/x', EVALUATOR_PORT: '9000' });
  expect(config.DATABASE_URL).toBe('postgresql://u@db:5432/x');
  expect(config.EVALUATOR_PORT).toBe(9000);
});

test.each([
  ['DATABASE_URL', 'nonsense', 'postgres://'],
  ['REDIS_URL', 'http://x', 'redis://'],
  ['TEMPORAL_ADDRESS', 'no-port', 'host:port'],
  ['EVALUATOR_PORT', '99999', 'port number'],
  ['PROMETHEUS_URL', '127.0.0.1:9090', 'http://'],
  ['PIPELINE_METRICS_PORT', '-1', 'port number 0-65535'],
  ['PKG_WEBHOOK_SECRET', 'short', 'at least 16 characters'],
  ['PKG_NOTIFY_WEBHOOK_URLS', 'http://ok.example/,ftp://no.example/', 'comma list of http:// or https:// URLs'],
  ['PKG_NOTIFY_SLACK_URLS', 'hooks.slack.com/services/x', 'comma list of http:// or https:// URLs'],
  ['DECISION_LOG_SAMPLE', '0.1,prod/web=1', 'env/target/region'],
  ['DECISION_LOG_SAMPLE', '150%', 'fraction 0..1'],
  ['DECISION_LOG_MASK_HASH', 'subject', 'dotted input paths'],
  ['DECISION_LOG_MASK_DROP', 'context..card', 'dotted input paths'],
  ['DECISION_LOG_BUFFER', '0', 'DECISION_LOG_BUFFER="0"'],
  ['DECISION_LOG_RETENTION_DAYS', '0', 'DECISION_LOG_RETENTION_DAYS="0"'],
])('a bad %s is named with its value and what was expected', (name, value, expected) => {
  expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
  try {
    loadConfig({ [name]: value });
  } catch (error) {
    const message = (error as Error).message;
    expect(message).toContain(`${name}=${JSON.stringify(value)}`);
    expect(message).toContain(expected);
    expect(message.split('\n')).toHaveLength(1);
  }
});

test('notification sinks are comma lists of URLs; none by default', () => {
  expect(loadConfig({}).PKG_NOTIFY_WEBHOOK_URLS).toBeUndefined();
  const urls = 'http://127.0.0.1:8787/notify, https://hooks.example/a';
  expect(loadConfig({ PKG_NOTIFY_WEBHOOK_URLS: urls }).PKG_NOTIFY_WEBHOOK_URLS).toBe(urls);
});

test('decision logs are off by default, and the subject is what gets hashed once they are on', () => {
  const config = loadConfig({});
  expect(config.DECISION_LOG_SAMPLE).toEqual({ defaultRate: 0, lanes: new Map() });
  expect(config.DECISION_LOG_MASK_HASH).toEqual([['context', 'subject']]);
  expect(config.DECISION_LOG_MASK_DROP).toEqual([]);
  expect(config).toMatchObject({
    DECISION_LOG_BUFFER: 10_000,
    DECISION_LOG_FLUSH_MS: 1000,
    DECISION_LOG_RETENTION_DAYS: 7,
  });
});
