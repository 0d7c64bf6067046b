import type { LogTime } from './timestamp.js';

/** The three formats PostgreSQL 15 writes (log_destination). */
export const LOG_FORMATS = ['stderr', 'csvlog', 'jsonlog'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** One log message, whatever the format it came from. Only what the alert rules need. */
export interface LogEntry {
  readonly time: LogTime | undefined;
  /** `LOG`, `FATAL`, `ERROR`, … */
  readonly severity: string;
  readonly message: string;
  readonly pid?: number | undefined;
  /** The client address, or `[local]` for a unix socket; undefined when the format does not say. */
  readonly remoteHost?: string | undefined;
  readonly user?: string | undefined;
  readonly database?: string | undefined;
}

/** What parsing a file produced. */
export interface ParsedLog {
  readonly format: LogFormat;
  readonly entries: readonly LogEntry[];
  /** Lines (or CSV records) that matched nothing; continuation lines are not counted. */
  readonly unparsed: number;
}

/** The message of a severity that starts a new entry (DETAIL, HINT… belong to the one before). */
export const SEVERITIES = [
  'DEBUG1',
  'DEBUG2',
  'DEBUG3',
  'DEBUG4',
  'DEBUG5',
  'DEBUG',
  'LOG',
  'INFO',
  'NOTICE',
  'WARNING',
  'ERROR',
  'FATAL',
  'PANIC',
  'DETAIL',
  'HINT',
  'CONTEXT',
  'STATEMENT',
  'LOCATION',
  'QUERY',
] as const;
