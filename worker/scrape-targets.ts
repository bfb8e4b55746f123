import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';
import { liveInstances } from '../activities/store/fleet';
import { scrapeTargetGroups } from '../policy/scrape-targets';
import { createPollingLoop, type PollingLoop } from './polling-loop';

/**
 * Keeps Prometheus' evaluator targets file (file_sd_configs) equal to the live evaluators of the
 * fleet registry. Written to a temporary file and renamed over the old one, so Prometheus never
 * reads half a file; rewritten only when the targets change.
 */
export interface ScrapeTargetsDeps {
  pool: Pool;
  file: string;
  intervalMs?: number;
  onError?: (error: unknown) => void;
  /** Hears how many targets each refresh listed. */
  onTargets?: (count: number) => void;
}

export interface ScrapeTargetsWriter extends PollingLoop {
  /** Rewrites the file now if the live evaluators changed; returns how many targets it lists. */
  refresh(): Promise<number>;
}

const DEFAULT_INTERVAL_MS = 1000;

export function createScrapeTargetsWriter(deps: ScrapeTargetsDeps): ScrapeTargetsWriter {
  const refresh = async () => {
    const groups = scrapeTargetGroups(await liveInstances(deps.pool));
    const text = `${JSON.stringify(groups, null, 2)}\n`;
    const current = await readFile(deps.file, 'utf8').catch(() => null);
    if (current !== text) await replaceFile(deps.file, text);
    const count = groups.reduce((sum, group) => sum + group.targets.length, 0);
    deps.onTargets?.(count);
    return count;
  };
  return { refresh, ...createPollingLoop(refresh, deps.intervalMs ?? DEFAULT_INTERVAL_MS, deps.onError) };
}

async function replaceFile(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, file);
}
