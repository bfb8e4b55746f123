import type { Queryable } from './transaction';

/** One named check of pkg_integrity_findings() (migrations, integrity): ok, or what it found. */
export interface IntegrityCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export async function readIntegrityChecks(db: Queryable): Promise<IntegrityCheck[]> {
  const { rows } = await db.query<{ check_name: string; ok: boolean; detail: string }>(
    'SELECT check_name, ok, detail FROM pkg_integrity_findings()',
  );
  return rows.map((row) => ({ check: row.check_name, ok: row.ok, detail: row.detail }));
}
