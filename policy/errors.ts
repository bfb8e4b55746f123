/**
 * Every error a user can cause has one type from this closed list. Activities turn a PkgError into a
 * non-retryable ApplicationFailure with the same type; the CLI prints its message as one line; tests
 * assert on the type, not on message text.
 */
export const ERROR_TYPES = [
  'BundleInvalid', // a bundle file is malformed or breaks a rule of ARCHITECTURE.md §3
  'BundleTooLarge', // the bundle exceeds the size limit
  'SignatureInvalid', // .signatures.json missing where required, or does not verify
  'VersionConflict', // same version already compiled with different content
  'RegoCompileFailed', // opa refused the Rego (syntax, unsupported builtin)
  'ChecksumMismatch', // stored bytes do not match their recorded sha256
  'GateConfigLoosened', // a bundle's rollout settings try to relax env defaults
  'LaneBusy', // another rollout already runs on this lane
  'NotFound', // a snapshot, version, bundle digest or record does not exist
  'InputInvalid', // an evaluation input, fact, CLI argument or operator payload is malformed
  'ActionRefused', // an operator action the rollout's state does not allow now (early approve, resume when not paused)
  'FixturesFailed', // a stored snapshot's fixtures fail on one of its engines (checked again before a revert)
  'NoEvaluators', // the lane has no live evaluator, so a canary on it could never be measured
  'Unauthenticated', // no API token or JWT, or one that is unknown, expired or revoked (HTTP 401)
  'Forbidden', // the identity lacks the role the action needs in the env, or separation of duties refuses it (HTTP 403)
] as const;

export type ErrorType = (typeof ERROR_TYPES)[number];

/** One problem, located: the file, the path inside it, what is wrong. */
export interface Problem {
  file?: string;
  path?: string;
  message: string;
}

export function formatProblem(problem: Problem): string {
  const where = [problem.file, problem.path].filter(Boolean).join(': ');
  return where ? `${where}: ${problem.message}` : problem.message;
}

export class PkgError extends Error {
  override name = 'PkgError';
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
  }

  /** All problems at once, each on its own line, under a one-line summary. */
  static fromProblems(type: ErrorType, summary: string, problems: Problem[]): PkgError {
    const lines = problems.map((p) => `  - ${formatProblem(p)}`);
    return new PkgError(type, [summary, ...lines].join('\n'), problems);
  }
}
