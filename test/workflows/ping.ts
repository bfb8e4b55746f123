import { sleep } from '@temporalio/workflow';

/** The smallest real workflow: proves the server, the bundle and a worker work together. */
export async function ping(name: string): Promise<string> {
  await sleep(10);
  return `pong ${name}`;
}
