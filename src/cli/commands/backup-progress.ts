/**
 * The progress line of `pgwarden backup` on a terminal: operation, phase, a
 * bar with the percentage (marked `~` when the total is an estimate),
 * amounts, rate, ETA and elapsed time. With --json the reports are printed
 * as they are instead.
 */
import type { BackupProgress } from '../../backup/index.js';

const KIB = 1024;
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= KIB && unit < units.length - 1) {
    value /= KIB;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** The total is an estimate (create's pg_table_size) and the phase still runs. */
function estimated(p: BackupProgress): boolean {
  return !p.done && p.totalBytes === undefined && p.totalTables === undefined;
}

/** One progress line: operation, phase, bar and percentage (`~` when estimated), amounts, rate, ETA, elapsed. */
export function formatProgress(p: BackupProgress): string {
  const bar =
    p.percent === undefined
      ? ''
      : `[${'#'.repeat(Math.round(p.percent / 5)).padEnd(20, '.')}] ${estimated(p) ? '~' : ''}${p.percent.toFixed(0)}% `;
  const phase = p.phase === 'post-data' ? 'post-data (indexes, constraints)' : p.phase;
  let amount: string;
  if (p.totalTables !== undefined) amount = `${p.tables ?? 0}/${p.totalTables} tables`;
  else {
    const total = p.totalBytes ?? p.estimatedTotalBytes;
    const of =
      total === undefined || p.phase === 'post-data'
        ? ''
        : ` of ${estimated(p) ? '~' : ''}${formatBytes(total)}`;
    const written = p.writtenBytes === undefined ? '' : ` → ${formatBytes(p.writtenBytes)}`;
    amount = `${formatBytes(p.bytes)}${of}${written}  ${formatBytes(p.bytesPerSecond)}/s`;
  }
  const eta = p.etaMs === undefined || p.done ? '' : `  ETA ${formatDuration(p.etaMs)}`;
  return `  ${p.operation} ${phase} ${bar}${amount}${eta}  ${formatDuration(p.elapsedMs)}`;
}
