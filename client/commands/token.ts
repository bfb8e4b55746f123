import type { Command } from 'commander';
import type { StoredToken } from '../../activities/store/api-tokens';
import { flagName, parseInput } from '../../policy/facts/input';
import { ROLES } from '../../policy/identity/access';
import { tokenRequestSchema } from '../../policy/identity/tokens';
import { durationSchema } from '../../policy/facts/duration';
import { withControlPlane } from '../control-plane';
import { ensureBootstrapToken } from '../bootstrap-token';
import { printResult } from '../output';
import { withSession } from '../session';
import { actorOption } from './rollout-options';

/**
 * `pkgctl token create|list|revoke`: API tokens (README "Identity and access"). Through the API
 * this needs an admin token; without PKG_API_URL it writes to Postgres directly, which is how the
 * first admin token of a fresh install is made: whoever holds the database URL is trusted.
 */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens of the control-plane API');
  token
    .command('create')
    .description('create a token; its secret is printed once and stored only as a hash')
    .requiredOption('--name <name>', 'unique name, recorded as token:<name> in audit rows')
    .requiredOption('--role <role>', ROLES.join(', '))
    .requiredOption('--env <envs>', '* or a comma list of prod, staging, dev')
    .option('--expires-in <duration>', 'lifetime, e.g. 30d', '90d')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action((options: { name: string; role: string; env: string; expiresIn: string; actor: string; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const request = { name: options.name, role: options.role, envs: options.env, expiresIn: options.expiresIn };
        const parsed = parseInput(tokenRequestSchema, request, 'invalid token', flagName);
        const created = await plane.createToken(parsed, options.actor);
        printResult(
          options.json,
          created,
          () => `${describeToken(created)}\n${created.token}\n(shown once: store it now, e.g. as PKG_TOKEN)`,
        );
      }),
    );
  token
    .command('list')
    .description('tokens (never their secrets)')
    .option('--json', 'print one JSON result')
    .action((options: { json?: boolean }) =>
      withControlPlane(async (plane) => {
        const tokens = await plane.listTokens();
        printResult(options.json, tokens, () => (tokens.length ? tokens.map(describeToken).join('\n') : 'no tokens'));
      }),
    );
  token
    .command('revoke')
    .argument('<name>', 'token name')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action((name: string, options: { actor: string; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const revoked = await plane.revokeToken(name, options.actor);
        printResult(options.json, revoked, () => `revoked ${describeToken(revoked)}`);
      }),
    );
  registerBootstrapCommand(token);
}

/** `npm run up` runs this; the secret goes to the file only, never to the terminal. */
function registerBootstrapCommand(token: Command): void {
  token
    .command('bootstrap')
    .description('keep a live admin token (all envs) in a 0600 file, creating one if it is missing or dead')
    .requiredOption('--file <path>', 'where the token is kept, e.g. .data/bootstrap-admin.token')
    .option('--expires-in <duration>', 'lifetime of a new token, e.g. 30d', '30d')
    .option('--json', 'print one JSON result')
    .action((options: { file: string; expiresIn: string; json?: boolean }) =>
      withSession(async (session) => {
        const lifetime = parseInput(durationSchema(60_000), options.expiresIn, 'invalid --expires-in');
        const result = await ensureBootstrapToken(session, options.file, lifetime);
        printResult(
          options.json,
          result,
          () => `bootstrap admin token ${result.name} ${result.created ? 'created in' : 'kept in'} ${result.file}`,
        );
      }),
    );
}

function describeToken(token: StoredToken): string {
  const state = token.revokedAt
    ? `revoked ${token.revokedAt.toISOString()}`
    : `expires ${token.expiresAt.toISOString()}`;
  return `${token.name}: ${token.role} in ${token.envs.join(',')} (${state}, created by ${token.createdBy})`;
}
