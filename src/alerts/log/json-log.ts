/** The `jsonlog` format (PostgreSQL 15+): one JSON object per line. */
import type { LogEntry, ParsedLog } from './log-entry.js';
import { parseLogTimestamp } from './timestamp.js';

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export function parseJsonLog(text: string): ParsedLog {
  const entries: LogEntry[] = [];
  let unparsed = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      unparsed++;
      continue;
    }
    const severity = str(value?.error_severity);
    const message = typeof value?.message === 'string' ? value.message : undefined;
    if (!severity || message === undefined) {
      unparsed++;
      continue;
    }
    entries.push({
      time: typeof value.timestamp === 'string' ? parseLogTimestamp(value.timestamp) : undefined,
      severity,
      message,
      pid: typeof value.pid === 'number' ? value.pid : undefined,
      remoteHost: str(value.remote_host),
      user: str(value.user),
      database: str(value.dbname),
    });
  }
  return { format: 'jsonlog', entries, unparsed };
}
