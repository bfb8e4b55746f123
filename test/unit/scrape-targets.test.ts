import { scrapeAddress, scrapeTargetGroups } from '../../policy/scrape-targets';

const lane = (target: string) => ({ env: 'dev' as const, target, region: 'eu' });

test('processes behind one port are one target; each lane is a group of its own, sorted', () => {
  const groups = scrapeTargetGroups([
    { instanceId: 'vm:8182#1', lane: lane('web') },
    { instanceId: 'vm:8182#0', lane: lane('web') },
    { instanceId: 'vm:8181', lane: lane('web') },
    { instanceId: 'other:9000', lane: lane('api') },
  ]);
  expect(groups).toEqual([
    { targets: ['other:9000'], labels: { evaluator_lane: 'dev/api/eu' } },
    { targets: ['vm:8181', 'vm:8182'], labels: { evaluator_lane: 'dev/web/eu' } },
  ]);
});

test('only the process suffix is cut from an instance id', () => {
  expect(scrapeAddress('host-1:8181#12')).toBe('host-1:8181');
  expect(scrapeAddress('host#1:8181')).toBe('host#1:8181');
  expect(scrapeTargetGroups([])).toEqual([]);
});
