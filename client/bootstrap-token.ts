import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findLiveToken } from '../activities/store/api-tokens';
import { ENVS } from '../policy/lane';
import { looksLikeToken, tokenHash } from '../policy/identity/tokens';
import { directControlPlane } from './control-plane';
import type { Session } from './session';

/**
 * The bootstrap admin token of an installation (README "Identity and access"): `npm run up` keeps
 * one in a file only its owner may read, so a fresh install has an admin without anyone typing a
 * secret. Like `pkgctl token create` without an API, this writes to Postgres directly: whoever holds
 * DATABASE_URL is trusted. The file's token is kept while it is a live admin token; an expired,
 * revoked or missing one is replaced by a new token under a new name (names are never reused, so
 * audit rows keep resolving).
 */
export interface BootstrapToken {
  name: string;
  file: string;
  created: boolean;
}

export async function ensureBootstrapToken(session: Session, file: string, expiresIn: number): Promise<BootstrapToken> {
  const current = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (looksLikeToken(current)) {
    const live = await findLiveToken(session.pool(), tokenHash(current));
    if (live?.role === 'admin' && live.envs.length === ENVS.length) return { name: live.name, file, created: false };
  }
  const name = `bootstrap-admin-${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}`;
  const created = await directControlPlane(session).createToken(
    { name, role: 'admin', envs: [...ENVS], expiresIn },
    'bootstrap',
  );
  await writeSecret(file, `${created.token}\n`);
  return { name, file, created: true };
}

/** Written beside, then renamed: a reader never sees half a token, and the file is 0600 from its first byte. */
async function writeSecret(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, text, { mode: 0o600 });
  await rename(partial, file);
}
