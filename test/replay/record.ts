import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * Recorded workflow histories for the replay test, written when PKG_RECORD_HISTORIES=1 so an
 * ordinary test run leaves the committed files alone. Each file is JSON holding the history in
 * its protobuf binary form (base64): the SDK's JSON history parser trips over two copies of
 * protobufjs in this install, while binary decoding through @temporalio/proto is exact.
 */
export const HISTORIES_DIR = path.join(__dirname, 'histories');
const FORMAT = 'temporal.api.history.v1.History/protobuf-base64';

interface HistoryFile {
  format: typeof FORMAT;
  workflowId: string;
  workflowType: string;
  events: number;
  history: string;
}

export async function saveHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.PKG_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const file: HistoryFile = {
    format: FORMAT,
    workflowId: handle.workflowId,
    workflowType: 'promotion',
    events: history.events?.length ?? 0,
    history: Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('base64'),
  };
  await writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(file, null, 2)}\n`);
}

export async function* loadHistories(): AsyncGenerator<{
  workflowId: string;
  history: temporal.api.history.v1.History;
}> {
  for (const name of (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort()) {
    const file = JSON.parse(await readFile(path.join(HISTORIES_DIR, name), 'utf8')) as HistoryFile;
    if (file.format !== FORMAT) throw new Error(`${name}: unknown history format ${String(file.format)}`);
    yield {
      workflowId: name.replace(/\.json$/, ''),
      history: temporal.api.history.v1.History.decode(Buffer.from(file.history, 'base64')),
    };
  }
}
