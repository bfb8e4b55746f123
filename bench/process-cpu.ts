import { readFile } from 'node:fs/promises';

/** CPU seconds (user plus system) of a process so far, and of its main thread alone, from /proc (NaN elsewhere). */
export interface ProcessCpu {
  process: number;
  main: number;
}

export async function processCpu(pid: number | undefined): Promise<ProcessCpu> {
  return { process: await statCpu(`/proc/${pid}/stat`), main: await statCpu(`/proc/${pid}/task/${pid}/stat`) };
}

async function statCpu(file: string): Promise<number> {
  const stat = await readFile(file, 'utf8').catch(() => null);
  if (stat === null) return NaN;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
