/**
 * The logger pgwarden writes to. Accepts a pino-like logger (`info(obj, msg)`)
 * or a console-like one (`info(msg, obj)`); every line is redacted first.
 */
import { redact, redactValue } from './redact/redactor.js';

type LogMethod = (...args: unknown[]) => void;

/** Anything with these methods: console, pino, winston, bunyan. */
export interface LoggerLike {
  debug?: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** pgwarden's internal logger: structured events, redacted. */
export interface Logger {
  log(level: LogLevel, event: string, message: string, fields?: Record<string, unknown>): void;
}

const silent: Logger = { log: () => undefined };

/** Wraps a user logger; `undefined` logs nothing (warnings still go to process.emitWarning). */
export function createLogger(target: LoggerLike | undefined): Logger {
  if (!target) return silent;
  // pino and bunyan take the object first; console and winston the message first.
  const objectFirst = typeof (target as { child?: unknown }).child === 'function' && 'level' in target;
  return {
    log(level, event, message, fields = {}) {
      const method = (level === 'debug' ? (target.debug ?? target.info) : target[level]).bind(target);
      const safeFields = redactValue({ event, ...fields }) as Record<string, unknown>;
      const safeMessage = redact(message);
      if (objectFirst) method(safeFields, safeMessage);
      else method(`[pgwarden] ${safeMessage}`, safeFields);
    },
  };
}
