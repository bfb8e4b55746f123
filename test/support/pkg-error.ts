import { PkgError } from '../../policy/errors';

/** Runs `action`, which must throw a PkgError; returns it for assertions on its type. */
export function pkgErrorOf(action: () => unknown): PkgError {
  try {
    action();
  } catch (error) {
    if (error instanceof PkgError) return error;
    throw error;
  }
  throw new Error('expected a PkgError, nothing was thrown');
}
