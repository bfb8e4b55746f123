import { CommanderError } from 'commander';
import { ServiceError, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { ERROR_TYPES, PkgError, type ErrorType } from '../policy/errors';
import type { PromotionOutcome } from '../workflows/definitions';
import { ServiceUnavailable } from './session';

/**
 * pkgctl's exit codes (README "Exit codes"): one table, applied from typed results wherever a
 * refusal happens (in pkgctl before the workflow starts, or inside it), never from message text.
 */
export const EXIT = { ok: 0, error: 1, usage: 2, rejected: 3, refused: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Exit code of a promotion that ran to its end. */
export const outcomeExit = (outcome: PromotionOutcome): ExitCode => (outcome === 'promoted' ? EXIT.ok : EXIT.rejected);

const TYPE_EXIT: Record<ErrorType, ExitCode> = {
  BundleInvalid: EXIT.rejected,
  BundleTooLarge: EXIT.rejected,
  SignatureInvalid: EXIT.rejected,
  VersionConflict: EXIT.rejected,
  RegoCompileFailed: EXIT.rejected,
  ChecksumMismatch: EXIT.rejected,
  GateConfigLoosened: EXIT.rejected,
  NoEvaluators: EXIT.rejected,
  FixturesFailed: EXIT.rejected,
  LaneBusy: EXIT.refused,
  ActionRefused: EXIT.refused,
  NotFound: EXIT.refused,
  Unauthenticated: EXIT.refused,
  Forbidden: EXIT.refused,
  InputInvalid: EXIT.usage,
};

/** Types of failures that are not the product's refusals. */
export type OtherFailureType = 'UsageInvalid' | 'Unavailable' | 'WorkflowFailed' | 'Unexpected';

export interface Failure {
  type: ErrorType | OtherFailureType;
  message: string;
  exitCode: ExitCode;
}

const isErrorType = (type: string | undefined | null): type is ErrorType => ERROR_TYPES.includes(type as ErrorType);

/** Any error pkgctl can meet, as its type, message and exit code. */
export function classify(error: unknown): Failure {
  const message = error instanceof Error ? error.message : String(error);
  const typed = (type: ErrorType, text = message): Failure => ({ type, message: text, exitCode: TYPE_EXIT[type] });
  if (error instanceof PkgError) return typed(error.type);
  if (error instanceof CommanderError) return { type: 'UsageInvalid', message, exitCode: EXIT.usage };
  if (error instanceof WorkflowNotFoundError) return typed('NotFound');
  const cause =
    error instanceof WorkflowUpdateFailedError || error instanceof WorkflowFailedError ? error.cause : error;
  if (cause instanceof ApplicationFailure && isErrorType(cause.type)) return typed(cause.type, cause.message);
  if (error instanceof WorkflowFailedError) return { type: 'WorkflowFailed', message, exitCode: EXIT.error };
  if (error instanceof ServiceError || isConnectionError(error))
    return { type: 'Unavailable', message, exitCode: EXIT.error };
  return { type: 'Unexpected', message, exitCode: EXIT.error };
}

const SOCKET_ERRORS = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'];

/** Temporal's connection (wrapped by the session) and Node's socket errors (Postgres, by their code). */
function isConnectionError(error: unknown): boolean {
  if (error instanceof ServiceUnavailable) return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SOCKET_ERRORS.includes(code);
}
