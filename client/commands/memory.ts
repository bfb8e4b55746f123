import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  importMemories,
  memoryStats,
  pruneMemories,
  type ImportResult,
  type LocatedMemory,
  type MemoryStats,
} from '../../activities/store/cortex-memories';
import { hashingEmbedding, textSha256 } from '../../policy/cortex/embedder';
import { parseMemory, parseMemoryLine } from '../../policy/cortex/memory';
import { MEMORY_TIERS, type MemoryTier } from '../../policy/cortex/embedding';
import { PkgError } from '../../policy/errors';
import { parseDuration } from '../../policy/facts/duration';
import { printResult } from '../output';
import { withSession } from '../session';

/** `pkgctl memory import|add|stats|prune`: the Unified Cortex memory, straight to Postgres. */
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
    .action(async (options: AddOptions) => {
      const located = { memory: parseMemory(addedMemory(options), 'memory add'), where: 'memory add' };
      const result = await withSession(({ pool }) => importMemories(pool(), [located]));
      printResult(options.json, { id: options.id, ...result }, () => `added memory ${options.id}`);
    });
  memory
    .command('stats')
    .description('memories per tier and snapshot, and the size of the vector index')
    .option('--json', 'print one JSON result')
    .action(async (options: { json?: boolean }) => {
      const stats = await withSession(({ pool }) => memoryStats(pool()));
      printResult(options.json, stats, () => describeStats(stats));
    });
  memory
    .command('prune')
    .description('delete memories created longer ago than --older-than')
    .requiredOption('--older-than <duration>', 'e.g. 30d, 12h')
    .option('--tier <tier>', `only this tier (${MEMORY_TIERS.join(', ')})`)
    .option('--snapshot <version>', "only this snapshot's memories")
    .option('--dry-run', 'count only, change nothing')
    .option('--json', 'print one JSON result')
    .action(async (options: PruneOptions) => {
      const request = pruneRequestOf(options);
      const count = await withSession(({ pool }) => pruneMemories(pool(), request));
      const verb = request.dryRun ? 'would delete' : 'deleted';
      printResult(
        options.json,
        { ...request, count },
        () => `${verb} ${count} memories older than ${options.olderThan}`,
      );
    });
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

function pruneRequestOf(options: PruneOptions) {
  const olderThanMs = parseDuration(options.olderThan);
  if (olderThanMs === null)
    throw new PkgError('InputInvalid', `--older-than: "${options.olderThan}" is not a duration (e.g. 12h, 30d)`);
  if (options.tier !== undefined && !(MEMORY_TIERS as readonly string[]).includes(options.tier))
    throw new PkgError('InputInvalid', `--tier: expected one of ${MEMORY_TIERS.join(', ')}, got "${options.tier}"`);
  return {
    olderThanMs,
    tier: options.tier as MemoryTier | undefined,
    snapshot: options.snapshot,
    dryRun: options.dryRun ?? false,
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
