/**
 * The seed's plain hot-swap message, `activate:<version>` on Redis `pkg_updates`
 * (`redis-cli PUBLISH pkg_updates "activate:rules@1.5.0"`). Here the pipeline owns desired state,
 * so the message is a request, not a command: the control plane honours it only for a version that
 * already passed validation (a successful pkg_validation_runs row), while no rollout is running on
 * its env's default lane; then the version becomes its env's active snapshot exactly as a promotion
 * of that lane would make it (audited, with the lane hot-swap message). Anything else is refused
 * and logged, and changes nothing.
 */
const PLAIN_ACTIVATION = /^activate:(\S+)$/;

/** The version a plain activation message names, or null for any other message. */
export function plainActivationVersion(message: string): string | null {
  return PLAIN_ACTIVATION.exec(message.trim())?.[1] ?? null;
}

export type PlainActivation =
  | { outcome: 'activated'; version: string; env: string; previous: string | null }
  | { outcome: 'already-active'; version: string; env: string }
  | { outcome: 'refused'; version: string; reason: string };

export const PLAIN_ACTIVATION_REFUSALS = {
  unknown: (version: string) => `no snapshot ${version}`,
  notValidated: (version: string) =>
    `${version} has not passed validation (no successful pkg_validation_runs row); run it through the pipeline (pkgctl promote)`,
  rolloutRunning: (version: string, lane: string, candidate: string) =>
    `${lane} is rolling out ${candidate}; ${version} can be activated once that rollout ends`,
} as const;

export function describePlainActivation(result: PlainActivation): string {
  const message = `plain activate:${result.version}`;
  switch (result.outcome) {
    case 'activated':
      return `${message}: activated in ${result.env} (was ${result.previous ?? 'none'})`;
    case 'already-active':
      return `${message}: already the active snapshot of ${result.env}, nothing to do`;
    case 'refused':
      return `${message}: refused: ${result.reason}`;
  }
}
