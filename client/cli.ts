import { Command, CommanderError } from 'commander';
import { registerFactsCommands } from './commands/facts';
import { registerScheduleCommands } from './commands/schedule';
import { registerRolloutCommands } from './commands/rollout';
import { registerBundleCommands } from './commands/bundle';
import { registerEvaluateCommands } from './commands/evaluate';
import { EXIT } from './exit-codes';
import { printError } from './output';

/** `pkgctl`: each command group lives in client/commands/<group>.ts and registers itself here. */
export function buildProgram(): Command {
  const program = new Command('pkgctl')
    .description('Policy lifecycle pipeline: bundles, promotions, evaluation, facts')
    .exitOverride()
    .showHelpAfterError();
  registerFactsCommands(program);
  registerScheduleCommands(program);
  registerRolloutCommands(program);
  registerBundleCommands(program);
  registerEvaluateCommands(program);
  return program;
}

/** Prints one clear line for an expected failure; only a bug shows a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    printError(error instanceof Error ? error.message : String(error));
    return EXIT.error;
  }
}
