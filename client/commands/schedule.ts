import type { Command } from 'commander';
import { ensureFactCleanupSchedule } from '../fact-schedule';
import { printResult } from '../output';
import { withSession } from '../session';

interface FactCleanupOptions {
  every: string;
  namespace?: string;
  grace?: string;
  batchSize?: string;
  json?: boolean;
}

/** `pkgctl schedule fact-cleanup --every 1h`: creates or updates the Temporal Schedule. */
export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('Temporal Schedules the pipeline runs');
  schedule
    .command('fact-cleanup')
    .description('run the expired-fact cleanup on the pipeline worker at a fixed interval (overlap: skip)')
    .requiredOption('--every <duration>', 'interval, e.g. 1h')
    .option('--namespace <namespace>', 'only this fact namespace (default: all)')
    .option('--grace <duration>', 'keep facts this long after they expire (default 1h)')
    .option('--batch-size <n>', 'rows per batch transaction (default 5000)')
    .option('--json', 'print one JSON result')
    .action((options: FactCleanupOptions) =>
      withSession(async ({ config, temporal }) => {
        const request = {
          ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
          ...(options.grace === undefined ? {} : { grace: options.grace }),
          ...(options.batchSize === undefined ? {} : { batchSize: Number(options.batchSize) }),
        };
        const outcome = await ensureFactCleanupSchedule(await temporal(), {
          every: options.every,
          request,
          taskQueue: config.PIPELINE_TASK_QUEUE,
        });
        const link = `${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/schedules/${outcome.scheduleId}`;
        const verb = outcome.created ? 'created' : 'updated';
        printResult(
          options.json,
          { ...outcome, link },
          () => `${verb} schedule ${outcome.scheduleId} (every ${options.every}): ${link}`,
        );
      }),
    );
}
