import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { createRedis } from '../../activities/connections';
import {
  announceEvaluatorKeyChange,
  insertEvaluatorKey,
  listEvaluatorKeys,
  revokeEvaluatorKey,
  type EvaluatorKeyChange,
  type EvaluatorKeyInfo,
} from '../../activities/store/evaluator-keys';
import { formatKey, KEY_ID_BYTES, KEY_SECRET_BYTES } from '../../policy/access/evaluator-key';
import { evaluatorKeyRequestSchema } from '../../policy/access/key-request';
import { flagName, parseInput } from '../../policy/facts/input';
import type { Config } from '../../policy/config';
import { printProgress, printResult } from '../output';
import { withSession } from '../session';
import { actorOption } from './rollout-options';

/**
 * `pkgctl evaluator-key create|list|revoke` (README "Evaluator keys"): straight to Postgres, then an
 * announcement on Redis so every evaluator rereads its keys at once (they also reread on a period,
 * so an announcement Redis loses costs seconds, not the revocation).
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
    .action(async (options: Record<string, string | boolean | undefined>) => {
      const { json, actor, ...input } = options;
      const request = parseInput(evaluatorKeyRequestSchema, input, 'invalid evaluator key', flagName);
      const key = formatKey(randomBytes(KEY_ID_BYTES), randomBytes(KEY_SECRET_BYTES));
      const expiresAt = request.expiresIn === undefined ? null : new Date(Date.now() + request.expiresIn);
      const created = await withSession(async ({ pool, config }) => {
        const info = await insertEvaluatorKey(pool(), key, {
          name: request.name,
          scope: request.scope,
          ratePerS: request.rate,
          burst: request.burst,
          expiresAt,
          actor: String(actor),
        });
        await announce(config, 'created', info.id);
        return info;
      });
      printResult(Boolean(json), { ...created, key: key.text }, () =>
        [describeKey(created), `key (shown once, store it now): ${key.text}`].join('\n'),
      );
    });
  keys
    .command('list')
    .description('live keys (never their secrets)')
    .option('--all', 'also revoked keys')
    .option('--json', 'print one JSON result')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const found = await withSession(({ pool }) => listEvaluatorKeys(pool(), Boolean(options.all)));
      printResult(options.json, found, () => (found.length ? found.map(describeKey).join('\n') : 'no evaluator keys'));
    });
  keys
    .command('revoke')
    .description('revoke a key by name or id; every evaluator refuses it within 5 s')
    .argument('<name-or-id>')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action(async (nameOrId: string, options: { actor: string; json?: boolean }) => {
      const revoked = await withSession(async ({ pool, config }) => {
        const info = await revokeEvaluatorKey(pool(), nameOrId, options.actor);
        await announce(config, 'revoked', info.id);
        return info;
      });
      printResult(options.json, revoked, () => `revoked ${describeKey(revoked)}`);
    });
}

/** Best effort: the row is what counts, and every evaluator rereads the rows within seconds anyway. */
async function announce(config: Config, change: EvaluatorKeyChange, id: string): Promise<void> {
  const redis = createRedis(config);
  redis.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', () => reject(new Error(`cannot reach Redis at ${config.REDIS_URL}`)));
      setTimeout(() => reject(new Error(`no answer from Redis at ${config.REDIS_URL}`)), 2000).unref();
    });
    await announceEvaluatorKeyChange(redis, change, id);
  } catch (error) {
    printProgress(
      `warning: evaluators not told at once (${error instanceof Error ? error.message : String(error)}); they reread keys within seconds`,
    );
  } finally {
    redis.disconnect();
  }
}

function describeKey(key: EvaluatorKeyInfo): string {
  const expiry = key.expiresAt ? `expires ${key.expiresAt.toISOString()}` : 'no expiry';
  const state = key.revokedAt ? `, revoked ${key.revokedAt.toISOString()}` : '';
  return `${key.name} (${key.id}): lanes ${key.scope.join(',')}, ${key.ratePerS}/s burst ${key.burst}, ${expiry}${state}`;
}
