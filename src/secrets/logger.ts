/**
 * How the secrets layer reports warnings: through pgwarden's {@link Logger}
 * (src/logger.ts), with the `PGW_SECRET_*` code as the event name and the
 * backend as a field, so one logger serves the pool and its providers.
 */
import type { ErrorCode } from '../errors.js';
import type { Logger, LogLevel } from '../logger.js';
import { redact } from '../redact/redactor.js';

/** The logger providers and the cache accept: pgwarden's own {@link Logger}. */
export type SecretLogger = Logger;

/** One line a provider or the cache wants an operator to see. Never holds a secret value. */
export interface SecretLogEntry {
  level: LogLevel;
  /** The backend name as written in SECRETS_BACKEND, e.g. `vault-database`. */
  backend: string;
  /** A stable code for warnings and errors, e.g. `PGW_SECRET_STALE`; also the event name. */
  code?: ErrorCode | undefined;
  message: string;
}

/**
 * Used when no logger is given: warnings and errors become Node process
 * warnings, so they reach stderr without a logging library (and can be
 * captured with `process.on('warning')`); debug and info are dropped.
 */
export const defaultSecretLogger: SecretLogger = {
  log(level, event, message) {
    if (level !== 'warn' && level !== 'error') return;
    process.emitWarning(message, { type: 'PgwardenWarning', code: event });
  },
};

/**
 * Sends one entry to `logger`, redacting the message on the way: it may quote
 * a backend's answer, which is never trusted to be clean. A throwing logger
 * must not break credential fetching, so its errors are swallowed.
 */
export function logSecretEvent(logger: SecretLogger, entry: SecretLogEntry): void {
  try {
    logger.log(
      entry.level,
      entry.code ?? 'PGW_SECRET',
      redact(`secrets backend "${entry.backend}": ${entry.message}`),
      {
        backend: entry.backend,
        ...(entry.code ? { code: entry.code } : {}),
      },
    );
  } catch {
    // A broken logger is the application's problem, not a reason to fail a fetch.
  }
}
