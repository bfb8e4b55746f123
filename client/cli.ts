import { Command } from 'commander';
import { registerFactsCommands } from './commands/facts';
import { registerScheduleCommands } from './commands/schedule';
import { registerRolloutCommands } from './commands/rollout';
import { registerBundleCommands } from './commands/bundle';
import { registerEvaluateCommands } from './commands/evaluate';
import { registerImpactCommands } from './commands/impact';
import { registerTokenCommands } from './commands/token';
import { registerEvaluatorKeyCommands } from './commands/evaluator-key';
import { registerIntegrityCommands } from './commands/integrity';
import { registerMemoryCommands } from './commands/memory';
import { registerSnapshotCommands } from './commands/snapshot';
import { registerWorkerCommands } from './commands/workers';
import { classify, EXIT } from './exit-codes';
import { printError, printFailure } from './output';

/** `pkgctl`: each command group lives in client/commands/<group>.ts and registers itself here. */
export function buildProgram(json: boolean): Command {
  const program = new Command('pkgctl')
    .description('Policy lifecycle pipeline: bundles, promotions, evaluation, facts')
    .exitOverride()
    .showHelpAfterError();
  // With --json, stdout carries only the one result: commander's own messages go to stderr.
  if (json) program.configureOutput({ writeOut: (text) => process.stderr.write(text) });
  registerFactsCommands(program);
  registerScheduleCommands(program);
  registerRolloutCommands(program);
  registerBundleCommands(program);
  registerEvaluateCommands(program);
  registerImpactCommands(program);
  registerTokenCommands(program);
  registerEvaluatorKeyCommands(program);
  registerIntegrityCommands(program);
  registerMemoryCommands(program);
  registerSnapshotCommands(program);
  registerWorkerCommands(program);
  return program;
}

/**
 * Runs one command. A failure prints one clear line (with --json: one error object on stdout) and
 * exits with the code the table in exit-codes.ts gives its type.
 */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const program = buildProgram(json);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    const failure = classify(error);
    if (failure.type === 'UsageInvalid' && (error as { exitCode?: number }).exitCode === 0) return EXIT.ok;
    if (json) printFailure(failure);
    else if (failure.type !== 'UsageInvalid') printError(failure.message);
    return failure.exitCode;
  }
}
