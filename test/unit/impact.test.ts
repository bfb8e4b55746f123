import type { Decision } from '../../policy/engine/evaluation';
import { PkgError } from '../../policy/errors';
import { pkgErrorOf } from '../support/pkg-error';
import { rolloutConfigFor } from '../../policy/rollout/config';
import {
  createImpactTally,
  judgeReplay,
  type ImpactReport,
  type ReplayOutcome,
  type ReplaySettings,
} from '../../policy/rollout/impact';
import { REASONS } from '../../policy/rollout/reasons';

function decided(subtasks: string[], rules = subtasks.map((s) => `r_${s}`)): ReplayOutcome {
  const decision: Decision = {
    subtasks: subtasks.map((name, i) => ({ name, type: name, params: {}, rule_id: `id${i}`, rule_name: rules[i]! })),
    dag: [],
    rules: rules.map((rule_name, i) => ({
      rule_id: `id${i}`,
      rule_name,
      rule_priority: 1,
      matched_conditions: 1,
      emissions_count: 1,
    })),
  };
  return { ok: true, decision };
}

const versions = { candidate: 'ops@2.0.0', baseline: 'ops@1.0.0' };

test('a known corpus is tallied exactly: changes, rules and subtasks by count, examples capped', () => {
  const tally = createImpactTally(versions, 2);
  const corpus: [ReplayOutcome, ReplayOutcome][] = [
    [decided(['escalate']), decided(['escalate'])],
    [decided(['escalate']), decided([])],
    [decided(['escalate']), decided([])],
    [decided([]), decided(['notify'])],
    [decided(['escalate']), { ok: false, error: 'boom' }],
    [decided(['escalate'], ['other_name']), decided(['escalate'])],
  ];
  corpus.forEach(([baseline, candidate], i) => tally.add({ decisionId: `d${i}`, input: { i }, baseline, candidate }));
  tally.skip();
  const report = tally.report();
  // A renamed rule that emits the same work is no change in decision; an error is.
  expect(report).toMatchObject({ decisions: 6, changed: 4, skipped: 1, baselineVersion: 'ops@1.0.0' });
  expect(report.subtasks).toEqual([
    { name: 'escalate', added: 0, removed: 3 },
    { name: 'notify', added: 1, removed: 0 },
  ]);
  expect(report.rules[0]).toEqual({ name: 'r_escalate', added: 0, removed: 3 });
  expect(report.examples.map((e) => e.decisionId)).toEqual(['d1', 'd2']);
  expect(report.examples[0]).toEqual({
    decisionId: 'd1',
    input: { i: 1 },
    baseline: { subtasks: ['escalate'], rules: ['r_escalate'] },
    candidate: { subtasks: [], rules: [] },
  });
});

const settings: ReplaySettings = {
  maxDivergence: 0.05,
  minDecisions: 100,
  windowMs: 86_400_000,
  limit: 100_000,
  onInsufficient: 'skip',
};

function report(decisions: number, changed: number, baselineVersion: string | null = 'ops@1.0.0'): ImpactReport {
  return { ...createImpactTally(versions, 0).report(), baselineVersion, decisions, changed };
}

test.each([
  [1000, 50, 'pass'],
  [1000, 51, 'fail'],
  [1000, 0, 'pass'],
])('%i decisions with %i changed against a 5%% budget: %s', (decisions, changed, verdict) => {
  const judged = judgeReplay(report(decisions, changed), settings);
  expect(judged).toMatchObject({ verdict, skipped: false, share: changed / decisions, limit: 0.05 });
});

test('too little evidence is inconclusive: skipped or required as the settings say, never a pass', () => {
  const skip = judgeReplay(report(99, 0), settings);
  expect(skip).toMatchObject({ verdict: 'inconclusive', skipped: true });
  expect(skip.message).toBe(REASONS.replayInconclusive(REASONS.replayTooFew(99, 100), true));
  const require = judgeReplay(report(99, 0), { ...settings, onInsufficient: 'require' });
  expect(require).toMatchObject({ verdict: 'inconclusive', skipped: false });
  const first = judgeReplay(report(0, 0, null), settings);
  expect(first.message).toContain(REASONS.replayNoBaseline);
});

test('replay settings merge so that safety only tightens', () => {
  const merged = rolloutConfigFor('dev', {
    gates: { max_replay_divergence: 0.1 },
    replay: { window: '48h', min_decisions: 500, on_insufficient: 'require' },
  });
  expect(merged.replay).toEqual({
    maxDivergence: 0.1,
    minDecisions: 500,
    windowMs: 48 * 3_600_000,
    limit: 100_000,
    onInsufficient: 'require',
  });
  const error = pkgErrorOf(() =>
    rolloutConfigFor(
      'dev',
      { gates: { max_replay_divergence: 0.1 }, replay: { on_insufficient: 'require', min_decisions: 500 } },
      { gates: { max_replay_divergence: 0.2 }, replay: { window: '1h', min_decisions: 10, on_insufficient: 'skip' } },
    ),
  );
  expect(error).toBeInstanceOf(PkgError);
  expect(error.type).toBe('GateConfigLoosened');
  expect(error.problems.map((p) => p.path).sort()).toEqual([
    'rollout.gates.max_replay_divergence',
    'rollout.replay.min_decisions',
    'rollout.replay.on_insufficient',
    'rollout.replay.window',
  ]);
});
