import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createPool } from '../activities/connections';
import { loadConfig } from '../policy/config';
import { DECISION_LOG_BATCH, type WriterReport } from '../worker/evaluator/decision-log';
import { decisionRecord } from '../worker/evaluator/decision-log-batch';
import { createDecisionLogWriter, writerSetup } from '../worker/evaluator/decision-log-writer';
import {
  fixtureInputs,
  randomLane,
  removeDecisionLogs,
  removeTestLanes,
  storeExample,
} from '../test/integration/evaluator-harness';

/**
 * `npm run bench -- decision-log-writer [--decisions 200000] [--rounds 3]`
 *
 * The decision log's writer alone, in this process, with the evaluator's settings (default mask,
 * its Postgres connection): batches of records as the request path hands them over (the bundle's
 * fixture bodies, 150 a hand-over, 5 ms at 30,000 decisions a second) are parsed, masked, rendered
 * and written in chunks. It prints this process's CPU per decision, which is the writer's work
 * with the pg client's but not Postgres's, against a floor measured in the same run on the same
 * bodies: parsing each body and serialising its input once, the least a writer of these lines does.
 */
const PER_HANDOVER = 150;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { decisions: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } },
  });
  const config = loadConfig();
  const pool = createPool(config);
  const lane = randomLane();
  const { pool: writerPool, mask, hash } = writerSetup(config);
  try {
    const snapshot = await storeExample(pool, 'hotel-ops-v1', `bench${Date.now()}`, 'native');
    const bodies = (await fixtureInputs(pool, snapshot.snapshotId)).map((input) => JSON.stringify({ input }));
    const count = Number(values.decisions);
    const result = '{"ok":true,"subtasks":[],"dag":[],"rules":[]}';
    const handovers: string[] = [];
    for (let start = 0; start < count; start += PER_HANDOVER) {
      let records = '';
      for (let i = start; i < Math.min(count, start + PER_HANDOVER); i++) {
        const draft = {
          lane,
          snapshotVersion: snapshot.version,
          canary: false,
          mode: 'control' as const,
          requestJson: bodies[i % bodies.length]!,
          factsJson: null,
          result,
          error: null,
          evalNs: 12_345.6,
        };
        records += decisionRecord(draft, randomUUID(), Date.now());
      }
      handovers.push(records);
    }

    const outcome = { written: 0, failed: 0 };
    const report = (message: WriterReport) => {
      if (message.kind === 'written') outcome.written += message.count;
      if (message.kind === 'failed') outcome.failed += message.count;
    };
    const writer = createDecisionLogWriter({ db: writerPool, mask, hash, batch: DECISION_LOG_BATCH, report });
    const floor = () => {
      for (let i = 0; i < count; i++) {
        const body = JSON.parse(bodies[i % bodies.length]!) as { input: unknown };
        Buffer.from(JSON.stringify(body.input));
      }
    };
    const write = async (round: number) => {
      for (const records of handovers) {
        await writer.handle({ kind: 'decisions', decisions: records });
        // The writer thread takes each hand-over as a message, between which its I/O goes on.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writer.handle({ kind: 'flush', id: round });
    };
    const cpuPerDecision = async (work: () => unknown) => {
      const started = process.cpuUsage();
      await work();
      const used = process.cpuUsage(started);
      return (used.user + used.system) / count;
    };

    await write(0);
    floor();
    console.log(
      `${count} decisions a round, ${bodies.length} distinct bodies, ${PER_HANDOVER} a hand-over, chunks of ${DECISION_LOG_BATCH}`,
    );
    for (let round = 1; round <= Number(values.rounds); round++) {
      const floorUs = await cpuPerDecision(floor);
      const writerUs = await cpuPerDecision(() => write(round));
      console.log(
        `round ${round}: writer ${writerUs.toFixed(2)} µs CPU a decision, floor (parse + serialise) ${floorUs.toFixed(2)} µs, writer / floor ${(writerUs / floorUs).toFixed(2)}`,
      );
    }
    console.log(`written ${outcome.written}, failed ${outcome.failed}`);
  } finally {
    await removeDecisionLogs(pool, lane);
    await removeTestLanes(pool);
    await writerPool.end();
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
