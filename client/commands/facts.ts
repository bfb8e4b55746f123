import type { Command } from 'commander';
import type { StoredFact } from '../../activities/store/facts';
import type { FactCleanupResult } from '../../activities/store/fact-cleanup';
import { formatDuration } from '../../policy/facts/duration';
import { factCleanupRequestSchema, factInputSchema, flagName, parseInput } from '../../policy/facts/input';
import { printProgress, printResult } from '../output';
import { withControlPlane } from '../control-plane';

/**
 * `pkgctl facts add|list|stats|cleanup`: no worker needed; each goes through the API when one is
 * configured. Cleanup reports each batch as it goes when it runs here; through the API, at the end.
 */
export function registerFactsCommands(program: Command): void {
  const facts = program.command('facts').description('temporal facts that FACT conditions consult');
  facts
    .command('add')
    .description('store a fact; it holds from --valid-from (default now) until --valid-to or for --ttl')
    .requiredOption('--subject <subject>', 'who the fact is about, e.g. guest:Ben')
    .requiredOption('--predicate <predicate>', 'what holds, e.g. hasTemporaryAccess')
    .option('--object <json>', 'a JSON object, e.g. \'{"service":"lounge"}\'', '{}')
    .option('--namespace <namespace>', 'fact namespace', 'default')
    .option('--valid-from <time>', 'ISO 8601 timestamp with zone')
    .option('--valid-to <time>', 'ISO 8601 timestamp with zone')
    .option('--ttl <duration>', 'lifetime from valid-from, e.g. 2h (instead of --valid-to)')
    .option('--json', 'print one JSON result')
    .action(async (options: Record<string, string | boolean | undefined>) => {
      const { json, ...input } = options;
      // Checked here for messages that name the flags; the ControlPlane checks it again as the API must.
      parseInput(factInputSchema, input, 'invalid fact', flagName);
      const stored = await withControlPlane((plane) => plane.addFact(input));
      printResult(Boolean(json), stored, () => `added fact ${describeFact(stored)}`);
    });
  facts
    .command('list')
    .description("a subject's facts valid now")
    .requiredOption('--subject <subject>', 'e.g. guest:Ben')
    .option('--namespace <namespace>', 'only this namespace')
    .option('--include-expired', 'also expired and not-yet-valid facts')
    .option('--json', 'print one JSON result')
    .action(async (options: { subject: string; namespace?: string; includeExpired?: boolean; json?: boolean }) => {
      const found = await withControlPlane((plane) => plane.listFacts(options));
      printResult(options.json, found, () =>
        found.length ? found.map(describeFact).join('\n') : `no facts for ${options.subject}`,
      );
    });
  registerStatsCommand(facts);
  registerCleanupCommand(facts);
}

function registerStatsCommand(facts: Command): void {
  facts
    .command('stats')
    .description('per namespace: total, temporal, expired, active facts')
    .option('--namespace <namespace>', 'only this namespace')
    .option('--json', 'print one JSON result')
    .action(async (options: { namespace?: string; json?: boolean }) => {
      const stats = await withControlPlane((plane) => plane.factStatistics(options.namespace ?? null));
      printResult(options.json, stats, () =>
        stats.length
          ? stats
              .map(
                (s) =>
                  `${s.namespace}: total ${s.total}, temporal ${s.temporal}, expired ${s.expired}, active ${s.active}`,
              )
              .join('\n')
          : 'no facts',
      );
    });
}

function registerCleanupCommand(facts: Command): void {
  facts
    .command('cleanup')
    .description('archive, then delete, facts expired longer than the grace period, in batches')
    .option('--namespace <namespace>', 'only this namespace (default: all)')
    .option('--dry-run', 'count only, change nothing')
    .option('--grace <duration>', 'keep facts this long after they expire, e.g. 1h (default 1h)')
    .option('--batch-size <n>', 'rows per batch transaction (default 5000)')
    .option('--json', 'print one JSON result')
    .action(
      async (options: { namespace?: string; dryRun?: boolean; grace?: string; batchSize?: string; json?: boolean }) => {
        const request = {
          namespace: options.namespace,
          dryRun: options.dryRun ?? false,
          grace: options.grace,
          batchSize: options.batchSize === undefined ? undefined : Number(options.batchSize),
        };
        // Checked here for messages that name the flags; the ControlPlane checks it again as the API must.
        parseInput(factCleanupRequestSchema, request, 'invalid fact cleanup', flagName);
        const onBatch = options.json ? undefined : reportBatch;
        const result = await withControlPlane((plane) => plane.cleanupFacts(request, onBatch));
        printResult(options.json, result, () => describeCleanup(result));
      },
    );
}

function describeFact(fact: StoredFact): string {
  const until = fact.validTo ? fact.validTo.toISOString() : 'open-ended';
  return `#${fact.id} [${fact.namespace}] ${fact.subject} ${fact.predicate} ${JSON.stringify(fact.object)} (${fact.validFrom.toISOString()} → ${until})`;
}

function reportBatch(progress: { batches: number; namespace: string | null }): void {
  if (progress.batches > 0) printProgress(`batch ${progress.batches} done (namespace ${progress.namespace})`);
}

function describeCleanup(result: FactCleanupResult): string {
  const verb = result.dryRun ? 'would archive' : 'archived';
  const lines = result.namespaces.map((n) => `  ${n.namespace}: ${result.dryRun ? n.expired : n.archived}`);
  const head = `${verb} ${result.dryRun ? result.totalExpired : result.totalArchived} facts expired before ${result.cutoff} (grace ${formatDuration(result.graceMs)})`;
  return [head, ...lines].join('\n');
}
