import type { Command } from 'commander';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { outcomeExit } from '../exit-codes';
import { REASONS } from '../../policy/rollout/reasons';
import { prepareBundle } from '../bundle-upload';
import { workflowLink } from '../rollout-client';
import { withControlPlane, type StartedRollout } from '../control-plane';
import { lastVerdictLines, type RolloutStatus } from '../../policy/rollout/status';
import type { PromotionResult } from '../../workflows/definitions';
import { actorOption, commandLineOverrides, envOption, laneOption, parseBake, parseSteps } from './rollout-options';
import { printProgress, printResult, printText } from '../output';
import { registerAuditCommands } from './rollout-audit';
import { warnWhenUnserved } from './workers';
import { laneOf, type Lane } from '../../policy/lane';

/**
 * `pkgctl promote|status|pause|resume|rollback|approve` (ARCHITECTURE.md §9). promote uploads the bundle,
 * starts the lane's workflow and, with --wait, follows it: exit 0 promoted, 3 rolled back or
 * rejected, 1 error, 2 usage.
 */
interface PromoteOptions extends Lane {
  steps?: number[];
  bake?: string;
  wait?: boolean;
  json?: boolean;
  actor: string;
}

export function registerRolloutCommands(program: Command): void {
  program
    .command('promote')
    .description('upload a bundle and start its rollout on a lane')
    .argument('<dir>', 'bundle directory')
    .addOption(envOption())
    .addOption(laneOption('target'))
    .addOption(laneOption('region'))
    .option('--steps <percents>', 'ramp steps, e.g. 1,5,25,100', parseSteps)
    .option('--bake <duration>', 'bake per step, e.g. 30s', parseBake)
    .option('--wait', 'follow the rollout until it ends')
    .option('--json', 'print one JSON result')
    .addOption(actorOption())
    .action((dir: string, options: PromoteOptions) => promote(dir, options));
  registerActionCommands(program);
  program
    .command('status')
    .description("a rollout's stage, step, percent and every verdict so far")
    .argument('<id>', 'workflow id, e.g. rollout-dev/default/default')
    .option('--json', 'print one JSON result')
    .action((id: string, options: { json?: boolean }) =>
      withControlPlane(async (plane, config) => {
        const status = await plane.status(id);
        const replay = status.replay ? [status.replay.message] : [];
        const lines = [describeStatus(status), ...replay, ...lastVerdictLines(status), workflowLink(config, id)];
        printResult(options.json, status, () => lines.join('\n'));
      }),
    );
  registerAuditCommands(program);
}

async function promote(dir: string, options: PromoteOptions): Promise<void> {
  const lane = laneOf(options);
  const overrides = commandLineOverrides(options);
  const prepared = await prepareBundle(dir, lane.env, overrides);
  const version = prepared.bundle.manifest.version;
  await withControlPlane(async (plane) => {
    const started = await plane.promote({ packed: prepared.packed, lane, overrides, actor: options.actor });
    const human = () => `started ${started.workflowId} (${version})\n${started.url}`;
    const warned = warnWhenUnserved(plane);
    if (!options.wait) {
      await warned;
      return printResult(options.json, started, human);
    }
    if (!options.json) printText(human());
    const progress = (status: RolloutStatus) => printProgress(describeStatus(status));
    await plane.waitForOutcome(started.workflowId, progress).then(
      (result) => reportOutcome(options.json, started, result),
      (error: unknown) => reportFailure(options.json, started, error),
    );
    await warned;
  });
}

function reportOutcome(json: boolean | undefined, started: StartedRollout, result: PromotionResult): void {
  process.exitCode = outcomeExit(result.outcome);
  printResult(
    json,
    { ...started, ...result },
    () => `${result.outcome}: ${result.reason}${result.decisionId ? `\ndecision record ${result.decisionId}` : ''}`,
  );
}

/**
 * The workflow ended without a result. Cancelled, it rolled its canary back first
 * (workflows/promotion.ts); terminated or failed, `pkgctl abort` heals the lane.
 */
function reportFailure(json: boolean | undefined, started: StartedRollout, error: unknown): void {
  if (error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure) {
    return reportOutcome(json, started, {
      outcome: 'rolled_back',
      reason: REASONS.cancelled,
      version: started.version,
      verdicts: [],
      decisionId: null,
    });
  }
  throw error;
}

export function describeStatus(status: RolloutStatus): string {
  const step = status.stepIndex >= 0 ? ` step ${status.stepIndex + 1}/${status.steps.length}` : '';
  const paused = status.paused ? ' [paused]' : '';
  return `[${status.stage}]${step} ${status.percent}%${paused} ${status.version ?? ''} — ${status.message}`;
}

/** Operator actions go as Updates: a refusal (bad payload, nothing to approve) comes back as an error. */
function registerActionCommands(program: Command): void {
  const actions = [
    { name: 'pause', description: 'hold the ramp after the current bake', reason: true },
    { name: 'resume', description: 'continue a paused ramp', reason: false },
    { name: 'rollback', description: 'withdraw the canary now', reason: true },
    { name: 'approve', description: 'let the step waiting for approval (approve_at) proceed', reason: false },
  ] as const;
  for (const { name, description, reason } of actions) {
    const command = program
      .command(name)
      .description(description)
      .argument('<id>', 'workflow id')
      .addOption(actorOption())
      .option('--json', 'print one JSON result');
    if (reason) command.option('--reason <text>', 'why (audited)', '');
    command.action((id: string, options: { actor: string; reason?: string; json?: boolean }) =>
      withControlPlane(async (plane, config) => {
        const request = { workflowId: id, action: name, actor: options.actor, reason: options.reason ?? '' };
        const status = await plane.act(request);
        const result = { outcome: 'ok', action: name, workflowId: id, actor: options.actor, status };
        printResult(
          options.json,
          result,
          () => `${name} accepted by ${id}: ${describeStatus(status)}\n${workflowLink(config, id)}`,
        );
      }),
    );
  }
}
