import { stat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { PkgError } from '../../policy/errors';
import { laneName, laneOf, type Lane } from '../../policy/lane';
import { parseDuration } from '../../policy/rollout/config';
import { percentText } from '../../policy/rollout/reasons';
import type { ImpactReport, OutcomeSummary } from '../../policy/rollout/impact';
import { prepareBundle } from '../bundle-upload';
import { withControlPlane } from '../control-plane';
import { printProgress, printResult } from '../output';
import { actorOption, envOption, laneOption, parseBake } from './rollout-options';
import { warnWhenUnserved } from './workers';

/**
 * `pkgctl impact DIR|VERSION --env E`: replays a lane's logged decisions on a candidate and on what
 * the lane serves now, on the evaluator pool, and reports what would change (client/impact-run.ts),
 * through the API when one is configured. Nothing is deployed; a bundle directory is uploaded and
 * compiled like a promotion's (so its version is then taken).
 */
interface ImpactOptions extends Lane {
  since: string;
  limit: number;
  examples: number;
  json?: boolean;
  actor: string;
}

const count = (what: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number of ${what}`);
  return n;
};

export function registerImpactCommands(program: Command): void {
  program
    .command('impact')
    .description("replay a lane's logged decisions on a bundle or stored version and report what changes")
    .argument('<bundle>', 'bundle directory, or a stored version such as hotel-ops@1.1.0')
    .addOption(envOption())
    .addOption(laneOption('target'))
    .addOption(laneOption('region'))
    .option('--since <duration>', 'replay decisions logged this far back, e.g. 24h', parseBake, '24h')
    .option('--limit <n>', 'at most this many decisions (the newest)', count('decisions'), 100_000)
    .option('--examples <n>', 'changed decisions to show', count('examples'), 5)
    .option('--json', 'print one JSON result')
    .addOption(actorOption())
    .action((bundle: string, options: ImpactOptions) => impact(bundle, options));
}

async function impact(target: string, options: ImpactOptions): Promise<void> {
  const lane = laneOf(options);
  const directory = await stat(target).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!directory && !target.includes('@')) {
    throw new PkgError('InputInvalid', `${target}: neither a bundle directory nor a version such as name@1.2.3`);
  }
  // Checked here for messages that name the directory; the ControlPlane checks it again as the API must.
  const bundle = directory ? { packed: (await prepareBundle(target, lane.env, {})).packed } : { version: target };
  if (!options.json) printProgress(`replaying ${laneName(lane)}'s logged decisions on the evaluator pool`);
  const report = await withControlPlane(async (plane) => {
    const warned = warnWhenUnserved(plane);
    const replayed = await plane.impact({
      lane,
      bundle,
      windowMs: parseDuration(options.since),
      limit: options.limit,
      maxExamples: options.examples,
      actor: options.actor,
    });
    await warned;
    return replayed;
  });
  const share = report.decisions === 0 ? null : report.changed / report.decisions;
  printResult(
    options.json,
    { outcome: 'ok', lane: laneName(lane), since: options.since, share, ...report },
    () => `${describeImpact(report, laneName(lane), options.since)}\n  ${report.url}`,
  );
}

function describeImpact(report: ImpactReport, lane: string, since: string): string {
  const { decisions, changed, skipped, candidateVersion, baselineVersion } = report;
  if (baselineVersion === null)
    return `lane ${lane} serves nothing yet: no baseline to compare ${candidateVersion} with`;
  const share = decisions === 0 ? 'n/a' : percentText(changed / decisions);
  const lines = [
    `${candidateVersion} vs ${baselineVersion} on ${lane}, decisions logged in the last ${since}:`,
    `  ${decisions} replayed, ${changed} changed (${share})${skipped ? `, ${skipped} no longer parse` : ''}`,
  ];
  const changes = (title: string, list: ImpactReport['rules']) => {
    if (list.length === 0) return;
    lines.push(`  ${title}:`);
    for (const c of list) lines.push(`    ${c.name}  +${c.added} −${c.removed}`);
  };
  changes('rules matched differently', report.rules);
  changes('subtasks emitted differently', report.subtasks);
  for (const example of report.examples) {
    lines.push(`  ${example.decisionId}: ${summary(example.baseline)} → ${summary(example.candidate)}`);
    lines.push(`    input ${JSON.stringify(example.input)}`);
  }
  return lines.join('\n');
}

const summary = (outcome: OutcomeSummary) =>
  'error' in outcome ? `error (${outcome.error})` : `[${outcome.subtasks.join(', ')}]`;
