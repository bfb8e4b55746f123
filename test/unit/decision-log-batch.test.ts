import type { DecisionDraft, LoggedRequest } from '../../worker/evaluator/decision-log';
import { decisionBatchReader, decisionRecord } from '../../worker/evaluator/decision-log-batch';

/** Decisions crossing to the writer thread as one string: every field comes back as it went in. */
const draft = (more: Partial<DecisionDraft> = {}): DecisionDraft => ({
  lane: { env: 'prod', target: 'web', region: 'eu-1' },
  snapshotVersion: 'hotel-ops@1.2.0',
  canary: true,
  mode: 'advisory',
  requestJson: '{"input":{"context":{"subject":"Zoë → 😀","note":"tab\\tand\\nnewline"}}}',
  factsJson: '[{"predicate":"member","object":{"tier":"gold"}}]',
  result: '{"ok":true,"subtasks":[],"dag":[],"rules":[]}',
  error: null,
  evalNs: 2863.7,
  ...more,
});

const batchOf = (...drafts: DecisionDraft[]) =>
  drafts.map((d, i) => decisionRecord(d, `00000000-0000-4000-8000-00000000000${i}`, 1796624689953 + i)).join('');

test('a batch reads back as the decisions that went in, in order, nulls and non-ASCII included', () => {
  const failed = draft({
    canary: false,
    mode: 'control',
    factsJson: null,
    result: null,
    error: 'evaluation failed: ü',
  });
  const read = decisionBatchReader()(batchOf(draft(), failed));
  const expected: LoggedRequest[] = [
    { ...draft(), decisionId: '00000000-0000-4000-8000-000000000000', at: 1796624689953, evalNs: 2864 },
    { ...failed, decisionId: '00000000-0000-4000-8000-000000000001', at: 1796624689954, evalNs: 2864 },
  ];
  expect(read).toEqual(expected);
});

test('an empty error stays distinct from none, and control characters in free texts cannot break the framing', () => {
  const odd = draft({
    error: 'bad\u0001field\u0002record\nline',
    lane: { env: 'dev', target: 't\u0002x', region: 'r' },
    snapshotVersion: 'v\u00011',
  });
  const [empty, controlled, next] = decisionBatchReader()(batchOf(draft({ error: '' }), odd, draft()));
  expect(empty!.error).toBe('');
  expect(controlled).toMatchObject({
    error: 'bad field record line',
    lane: { env: 'dev', target: 't x', region: 'r' },
    snapshotVersion: 'v 1',
  });
  expect(next!.requestJson).toBe(draft().requestJson);
});

test('decisions of one lane share one lane object; an empty batch has none', () => {
  const read = decisionBatchReader();
  const [a, b] = read(batchOf(draft(), draft()));
  expect(a!.lane).toBe(b!.lane);
  expect(read('')).toEqual([]);
});
