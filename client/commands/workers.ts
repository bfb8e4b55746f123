import type { Command } from 'commander';
import type { TaskQueuePresence } from '../task-queues';
import { withControlPlane, type ControlPlane } from '../control-plane';
import { EXIT } from '../exit-codes';
import { printProgress, printResult } from '../output';

/**
 * `pkgctl workers`: whether workers poll the task queues rollouts and impact analyses run on
 * (client/task-queues.ts); exit 3 naming each queue nobody polls.
 */
export function registerWorkerCommands(program: Command): void {
  program
    .command('workers')
    .description('whether workers poll the pipeline and evaluator task queues; exit 3 when one is unserved')
    .option('--json', 'print one JSON result')
    .action(async (options: { json?: boolean }) => {
      const queues = await withControlPlane((plane) => plane.workers());
      const unserved = queues.filter((queue) => queue.pollers === 0);
      printResult(options.json, { ok: unserved.length === 0, queues }, () => queues.map(describeQueue).join('\n'));
      if (unserved.length > 0) process.exitCode = EXIT.rejected;
    });
}

function describeQueue(queue: TaskQueuePresence): string {
  const state =
    queue.pollers === 0
      ? 'NOBODY POLLS'
      : `${queue.pollers} poller${queue.pollers === 1 ? '' : 's'}, last ${queue.lastPollAt}`;
  return `${queue.queue} (${queue.tasks} tasks): ${state} — served by ${queue.servedBy}`;
}

/**
 * Said on stderr before a command waits on a workflow: with nobody polling one of its task queues
 * it would wait, silently, until somebody does. Only a hint: a plane that cannot tell (an older
 * API, a viewer's Temporal rights) says nothing, and the command goes on either way.
 */
export async function warnWhenUnserved(plane: ControlPlane): Promise<void> {
  const queues = await plane.workers().catch(() => []);
  for (const queue of queues.filter((q) => q.pollers === 0)) {
    printProgress(
      `waiting: nobody has polled task queue ${queue.queue} for ${queue.tasks} tasks lately; ` +
        `${queue.servedBy} serves it, and the workflow waits until one does`,
    );
  }
}
