/**
 * The text form of a snapshot, for the live view and `monitor --once`.
 * Plain lines; the live view adds the ANSI screen handling around it.
 * Every string of the snapshot came from the server (query text, user,
 * database and application names): control characters are escaped first,
 * so a query cannot clear the screen or retitle the window.
 */
import { terminalSafe } from '../text/terminal-text.js';
import { formatDuration } from './duration.js';
import type { MonitorSnapshot } from './snapshot.js';

export interface FormatSnapshotOptions {
  /** Shown in the title: where the snapshot comes from (never with credentials). */
  label?: string;
  /** Cut every line to this many characters (the terminal width). Default: no cut. */
  width?: number;
  /** A footer line, e.g. the refresh interval and how to quit. */
  footer?: string;
}

/** `1.5 kB`, `7.6 MB`: decimal units, as pg_size_pretty does not (it uses 1024 but says kB). */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'n/a';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const counts = (entries: Iterable<readonly [string, number]>): string =>
  [...entries].map(([name, n]) => `${name} ${n}`).join(' · ') || 'none';

function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

const who = (user: string | null, database: string | null): string => `${user ?? '?'}@${database ?? '?'}`;
const tlsMark = (ssl: boolean | null): string => (ssl === null ? '' : ssl ? 'tls' : 'no-tls');

export function formatSnapshot(raw: MonitorSnapshot, options: FormatSnapshotOptions = {}): string {
  const snapshot = terminalSafe(raw);
  const { connections: c, longRunning, idleInTransaction, slowQueries } = snapshot;
  const lines: string[] = [];
  const title = ['pgwarden monitor', options.label, `PostgreSQL ${snapshot.server.version}`]
    .filter(Boolean)
    .join(' — ');
  lines.push(`${title}   ${snapshot.takenAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`);
  if (snapshot.server.inRecovery) lines.push('(standby: in recovery)');
  lines.push('');

  const percent = Math.round(c.usedShare * 1000) / 10;
  lines.push(`Connections   ${c.total} of ${c.max} max_connections (${percent}%)`);
  lines.push(`  by state    ${counts(Object.entries(c.byState).sort((a, b) => b[1] - a[1]))}`);
  lines.push(`  by user     ${counts(c.byUser.map((u) => [u.user, u.count] as const))}`);
  const tls = c.byTls;
  const versions = Object.entries(tls.versions);
  lines.push(
    `  by TLS      tls ${tls.tls} · no tls ${tls.plain} · unix socket ${tls.local}${tls.unknown ? ` · not visible ${tls.unknown}` : ''}${versions.length ? `   (${counts(versions)})` : ''}`,
  );
  lines.push('');

  lines.push(`Long-running queries (> ${formatDuration(longRunning.thresholdMs)}): ${longRunning.count}`);
  lines.push(
    ...table(
      longRunning.queries.map((q) => [
        `  pid ${q.pid}`,
        who(q.user, q.database),
        formatDuration(q.durationMs),
        tlsMark(q.ssl),
        q.waitEvent ?? '',
        q.query ?? '',
      ]),
    ),
  );
  lines.push(`Idle in transaction: ${idleInTransaction.count}`);
  lines.push(
    ...table(
      idleInTransaction.sessions.map((s) => [
        `  pid ${s.pid}`,
        who(s.user, s.database),
        `idle ${formatDuration(s.idleMs)}`,
        `tx ${formatDuration(s.transactionMs)}`,
        s.aborted ? 'aborted' : '',
        s.query ?? '',
      ]),
    ),
  );
  lines.push('');

  if (slowQueries.available) {
    lines.push(`Slow queries (pg_stat_statements ${slowQueries.extensionVersion}, by mean time)`);
    if (slowQueries.statements.length === 0) lines.push('  none recorded yet');
    lines.push(
      ...table(
        slowQueries.statements.map((s) => [
          `  mean ${formatDuration(s.meanMs)}`,
          `max ${formatDuration(s.maxMs)}`,
          `calls ${s.calls}`,
          who(s.user, s.database),
          s.query ?? '',
        ]),
      ),
    );
  } else {
    lines.push('Slow queries: unavailable', `  hint: ${slowQueries.hint}`);
  }
  lines.push('');

  lines.push(
    ...table([
      ['Databases', 'size', 'backends', 'commits', 'rollbacks', 'deadlocks', 'temp files', 'temp bytes'],
      ...snapshot.databases.map((d) => [
        `  ${d.name}`,
        formatBytes(d.sizeBytes),
        String(d.backends),
        String(d.commits),
        String(d.rollbacks),
        String(d.deadlocks),
        String(d.tempFiles),
        formatBytes(d.tempBytes),
      ]),
    ]),
  );
  for (const hint of snapshot.hints) {
    if (slowQueries.available || hint !== slowQueries.hint) lines.push('', `hint: ${hint}`);
  }
  if (options.footer) lines.push('', options.footer);
  const width = options.width;
  const cut =
    width && width > 10 ? lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)) : lines;
  return `${cut.join('\n')}\n`;
}
