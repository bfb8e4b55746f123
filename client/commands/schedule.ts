import type { Command } from 'commander';
import type { ScheduleOutcome } from '../schedules';
import { printResult } from '../output';
import { withControlPlane } from '../control-plane';

interface ScheduleOptions {
  every: string;
  json?: boolean;
}

interface FactCleanupOptions extends ScheduleOptions {
  namespace?: string;
  grace?: string;
  batchSize?: string;
}

/**
 * `pkgctl schedule fact-cleanup --every 1h` and `pkgctl schedule decision-log-retention --every 1h`:
 * create or update the Temporal Schedule.
 */
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
      withControlPlane(async (plane) => {
        const request = {
          ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
          ...(options.grace === undefined ? {} : { grace: options.grace }),
          ...(options.batchSize === undefined ? {} : { batchSize: Number(options.batchSize) }),
        };
        printSchedule(options, await plane.schedule({ name: 'fact-cleanup', every: options.every, request }));
      }),
    );
  schedule
    .command('decision-log-retention')
    .description(
      "drop decision log partitions older than the pipeline worker's DECISION_LOG_RETENTION_DAYS, at a fixed interval (overlap: skip)",
    )
    .requiredOption('--every <duration>', 'interval, e.g. 1h')
    .option('--json', 'print one JSON result')
    .action((options: ScheduleOptions) =>
      withControlPlane(async (plane) => {
        printSchedule(options, await plane.schedule({ name: 'decision-log-retention', every: options.every }));
      }),
    );
}

function printSchedule(options: ScheduleOptions, outcome: ScheduleOutcome & { link: string }): void {
  const verb = outcome.created ? 'created' : 'updated';
  printResult(
    options.json,
    outcome,
    () => `${verb} schedule ${outcome.scheduleId} (every ${options.every}): ${outcome.link}`,
  );
}
