/**
 * The `csvlog` format: RFC 4180 records (a quoted field may span lines),
 * columns in the order documented for PostgreSQL 13 to 17. Only the first
 * fourteen columns are read, which every version since 9.0 shares.
 */
import type { LogEntry, ParsedLog } from './log-entry.js';
import { parseLogTimestamp } from './timestamp.js';

const COLUMN = {
  time: 0,
  user: 1,
  database: 2,
  pid: 3,
  connectionFrom: 4,
  severity: 11,
  message: 13,
} as const;

/** Splits CSV text into records of fields. */
export function parseCsvRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (c === ',') {
      record.push(field);
      field = '';
      fieldStarted = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      if (record.length > 1 || record[0] !== '') records.push(record);
      record = [];
      field = '';
      fieldStarted = false;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (fieldStarted || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** `host:port` (IPv6 hosts contain colons too) or `[local]`. */
function hostOf(connectionFrom: string): string | undefined {
  if (connectionFrom === '') return undefined;
  if (connectionFrom === '[local]') return connectionFrom;
  const colon = connectionFrom.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(connectionFrom.slice(colon + 1))
    ? connectionFrom.slice(0, colon)
    : connectionFrom;
}

export function parseCsvLog(text: string): ParsedLog {
  const entries: LogEntry[] = [];
  let unparsed = 0;
  for (const record of parseCsvRecords(text)) {
    const time = parseLogTimestamp(record[COLUMN.time] ?? '');
    const severity = record[COLUMN.severity];
    if (record.length <= COLUMN.message || !time || !severity) {
      unparsed++;
      continue;
    }
    const pid = Number(record[COLUMN.pid]);
    entries.push({
      time,
      severity,
      message: record[COLUMN.message] ?? '',
      pid: Number.isInteger(pid) && pid > 0 ? pid : undefined,
      remoteHost: hostOf(record[COLUMN.connectionFrom] ?? ''),
      user: record[COLUMN.user] || undefined,
      database: record[COLUMN.database] || undefined,
    });
  }
  return { format: 'csvlog', entries, unparsed };
}
