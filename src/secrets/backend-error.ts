import { SecretError, type ErrorCode } from '../errors.js';

/** What every secrets error carries besides its code. */
export interface BackendErrorDetails {
  /** The variable or option the error is about, e.g. `VAULT_ADDR`. */
  option?: string | undefined;
  /** One sentence telling the operator what to do. */
  fix?: string | undefined;
  cause?: unknown;
}

/**
 * Builds a {@link SecretError} whose message starts with the backend name, so
 * an operator knows which backend failed without reading a stack trace.
 * Callers must never put a secret value in `message` or `fix`; redaction in
 * {@link SecretError} is the second line of defence, not the first.
 */
export function backendError(
  code: ErrorCode,
  backend: string,
  message: string,
  details: BackendErrorDetails = {},
): SecretError {
  return new SecretError(code, `Secrets backend "${backend}": ${message}`, {
    ...(details.option === undefined ? {} : { option: details.option }),
    ...(details.fix === undefined ? {} : { fix: details.fix }),
    ...(details.cause === undefined ? {} : { cause: details.cause }),
  });
}

/** True for a {@link SecretError} with one of `codes` (any code when none given). */
export function isSecretError(error: unknown, ...codes: ErrorCode[]): error is SecretError {
  return error instanceof SecretError && (codes.length === 0 || codes.includes(error.pgwardenCode));
}

/**
 * The operation was cancelled through an AbortSignal. A timeout (the
 * cache's fetch timeout, or a signal whose reason is a `TimeoutError`) says
 * the backend did not answer: `PGW_SECRET_BACKEND_UNAVAILABLE`. Any other
 * abort, and every abort of a caller's own signal (`byCaller`), is the
 * caller's decision: `PGW_SECRET_ABORTED`, which alerting on backend
 * outages must not count.
 */
export function abortedError(
  backend: string,
  signal: AbortSignal,
  options: { byCaller?: boolean } = {},
): SecretError {
  const reason: unknown = signal.reason;
  const timedOut = !options.byCaller && reason instanceof Error && reason.name === 'TimeoutError';
  if (timedOut) {
    return backendError('PGW_SECRET_BACKEND_UNAVAILABLE', backend, 'the request timed out.', {
      fix: 'Check that the backend is reachable and healthy, or raise the fetch timeout.',
      cause: reason,
    });
  }
  return backendError('PGW_SECRET_ABORTED', backend, 'the request was cancelled by its caller.', {
    fix: 'Nothing to do if the cancellation was intended.',
    cause: reason,
  });
}
