import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { EXIT } from '../exit-codes';
import { withControlPlane } from '../control-plane';
import { PkgError } from '../../policy/errors';
import type { ChainVerification } from '../../policy/rollout/decision-chain';
import { actorOption, envOption, laneOption } from './rollout-options';
import { JsonText, printResult } from '../output';
import { ENVS, laneName, laneOf, parseLaneName, type Env, type Lane } from '../../policy/lane';

/** `pkgctl revert|abort|history|decision show|verify`: repairing a lane, and the audited trail of what it serves. */
export function registerAuditCommands(program: Command): void {
  program
    .command('abort')
    .description('heal a lane whose rollout died (terminated, timed out): withdraw the candidate it left, audited')
    .argument('<lane>', 'env/target/region, e.g. dev/web/eu')
    .requiredOption('--reason <text>', 'why (audited)')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action((name: string, options: { reason: string; actor: string; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const lane = parseLaneName(name);
        const result = await plane.abort(lane, options.reason, options.actor);
        const leftover = result.withdrawn;
        printResult(options.json, result, () =>
          leftover
            ? `${laneName(lane)}: withdrew ${leftover.candidate.version}, left by ${leftover.rolloutId ?? 'an unknown rollout'}`
            : `${laneName(lane)}: no leftover candidate, nothing to withdraw`,
        );
      }),
    );
  program
    .command('revert')
    .description('serve again a snapshot this lane served as stable before: fixtures first, audited, a decision record')
    .addOption(envOption())
    .requiredOption('--to <version>', 'the snapshot version to serve again')
    .addOption(laneOption('target'))
    .addOption(laneOption('region'))
    .option('--reason <text>', 'why (audited; required with --force)')
    .option('--force', 'allow a snapshot this lane never served as stable')
    .addOption(actorOption())
    .option('--json', 'print one JSON result')
    .action((options: Lane & { to: string; reason?: string; force?: boolean; actor: string; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const lane = laneOf(options);
        if (options.force && !options.reason?.trim()) {
          throw new PkgError('InputInvalid', '--force needs a --reason: an override of the revert rule is audited');
        }
        const result = await plane.revert({
          lane,
          version: options.to,
          actor: options.actor,
          reason: options.reason ?? 'manual revert',
          force: !!options.force,
        });
        printResult(
          options.json,
          { outcome: 'reverted', ...result },
          () =>
            `${laneName(lane)} now serves ${result.version} (fixtures ${result.validation.passed} passed)\n` +
            `decision record ${result.decisionId}`,
        );
      }),
    );
  program
    .command('history')
    .description("an env's decisions and reverts, newest first")
    .addOption(envOption())
    .option('--limit <n>', 'how many entries', (v) => Number.parseInt(v, 10), 20)
    .option('--json', 'print one JSON result')
    .action((options: { env: string; limit: number; json?: boolean }) =>
      withControlPlane(async (plane) => {
        const entries = await plane.history(options.env, options.limit);
        printResult(options.json, entries, () =>
          entries.length
            ? entries
                .map((e) => `${e.at} ${e.outcome.padEnd(11)} ${e.version ?? '-'}  ${e.id}\n    ${e.summary}`)
                .join('\n')
            : `no history for ${options.env}`,
        );
      }),
    );
  registerDecisionCommands(program);
}

function registerDecisionCommands(program: Command): void {
  const decision = program
    .command('decision')
    .description("decision records: show or verify one, or verify an env's chain");
  decision
    .command('show')
    .argument('<id>', 'record id (sha256) or rollout id')
    .option('--json', 'print the canonical record')
    .action((id: string, options: { json?: boolean }) =>
      withControlPlane(async (plane) => {
        const stored = await plane.decision(id);
        printResult(
          options.json,
          new JsonText(stored.canonical),
          () =>
            `${stored.id} (${stored.outcome}, ${stored.signature ? 'signed' : 'unsigned'})\n${stored.narrative}\n\n${JSON.stringify(JSON.parse(stored.canonical), null, 2)}`,
        );
      }),
    );
  decision
    .command('verify')
    .argument('[id]', 'record id (sha256) or rollout id')
    .addOption(new Option('--env <env>', "walk the env's whole chain instead of one record").choices(ENVS))
    .option('--key <pem>', "Ed25519 public (or private) key PEM; defaults to the installation's DECISION_SIGNING_KEY")
    .option('--json', 'print one JSON result')
    .action((id: string | undefined, options: { env?: Env; key?: string; json?: boolean }) =>
      withControlPlane(async (plane) => {
        if ((id === undefined) === (options.env === undefined))
          throw new PkgError('InputInvalid', 'decision verify: give a record id or --env, not both');
        const key = options.key === undefined ? undefined : publicKeyOf(options.key);
        if (options.env) return printChain(await plane.verifyChain(options.env, key), options.json);
        const result = await plane.verifyDecision(id!, key);
        if (!result.ok) process.exitCode = EXIT.rejected;
        printResult(options.json, result, () =>
          result.ok
            ? `ok: ${result.id} (${result.signed ? 'signature verified' : 'hash verified, unsigned'})`
            : `NOT OK: ${result.id}\n  - ${result.problems.join('\n  - ')}`,
        );
      }),
    );
}

/** Only the public half of a key file leaves this machine (it may go to the API). */
function publicKeyOf(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new PkgError('InputInvalid', `--key: cannot read ${path}`);
  }
  try {
    return createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw new PkgError('InputInvalid', `--key: ${path} holds no PEM key`);
  }
}

function printChain(chain: ChainVerification, json: boolean | undefined): void {
  if (!chain.ok) process.exitCode = EXIT.rejected;
  printResult(json, chain, () => {
    if (!chain.broken) return `ok: env ${chain.env}, ${chain.records} record(s), head ${chain.head ?? 'none'}`;
    const { id, position, problems } = chain.broken;
    const where = position === null ? 'not in the chain' : `link ${position} of ${chain.records}`;
    return `NOT OK: env ${chain.env}: first broken link ${id} (${where})\n  - ${problems.join('\n  - ')}`;
  });
}
