/**
 * pkgctl's exit codes (ARCHITECTURE.md §9), in their own module so cli.ts and every command share one table
 * without importing each other.
 */
export const EXIT = { ok: 0, error: 1, usage: 2, rejected: 3 } as const;
