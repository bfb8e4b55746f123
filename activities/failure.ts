import { ApplicationFailure } from '@temporalio/common';
import { PkgError } from '../policy/errors';

/**
 * A PkgError is a refusal (bad bundle, bad input, bad artifact): no retry can fix it, so the
 * activity fails for good with the error's type and its located problems. Anything else (a
 * database blip, a crashed opa) stays retryable.
 */
export function asActivityFailure(error: unknown): unknown {
  if (!(error instanceof PkgError)) return error;
  return ApplicationFailure.create({
    type: error.type,
    message: error.message,
    nonRetryable: true,
    details: [error.problems],
  });
}

export async function refusingBadInput<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asActivityFailure(error);
  }
}
