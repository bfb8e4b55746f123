import type { Command } from 'commander';
import type { SnapshotSeal } from '../../activities/store/snapshot-seals';
import type { Env } from '../../policy/lane';
import { withControlPlane } from '../control-plane';
import { printResult } from '../output';
import { actorOption, envOption } from './rollout-options';

/**
 * `pkgctl snapshot seal`: vouch for a snapshot written as rows the seed's way, so evaluators verify
 * and serve it (README "Integrity"). Through the API it needs role author (or admin) in its env.
 */
export function registerSnapshotCommands(program: Command): void {
  const snapshot = program.command('snapshot').description('stored snapshots');
  snapshot
    .command('seal')
    .argument('<snapshot>', "a version (rules@1.5.0) or the seed's integer snapshot id")
    .description(
      'seal a snapshot written as rows, as they stand now (pkg_seal_snapshot, audited); refused when already sealed',
    )
    .addOption(envOption())
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action((which: string, options: { env: Env; actor: string; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const sealed = await plane.sealSnapshot({ snapshot: which, env: options.env, actor: options.actor });
        printResult(options.json, sealed, () => describeSeal(sealed));
      }),
    );
}

function describeSeal(sealed: SnapshotSeal & { env: Env }): string {
  const artifacts = sealed.artifacts ? 'its wasm and rego artifacts' : 'no artifacts';
  return [
    `sealed ${sealed.version} (snapshot ${sealed.snapshotNumber}, ${sealed.snapshotId}) in ${sealed.env} by ${sealed.actor}`,
    `content ${sealed.contentSha256}, ${artifacts}, seal ${sealed.seal}`,
  ].join('\n');
}
