import {
  currentDetails,
  describeRollout,
  initialFacts,
  lastVerdictLines,
  type RolloutFacts,
} from '../../policy/rollout/status';
import { judgeStep } from '../../policy/rollout/gates';
import { rolloutConfigFor } from '../../policy/rollout/config';
import { emptyHistogram, latencyBucketIndex } from '../../policy/rollout/latency-histogram';
import type { StepVerdict } from '../../policy/rollout/gates';
import type { Lane } from '../../policy/lane';

const lane: Lane = { env: 'dev', target: 'default', region: 'eu' };
const since = '2026-01-01T00:00:00.000Z';
const facts = (changes: Partial<RolloutFacts>): RolloutFacts => ({
  ...initialFacts(lane),
  version: 'rules@1.0.0',
  steps: [5, 25, 100],
  ...changes,
});
const verdict: StepVerdict = {
  step: 1,
  stepCount: 3,
  percent: 25,
  verdict: 'inconclusive',
  baseline: 'compared',
  checks: [],
  message: 'step 2/3 (25%) inconclusive: only 12 candidate requests (need 200)',
};

test('the message is derived from the stored facts, pause and approval first', () => {
  expect(describeRollout(facts({ stage: 'ramping', stepIndex: 1, percent: 25 })).message).toBe(
    'ramping to step 2/3 (25%)',
  );
  expect(
    describeRollout(
      facts({ stage: 'baking', stepIndex: 1, holds: [{ kind: 'paused', actor: 'ann', reason: 'lunch', since }] }),
    ).message,
  ).toBe('paused by ann: lunch');
  expect(
    describeRollout(
      facts({
        stage: 'ramping',
        stepIndex: 2,
        holds: [{ kind: 'approval', actor: null, reason: 'approve_at', since }],
      }),
    ).message,
  ).toBe('waiting for approval before step 3/3 (100%)');
  expect(
    describeRollout(
      facts({
        stage: 'baking',
        stepIndex: 1,
        extensions: 1,
        verdicts: [verdict],
        holds: [{ kind: 'inconclusive', actor: 'gate', reason: verdict.message, since }],
      }),
    ).message,
  ).toBe(verdict.message);
  expect(describeRollout(facts({ stage: 'rolled_back', outcomeReason: 'rolled back by ann: x' })).message).toBe(
    'rolled back by ann: x',
  );
});

test('every hold is one shape; the status derives the pause and the approval wait from the holds', () => {
  const status = describeRollout(
    facts({
      stage: 'ramping',
      stepIndex: 1,
      holds: [
        { kind: 'approval', actor: null, reason: 'approve_at 25', since },
        { kind: 'paused', actor: 'ann', reason: 'lunch', since },
      ],
    }),
  );
  expect(status.paused).toEqual({ actor: 'ann', reason: 'lunch' });
  expect(status.awaitingApproval).toBe(true);
  expect(status.message).toBe('paused by ann: lunch');
  const moving = describeRollout(facts({ stage: 'baking', stepIndex: 1 }));
  expect(moving.paused).toBeNull();
  expect(moving.awaitingApproval).toBe(false);
});

test('current details for the Temporal UI name the stage and the last verdict', () => {
  const details = currentDetails(
    describeRollout(facts({ stage: 'baking', stepIndex: 1, percent: 25, verdicts: [verdict] })),
  );
  expect(details).toContain('**baking** rules@1.0.0 at 25%');
  expect(details).toContain(`last verdict: ${verdict.message}`);
});

test('baking again after a pass says how many passed in a row', () => {
  expect(describeRollout(facts({ stage: 'baking', stepIndex: 0, passes: 2 })).message).toBe(
    'baking step 1/3 (5%) again after 2 passing read(s) in a row',
  );
});

test('pkgctl status lists the last verdict check by check, with p-values and effects', () => {
  const metrics = (requests: number, errors: number, micros: number) => {
    const latencyBuckets = emptyHistogram();
    latencyBuckets[latencyBucketIndex(micros)] = requests;
    return { requests, errors, latencyBuckets, shadow: { compared: 10, diverged: 0 } };
  };
  const judged = judgeStep({
    step: 0,
    stepCount: 3,
    percent: 5,
    candidate: metrics(2000, 1, 9000),
    baseline: metrics(20_000, 0, 5000),
    coverage: { evaluators: 1, serving: 1 },
    gates: rolloutConfigFor('dev').gates,
  });
  const lines = lastVerdictLines(facts({ verdicts: [verdict, judged] }));
  expect(lines[0]).toBe('last verdict: step 1/3 (5%) fail');
  expect(lines).toContainEqual(
    '  pass         error_rate_vs_baseline: error rate 0.05% vs baseline 0% (Fisher p=0.091)',
  );
  expect(lines).toContainEqual(
    expect.stringMatching(
      /^ {2}fail {9}latency_vs_baseline: latency slower than baseline \+ 2ms: P\(candidate slower\) 1 > 0\.64 \(Mann–Whitney p=/,
    ),
  );
  expect(lastVerdictLines(facts({}))).toEqual([]);
});
