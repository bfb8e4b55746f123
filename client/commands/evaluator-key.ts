import type { Command } from 'commander';
import type { EvaluatorKeyInfo } from '../../activities/store/evaluator-keys';
import { evaluatorKeyRequestSchema } from '../../policy/access/key-request';
import { flagName, parseInput } from '../../policy/facts/input';
import { withControlPlane, type ChangedEvaluatorKey } from '../control-plane';
import { printProgress, printResult } from '../output';
import { actorOption } from './rollout-options';

/**
 * `pkgctl evaluator-key create|list|revoke` (README "Evaluator keys"). Through the API this needs
 * admin of every env a key's scope reaches; without PKG_API_URL it writes to Postgres directly. A
 * change is announced on Redis so every evaluator rereads its keys at once (they also reread on a
 * period, so an announcement Redis loses costs seconds, not the revocation).
 */
export function registerEvaluatorKeyCommands(program: Command): void {
  const keys = program.command('evaluator-key').description('keys that callers of POST /v1/evaluate present');
  keys
    .command('create')
    .description('create a key; it is printed once and only its SHA-256 digest is stored')
    .requiredOption('--name <name>', 'a name for people and logs, e.g. checkout-prod')
    .requiredOption(
      '--scope <lanes>',
      'lane patterns it may evaluate, e.g. prod/web/*,staging (* globs; env alone = all its lanes)',
    )
    .option('--rate <per-second>', 'token bucket refill, requests per second (default 100)')
    .option('--burst <count>', 'token bucket size (default two seconds of --rate)')
    .option('--expires-in <duration>', 'lifetime, e.g. 90d (default: until revoked)')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action((options: Record<string, string | boolean | undefined>) =>
      withControlPlane(async (plane) => {
        const { json, actor, ...input } = options;
        const request = parseInput(evaluatorKeyRequestSchema, input, 'invalid evaluator key', flagName);
        const created = await plane.createEvaluatorKey(request, String(actor));
        warnIfUntold(created);
        printResult(Boolean(json), created, () =>
          [describeKey(created), `key (shown once, store it now): ${created.key}`].join('\n'),
        );
      }),
    );
  keys
    .command('list')
    .description('live keys (never their secrets)')
    .option('--all', 'also revoked keys')
    .option('--json', 'print one JSON result')
    .action((options: { all?: boolean; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const found = await plane.listEvaluatorKeys(Boolean(options.all));
        printResult(options.json, found, () =>
          found.length ? found.map(describeKey).join('\n') : 'no evaluator keys',
        );
      }),
    );
  keys
    .command('revoke')
    .description('revoke a key by name or id; every evaluator refuses it within 5 s')
    .argument('<name-or-id>')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action((nameOrId: string, options: { actor: string; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const revoked = await plane.revokeEvaluatorKey(nameOrId, options.actor);
        warnIfUntold(revoked);
        printResult(options.json, revoked, () => `revoked ${describeKey(revoked)}`);
      }),
    );
}

function warnIfUntold(change: ChangedEvaluatorKey): void {
  if (!change.evaluatorsTold)
    printProgress('warning: evaluators not told at once (Redis did not answer); they reread keys within seconds');
}

function describeKey(key: EvaluatorKeyInfo): string {
  const expiry = key.expiresAt ? `expires ${key.expiresAt.toISOString()}` : 'no expiry';
  const state = key.revokedAt ? `, revoked ${key.revokedAt.toISOString()}` : '';
  return `${key.name} (${key.id}): lanes ${key.scope.join(',')}, ${key.ratePerS}/s burst ${key.burst}, ${expiry}${state}`;
}
