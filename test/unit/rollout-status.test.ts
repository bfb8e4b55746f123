import { currentDetails, describeRollout, initialFacts, type RolloutFacts } from '../../policy/rollout/status';
import type { StepVerdict } from '../../policy/rollout/gates';

const lane = { env: 'dev', target: 'default', region: 'eu' };
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
    describeRollout(facts({ stage: 'baking', stepIndex: 1, paused: { actor: 'ann', reason: 'lunch' } })).message,
  ).toBe('paused by ann: lunch');
  expect(describeRollout(facts({ stage: 'ramping', stepIndex: 2, awaitingApproval: true })).message).toBe(
    'waiting for approval before step 3/3 (100%)',
  );
  expect(describeRollout(facts({ stage: 'baking', stepIndex: 1, extensions: 1, verdicts: [verdict] })).message).toBe(
    verdict.message,
  );
  expect(describeRollout(facts({ stage: 'rolled_back', outcomeReason: 'rolled back by ann: x' })).message).toBe(
    'rolled back by ann: x',
  );
});

test('current details for the Temporal UI name the stage and the last verdict', () => {
  const details = currentDetails(
    describeRollout(facts({ stage: 'baking', stepIndex: 1, percent: 25, verdicts: [verdict] })),
  );
  expect(details).toContain('**baking** rules@1.0.0 at 25%');
  expect(details).toContain(`last verdict: ${verdict.message}`);
});
