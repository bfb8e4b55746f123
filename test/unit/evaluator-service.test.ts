import { createEvaluatorService } from '../../worker/evaluator/service';
import { createEvaluatorProm } from '../../worker/evaluator/prom';
import type { LaneTable, ServingLane } from '../../worker/evaluator/lanes';
import type { LoadedSnapshot } from '../../worker/evaluator/registry';
import type { LaneMetricsRecorder } from '../../activities/store/lane-metrics';
import type { DecisionDraft, DecisionLog } from '../../worker/evaluator/decision-log';
import type { Decision, Fact } from '../../policy/engine/evaluation';
import type { EvaluationRequest } from '../../policy/engine/evaluation-request';
import type { Lane } from '../../policy/lane';

const lane: Lane = { env: 'dev', target: 'default', region: 'default' };
const decision = (level: string): Decision => ({
  subtasks: [{ name: 'escalate', type: 'escalate', params: { level }, rule_id: 'r', rule_name: 'vip' }],
  dag: [],
  rules: [],
});

function snapshot(version: string, decide: () => Decision, usesFacts = false): LoadedSnapshot {
  return {
    snapshotId: version,
    version,
    checksum: version,
    usesFacts,
    engine: { kind: 'native', version, evaluate: decide },
  };
}

function setup(
  state: Partial<ServingLane> | undefined,
  options: {
    shadowRate?: number;
    facts?: (subject: string) => Promise<readonly Fact[]>;
    decisionLog?: DecisionLog;
  } = {},
) {
  const recorded: string[] = [];
  const metrics: LaneMetricsRecorder = {
    recordRequest: (_lane, version, { error }) => void recorded.push(`${version}:${error ? 'error' : 'ok'}`),
    recordShadow: (_lane, version, diverged) => void recorded.push(`${version}:shadow:${diverged}`),
    flush: async () => undefined,
    pendingKeys: () => 0,
  };
  const full: ServingLane | undefined = state && {
    desired: {
      lane,
      snapshotId: null,
      candidateSnapshotId: null,
      canaryPercent: 0,
      salt: '',
      rolloutId: null,
      source: 'deployment',
    },
    serving: null,
    candidate: null,
    split: { hasCandidate: false, canaryPercent: 0, salt: '' },
    ...state,
  };
  const lanes: LaneTable = {
    current: () => full,
    ensure: async () => {
      if (!full) throw new Error('postgres down');
      return full;
    },
    sync: async () => full!,
    lanes: () => [lane],
  };
  const service = createEvaluatorService({
    lanes,
    defaultLane: lane,
    facts: { factsFor: options.facts ?? (async () => []), size: () => 0 },
    metrics,
    prom: createEvaluatorProm(),
    shadowRate: options.shadowRate ?? 0,
    decisionLog: options.decisionLog,
    random: () => 0,
  });
  return { service, recorded };
}

const request = (overrides: Partial<EvaluationRequest> = {}): EvaluationRequest => ({
  input: { tags: ['vip'], context: { subject: 'guest:Ben' } },
  mode: 'control',
  lane: {},
  ...overrides,
});

test('a decision from the serving snapshot is ok:true and counted for its version', async () => {
  const { service, recorded } = setup({ serving: snapshot('v1', () => decision('high')) });
  const reply = await service.evaluate(request());
  expect(reply).toMatchObject({
    status: 200,
    body: { ok: true, snapshot: 'v1', meta: { engine: 'native', mode: 'control', canary: false } },
  });
  expect(recorded).toEqual(['v1:ok']);
});

test('the rendered answer is exactly the JSON of its body, decision_id included', async () => {
  const { log } = capturingLog();
  for (const decisionLog of [undefined, log]) {
    const { service } = setup({ serving: snapshot('v"1', () => decision('high')) }, { decisionLog });
    const reply = await service.evaluate(request());
    expect(reply.text).toBe(JSON.stringify(reply.body));
  }
});

test('no serving snapshot or no lane state: ok:false with a reason, never an empty allow', async () => {
  expect(await setup({ serving: null }).service.evaluate(request())).toMatchObject({
    status: 503,
    body: { ok: false, snapshot: null },
  });
  const missing = await setup(undefined).service.evaluate(request());
  expect(missing).toMatchObject({ status: 503, body: { ok: false, reason: expect.stringContaining('postgres down') } });
});

test('an engine that throws is an error for that version, not a crash', async () => {
  const { service, recorded } = setup({
    serving: snapshot('v1', () => {
      throw new Error('wasm trap');
    }),
  });
  expect(await service.evaluate(request())).toMatchObject({
    status: 500,
    body: { ok: false, snapshot: 'v1', reason: 'evaluation failed: wasm trap' },
  });
  expect(recorded).toEqual(['v1:error']);
});

test('stored facts that cannot be read: CONTROL refuses, ADVISORY decides without them', async () => {
  const down = async (): Promise<never> => {
    throw new Error('postgres down');
  };
  const { service } = setup({ serving: snapshot('v1', () => decision('high'), true) }, { facts: down });
  expect(await service.evaluate(request())).toMatchObject({
    status: 503,
    body: { ok: false, reason: 'facts for guest:Ben unavailable: postgres down' },
  });
  expect(await service.evaluate(request({ mode: 'advisory' }))).toMatchObject({ status: 200, body: { ok: true } });
  expect(await service.evaluate(request({ input: { context: { subject: 'guest:Ben' }, facts: [] } }))).toMatchObject({
    status: 200,
  });
});

test('a canary lane routes by key and shadows the other version, counting divergence under the candidate', async () => {
  const { service, recorded } = setup(
    {
      serving: snapshot('v1', () => decision('high')),
      candidate: snapshot('v2', () => decision('critical')),
      split: { hasCandidate: true, canaryPercent: 100, salt: 's' },
    },
    { shadowRate: 1 },
  );
  expect(await service.evaluate(request())).toMatchObject({ body: { snapshot: 'v2', meta: { canary: true } } });
  expect(await service.evaluate(request({ input: {} }))).toMatchObject({
    body: { snapshot: 'v1', meta: { canary: false } },
  });
  expect(recorded).toEqual(['v2:ok', 'v2:shadow:true', 'v1:ok', 'v2:shadow:true']);
});

/** A decision log that keeps what it is given and accepts the entries `accept` says yes to. */
function capturingLog(accept: (draft: DecisionDraft) => boolean = () => true) {
  const drafts: DecisionDraft[] = [];
  const log: DecisionLog = {
    record: (draft) => (drafts.push(draft), accept(draft) ? `id-${drafts.length}` : null),
    flush: async () => undefined,
    status: () => ({
      buffered: 0,
      capacity: 1,
      dropped: { buffer_full: 0, write_failed: 0 },
      written: 0,
      last_write_error: null,
    }),
    start: () => undefined,
    stop: async () => undefined,
  };
  return { log, drafts };
}

test('a logged decision carries the facts the engine saw, and the answer its decision_id', async () => {
  const { log, drafts } = capturingLog();
  const stored: Fact[] = [{ predicate: 'member', object: { tier: 'gold' } }];
  const { service } = setup(
    { serving: snapshot('v1', () => decision('high'), true) },
    { decisionLog: log, facts: async () => stored },
  );
  const reply = await service.evaluate(request());
  expect(reply.body.meta).toMatchObject({ decision_id: 'id-1' });
  expect(drafts).toEqual([
    {
      lane,
      snapshotVersion: 'v1',
      canary: false,
      mode: 'control',
      requestJson: JSON.stringify({ input: request().input }),
      factsJson: JSON.stringify(stored),
      result: JSON.stringify({ ok: true, ...decision('high') }),
      error: null,
      evalNs: expect.any(Number),
    },
  ]);
});

test('a decision the log did not take has no decision_id; a failed one is logged with its error', async () => {
  const { log, drafts } = capturingLog((draft) => draft.error !== null);
  const ok = await setup({ serving: snapshot('v1', () => decision('high')) }, { decisionLog: log }).service.evaluate(
    request(),
  );
  expect(ok.body.meta).not.toHaveProperty('decision_id');
  const failing = setup(
    {
      serving: snapshot('v1', () => {
        throw new Error('wasm trap');
      }),
    },
    { decisionLog: log },
  );
  const failed = await failing.service.evaluate(request());
  expect(failed).toMatchObject({ status: 500, body: { meta: { decision_id: 'id-2' } } });
  expect(drafts[1]).toMatchObject({ result: null, error: 'evaluation failed: wasm trap', factsJson: '[]' });
});

test('the log keeps the body as received, and facts the request carried are not copied again', async () => {
  const { log, drafts } = capturingLog();
  const sent = { ...request(), input: { ...request().input, facts: [{ predicate: 'member' }] } };
  const body = JSON.stringify({ input: sent.input, mode: 'control' });
  await setup({ serving: snapshot('v1', () => decision('high'), true) }, { decisionLog: log }).service.evaluate(sent, {
    body,
  });
  expect(drafts[0]).toMatchObject({ requestJson: body, factsJson: null });
});
