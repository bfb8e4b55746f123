import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  importMemories,
  type ImportResult,
  type LocatedMemory,
  type MemoryStats,
} from '../../activities/store/cortex-memories';
import { hashingEmbedding, textSha256 } from '../../policy/cortex/embedder';
import { memoryPruneRequestSchema, parseMemoryLine } from '../../policy/cortex/memory';
import { MEMORY_TIERS } from '../../policy/cortex/embedding';
import { PkgError } from '../../policy/errors';
import { flagName, parseInput } from '../../policy/facts/input';
import { withControlPlane } from '../control-plane';
import { printResult } from '../output';
import { withSession } from '../session';

/**
 * `pkgctl memory import|add|stats|prune`: the Unified Cortex memory. add, stats and prune go through
 * the control-plane API when PKG_API_URL and PKG_TOKEN are set; a bulk import is a COPY into
 * Postgres, so it needs the database (a 10,000-row file is some 200 MB of JSON).
 */
export function registerMemoryCommands(program: Command): void {
  const memory = program
    .command('memory')
    .description('Unified Cortex memories that ADVISORY evaluations hydrate from');
  memory
    .command('import')
    .description('load a JSONL file (one memory a line) in one transaction: all lines or none')
    .argument('<file>', 'lines of {"id","tier","label","text_sha256","embedding":[1024 numbers],"snapshot"?}')
    .option('--json', 'print one JSON result')
    .action(async (file: string, options: { json?: boolean }) => {
      const started = performance.now();
      const result = await withSession(({ pool }) => importMemories(pool(), memoriesOf(file)));
      const seconds = (performance.now() - started) / 1000;
      const report = { file, ...result, rowsPerSecond: Math.round(result.rows / seconds) };
      printResult(options.json, report, () => describeImport(file, result, report.rowsPerSecond));
    });
  memory
    .command('add')
    .description('store one memory (replacing one with the same id)')
    .requiredOption('--id <id>', 'the memory id, e.g. task:4711')
    .requiredOption('--tier <tier>', MEMORY_TIERS.join(' | '))
    .requiredOption('--label <label>', 'what kind of memory, e.g. noise_complaint')
    .requiredOption('--text <text>', 'the remembered text: only its sha256 is stored')
    .option('--embedding <json>', 'a JSON array of 1024 numbers')
    .option('--embed-text', "embed --text with the demo's feature-hashing embedder instead")
    .option('--snapshot <version>', "a snapshot's world only (default: every snapshot's)")
    .option('--json', 'print one JSON result')
    .action((options: AddOptions) =>
      withControlPlane(async (plane) => {
        const result = await plane.addMemory(addedMemory(options));
        printResult(options.json, result, () => `added memory ${result.id}`);
      }),
    );
  memory
    .command('stats')
    .description('memories per tier and snapshot, and the size of the vector index')
    .option('--json', 'print one JSON result')
    .action((options: { json?: boolean }) =>
      withControlPlane(async (plane) => {
        const stats = await plane.memoryStats();
        printResult(options.json, stats, () => describeStats(stats));
      }),
    );
  memory
    .command('prune')
    .description('delete memories created longer ago than --older-than')
    .requiredOption('--older-than <duration>', 'e.g. 30d, 12h')
    .option('--tier <tier>', `only this tier (${MEMORY_TIERS.join(', ')})`)
    .option('--snapshot <version>', "only this snapshot's memories")
    .option('--dry-run', 'count only, change nothing')
    .option('--json', 'print one JSON result')
    .action(({ json, ...request }: PruneOptions) =>
      withControlPlane(async (plane) => {
        // Checked here too, so a bad flag is named as typed before anything is sent.
        parseInput(memoryPruneRequestSchema, request, 'invalid memory prune', flagName);
        const pruned = await plane.pruneMemories(request);
        const verb = pruned.dryRun ? 'would delete' : 'deleted';
        printResult(json, pruned, () => `${verb} ${pruned.count} memories older than ${request.olderThan}`);
      }),
    );
}

interface AddOptions {
  id: string;
  tier: string;
  label: string;
  text: string;
  embedding?: string;
  embedText?: boolean;
  snapshot?: string;
  json?: boolean;
}

interface PruneOptions {
  olderThan: string;
  tier?: string;
  snapshot?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** A file's lines as memories, each located as file:line; blank lines are skipped. */
async function* memoriesOf(file: string): AsyncGenerator<LocatedMemory> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (line.trim() === '') continue;
    const where = `${file}:${number}`;
    yield { memory: parseMemoryLine(line, where), where };
  }
}

function addedMemory(options: AddOptions): Record<string, unknown> {
  if ((options.embedding === undefined) === !options.embedText)
    throw new PkgError('InputInvalid', 'memory add: give either --embedding or --embed-text');
  let embedding: unknown;
  if (options.embedText) embedding = hashingEmbedding(options.text);
  else {
    try {
      embedding = JSON.parse(options.embedding!);
    } catch {
      throw new PkgError('InputInvalid', '--embedding: not a JSON array');
    }
  }
  return {
    id: options.id,
    tier: options.tier,
    label: options.label,
    text_sha256: textSha256(options.text),
    embedding,
    snapshot: options.snapshot ?? null,
  };
}

function describeImport(file: string, result: ImportResult, rowsPerSecond: number): string {
  const index = result.rebuiltIndex
    ? `, vector index rebuilt in ${(result.indexMs / 1000).toFixed(1)} s`
    : ', vector index updated row by row';
  return `imported ${result.rows} memories from ${file} (${rowsPerSecond} rows/s; COPY ${(result.copyMs / 1000).toFixed(1)} s${index})`;
}

function describeStats(stats: MemoryStats): string {
  const lines = stats.byTier.map((row) => `  ${row.tier} ${row.snapshot ?? '(every snapshot)'}: ${row.count}`);
  const index = `vector index ${(stats.indexBytes / 1048576).toFixed(1)} MiB`;
  return [`${stats.total} memories, ${index}`, ...lines].join('\n');
}
