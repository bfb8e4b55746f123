import path from 'node:path';
import { Client } from 'pg';
import { migrate } from 'postgres-migrations';
import { loadConfigOrExit } from '../policy/config';

/**
 * Applies migrations/NNN_name.sql in order. postgres-migrations records each file's hash and
 * refuses to run when an applied file was edited: a schema change is always a new file.
 */
export async function applyMigrations(databaseUrl: string): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const applied = await migrate({ client }, path.join(__dirname, '..', 'migrations'));
    return applied.map((m) => m.fileName);
  } finally {
    await client.end();
  }
}

if (require.main === module) {
  const config = loadConfigOrExit();
  applyMigrations(config.DATABASE_URL).then(
    (files) => process.stderr.write(files.length ? `migrated: ${files.join(', ')}\n` : 'migrations: up to date\n'),
    (error: Error) => {
      process.stderr.write(`migration failed: ${error.message}\n`);
      process.exit(1);
    },
  );
}
