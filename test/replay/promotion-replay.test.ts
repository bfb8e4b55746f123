import { Worker } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH } from '../global-setup';
import { loadHistories } from './record';

/**
 * Determinism guard: histories recorded from the promotion integration tests must replay on the
 * current workflow code without a nondeterminism error. Re-record with PKG_RECORD_HISTORIES=1
 * after an intended, versioned change.
 */
test('every recorded promotion history replays on the current workflow code', async () => {
  const results: { workflowId: string; error: string | null }[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } },
    loadHistories(),
  )) {
    results.push({ workflowId: result.workflowId, error: result.error ? String(result.error) : null });
  }
  expect(results.length).toBeGreaterThanOrEqual(6);
  expect(results.filter((r) => r.error !== null)).toEqual([]);
});
