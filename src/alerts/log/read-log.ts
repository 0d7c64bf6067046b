/**
 * Reads a server log file for the alert rules: only its tail (the rules look
 * at minutes, logs grow to gigabytes), in the format given or detected.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { AlertsError } from '../alerts-error.js';
import { parseCsvLog } from './csv-log.js';
import { parseJsonLog } from './json-log.js';
import type { LogFormat, ParsedLog } from './log-entry.js';
import { parseStderrLog } from './stderr-log.js';

/** Default bytes read from the end of each file: hours of a busy server's log. */
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;

export interface ReadLogOptions {
  /** `auto` (default) looks at the extension (`.csv`, `.json`) and then at the first line. */
  format?: LogFormat | 'auto';
  /** For `stderr`: the server's log_line_prefix. */
  linePrefix?: string | undefined;
  /** Read at most this many bytes from the end. Default 64 MiB. */
  maxBytes?: number;
}

export interface ReadLog extends ParsedLog {
  readonly path: string;
  readonly sizeBytes: number;
  /** True when the file was larger than maxBytes and only its end was read. */
  readonly truncated: boolean;
}

/** Which format `text` (from a file named `path`) is in. */
export function detectLogFormat(path: string, text: string): LogFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csvlog';
  if (ext === '.json' || ext === '.jsonl') return 'jsonlog';
  const first = text.split('\n').find((line) => line.trim() !== '') ?? '';
  if (first.trimStart().startsWith('{')) return 'jsonlog';
  // csvlog: the timestamp field is followed by a comma and then the user name field.
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: \S+)?,/.test(first)) return 'csvlog';
  return 'stderr';
}

function readTail(path: string, maxBytes: number): { text: string; size: number; truncated: boolean } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, size - length + read);
      if (n === 0) break;
      read += n;
    }
    let text = buffer.subarray(0, read).toString('utf8');
    const truncated = size > length;
    // The first line of a tail is most likely cut in the middle.
    if (truncated) text = text.slice(text.indexOf('\n') + 1);
    return { text, size, truncated };
  } catch (error) {
    throw unreadable(path, error);
  } finally {
    closeSync(fd);
  }
}

export function unreadable(path: string, error: unknown): AlertsError {
  const code = (error as NodeJS.ErrnoException)?.code ?? 'error';
  return new AlertsError('PGW_ALERTS_INPUT_UNREADABLE', `The server log ${path} cannot be read (${code}).`, {
    option: '--log',
    fix:
      code === 'EACCES'
        ? 'Run the check as a user that may read the log (e.g. postgres, or one in its group with log_file_mode = 0640).'
        : 'Pass the path of the current log file: SELECT pg_current_logfile(); shows it, relative to the data directory.',
  });
}

/** Parses one log file; throws `PGW_ALERTS_INPUT_UNREADABLE` when it cannot be read. */
export function readLogFile(path: string, options: ReadLogOptions = {}): ReadLog {
  const { text, size, truncated } = readTail(path, options.maxBytes ?? DEFAULT_MAX_LOG_BYTES);
  const format = !options.format || options.format === 'auto' ? detectLogFormat(path, text) : options.format;
  const parsed =
    format === 'csvlog'
      ? parseCsvLog(text)
      : format === 'jsonlog'
        ? parseJsonLog(text)
        : parseStderrLog(text, { linePrefix: options.linePrefix });
  return { ...parsed, path, sizeBytes: size, truncated };
}
