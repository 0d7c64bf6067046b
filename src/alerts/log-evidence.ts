/**
 * The server log, read once for both log-based rules: parsed files, the
 * security events in them, and the time window the rules count in.
 */
import { formatDuration } from '../monitor/duration.js';
import type { LogFormat } from './log/log-entry.js';
import { readLogFile, type ReadLogOptions } from './log/read-log.js';
import { securityEvents, type SecurityEvent } from './log/security-events.js';

export interface LogFileSummary {
  readonly path: string;
  readonly format: LogFormat;
  readonly entries: number;
  readonly unparsed: number;
  readonly truncated: boolean;
  /** First and last timestamps in the part that was read (ISO 8601; local time as UTC when the zone is unknown). */
  readonly oldest: string | null;
  readonly newest: string | null;
}

export interface LogEvidence {
  readonly files: readonly LogFileSummary[];
  readonly events: readonly SecurityEvent[];
  /** `connection received` lines: log_connections was on. */
  readonly connectionLines: number;
  /** Sessions whose origin (unix socket or TCP) the log does not tell. */
  readonly unknownOrigin: number;
  /** False when a timestamp had no zone or an ambiguous one. */
  readonly zoneKnown: boolean;
  readonly oldestAt: number | undefined;
  readonly newestAt: number | undefined;
  readonly entries: number;
}

/** Reads and parses every file; throws PGW_ALERTS_INPUT_UNREADABLE for one that cannot be read. */
export function readLogEvidence(files: readonly string[], options: ReadLogOptions): LogEvidence {
  const summaries: LogFileSummary[] = [];
  const events: SecurityEvent[] = [];
  let connectionLines = 0;
  let unknownOrigin = 0;
  let zoneKnown = true;
  let oldestAt: number | undefined;
  let newestAt: number | undefined;
  let entries = 0;
  for (const path of files) {
    const log = readLogFile(path, options);
    const found = securityEvents(log.entries);
    events.push(...found.events);
    connectionLines += found.connectionLines;
    unknownOrigin += found.unknownOrigin;
    entries += log.entries.length;
    let fileOldest: number | undefined;
    let fileNewest: number | undefined;
    for (const entry of log.entries) {
      if (!entry.time) continue;
      if (!entry.time.zoneKnown) zoneKnown = false;
      fileOldest = Math.min(fileOldest ?? Infinity, entry.time.ms);
      fileNewest = Math.max(fileNewest ?? -Infinity, entry.time.ms);
    }
    if (fileOldest !== undefined) oldestAt = Math.min(oldestAt ?? Infinity, fileOldest);
    if (fileNewest !== undefined) newestAt = Math.max(newestAt ?? -Infinity, fileNewest);
    summaries.push({
      path,
      format: log.format,
      entries: log.entries.length,
      unparsed: log.unparsed,
      truncated: log.truncated,
      oldest: fileOldest === undefined ? null : new Date(fileOldest).toISOString(),
      newest: fileNewest === undefined ? null : new Date(fileNewest).toISOString(),
    });
  }
  return { files: summaries, events, connectionLines, unknownOrigin, zoneKnown, oldestAt, newestAt, entries };
}

export interface LogWindow {
  readonly start: number;
  readonly end: number;
  /** `5m`, for reports and webhooks. */
  readonly label: string;
  readonly notes: readonly string[];
}

/**
 * The window a log rule counts in: the last `windowMs` before now, or before
 * the newest line (for a log copied elsewhere, or when the log's time zone is
 * not known, so "now" cannot be placed in it).
 */
export function logWindow(
  evidence: LogEvidence,
  windowMs: number,
  windowEnd: 'now' | 'newest-line',
  now: number,
): LogWindow {
  const notes: string[] = [];
  let end = now;
  if (windowEnd === 'newest-line' || !evidence.zoneKnown) {
    end = evidence.newestAt ?? now;
    if (windowEnd === 'now') {
      notes.push(
        "The log's time zone is missing or ambiguous, so the window ends at the newest log line; set log_timezone = 'UTC' for exact windows.",
      );
    }
  }
  const start = end - windowMs;
  if (
    evidence.oldestAt !== undefined &&
    evidence.oldestAt > start &&
    evidence.files.some((f) => f.truncated)
  ) {
    notes.push('Only the end of a large log was read, and it starts inside the window: raise log.maxBytes.');
  } else if (evidence.oldestAt !== undefined && evidence.oldestAt > start && windowEnd === 'now') {
    notes.push(
      `The log starts ${formatDuration(now - evidence.oldestAt)} ago, inside the ${formatDuration(windowMs)} window: after a rotation, pass the previous file too.`,
    );
  }
  if (evidence.files.some((f) => f.unparsed > 0)) {
    const unparsed = evidence.files.reduce((n, f) => n + f.unparsed, 0);
    notes.push(
      `${unparsed} log line(s) matched no known format and were ignored; check --log-format and log.linePrefix.`,
    );
  }
  return { start, end, label: shortWindow(windowMs), notes };
}

/** `5m`, `1h`, `90s`: the most natural single unit. */
export function shortWindow(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Events inside the window. Events without a timestamp are left out: they cannot be placed. */
export function inWindow<E extends { at: number | undefined }>(events: readonly E[], window: LogWindow): E[] {
  return events.filter((e) => e.at !== undefined && e.at > window.start && e.at <= window.end + 60_000);
}

/** `{ app: 6, bob: 1 }` → `app ×6, bob ×1`, most frequent first. */
export function topCounts(values: readonly (string | undefined)[], limit = 5): Record<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value ?? 'unknown', (counts.get(value ?? 'unknown') ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).slice(0, limit));
}

export function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([name, n]) => `${name} ×${n}`)
    .join(', ');
}
