import { hashingEmbedding } from '../policy/cortex/embedder';
import { startTraffic, postEvaluation } from '../client/traffic';
import { laneName, type Lane } from '../policy/lane';

/**
 * The demo's semantic memory step (README "Semantic memory"): hotel-ops-semantic promoted on a lane
 * of its own, then one ADVISORY complaint decided twice with the same embedding, before and after a
 * like complaint is remembered. The rule remembered_noise_sends_patrol fires only when memory holds
 * a noise complaint at least 0.85 similar, so the second decision adds a patrol and a call to the
 * manager. Embeddings come from the demo's feature-hashing embedder, so it runs offline.
 */
export interface SemanticStepDeps {
  lane: Lane;
  /** An evaluator key of the lane. */
  key: string;
  /** Starts an evaluator on `lane` with extra environment and returns its URL once healthy. */
  startEvaluator: (name: string, lane: Lane, env: Record<string, string>) => Promise<string>;
  /** `pkgctl promote … --wait --json` of an example bundle on `lane`; its JSON result. */
  promote: (bundle: string, args: string[]) => Promise<Record<string, unknown>>;
  /** pkgctl as the lane's author (through the API); its output. */
  pkgctl: (...args: string[]) => string;
  /** pkgctl as an admin, who may prune memories. */
  pkgctlAdmin: (...args: string[]) => string;
  say: (line: string) => void;
}

const BUNDLE = 'hotel-ops-semantic';
const VERSION = 'hotel-ops-semantic@1.0.0';
const COMPLAINT = 'loud music and shouting from the room next door at night';
const REMEMBERED = 'loud music and shouting from the room next door late at night';

const subtasksOf = (body: Record<string, unknown>) =>
  ((body.subtasks ?? []) as { name: string }[]).map((subtask) => subtask.name).join(', ') || 'none';

/** What memory gave the decision, from its meta. */
function memoryOf(body: Record<string, unknown>): string {
  const meta = body.meta as {
    hydration?: { status: string; matches?: number; reason?: string };
    semantic_context?: { top?: { label: string; similarity: number } };
  };
  const hydration = meta.hydration;
  if (!hydration) return 'no memory asked';
  if (hydration.status === 'skipped') return `memory skipped: ${hydration.reason}`;
  const top = meta.semantic_context?.top;
  const nearest = top ? `, nearest ${top.label} at ${top.similarity.toFixed(3)}` : '';
  return `memory ${hydration.status}: ${hydration.matches ?? 0} match(es) ≥ 0.8${nearest}`;
}

/** True when memory changed the decision as the bundle says it should. */
export async function semanticMemoryStep(deps: SemanticStepDeps): Promise<boolean> {
  const { lane, key, say } = deps;
  say(`\n== semantic memory: ${BUNDLE} on lane ${laneName(lane)}, ADVISORY complaints`);
  // Empty answers are cached too; a short TTL lets the same complaint see the new memory a moment later.
  const url = await deps.startEvaluator('evaluator-semantic', lane, {
    CORTEX_CACHE_TTL_MS: '1000',
    CORTEX_HYDRATION_BUDGET_MS: '200',
  });
  const complaint = (i: number) => ({
    mode: 'advisory',
    ...lane,
    input: { signals: { complaint_score: 0.6 }, context: { subject: `guest:${i % 500}` } },
  });
  // Until the first step the lane has nothing to serve and answers 503: expected, not counted.
  const traffic = startTraffic({ urls: [url], body: complaint, concurrency: 2, requireOk: false, key });
  const result = await deps.promote(BUNDLE, ['--bake', '10s']);
  const report = await traffic.stop();
  say(`   => ${String(result.outcome)}; ${report.ok} complaints answered meanwhile`);
  if (result.outcome !== 'promoted') return false;

  // An earlier run's memory of this snapshot would answer the first question already.
  const forgotten = deps.pkgctlAdmin('memory', 'prune', '--older-than', '0s', '--snapshot', VERSION);
  say(`   earlier runs' memories of ${VERSION} forgotten: ${forgotten}`);
  const ask = () => postEvaluation(url, { ...complaint(0), embedding: hashingEmbedding(COMPLAINT) }, key);
  const before = await ask();
  say(`   "${COMPLAINT}": ${subtasksOf(before.body)} (${memoryOf(before.body)})`);
  const id = `demo:${lane.region}:noise`;
  say(
    `   ${deps.pkgctl('memory', 'add', '--id', id, '--tier', 'event_working', '--label', 'noise_complaint', '--text', REMEMBERED, '--embed-text', '--snapshot', VERSION)}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const after = await ask();
  say(`   the same complaint again: ${subtasksOf(after.body)} (${memoryOf(after.body)})`);
  return subtasksOf(before.body) === 'escalate' && subtasksOf(after.body) === 'noise_patrol, notify_manager, escalate';
}
