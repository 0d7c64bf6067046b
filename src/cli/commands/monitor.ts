import { CliUsageError, PgwardenError } from '../../errors.js';
import { createPool, type WardenPool } from '../../pool/pool.js';
import { redact, redactValue } from '../../redact/redactor.js';
import { terminalLine } from '../../text/terminal-text.js';
import { formatDuration, parseDuration } from '../../monitor/duration.js';
import { formatSnapshot } from '../../monitor/format-snapshot.js';
import { RESTORE_TERMINAL, runLiveView } from '../../monitor/live-view.js';
import { DEFAULT_LONG_QUERY_MS, takeSnapshot, type SnapshotOptions } from '../../monitor/snapshot.js';
import { connectionTarget } from '../connection-flags.js';
import { EXIT_OK } from '../exit-codes.js';

interface MonitorFlags {
  url?: string;
  profile?: string;
  interval?: string;
  once?: boolean;
  json?: boolean;
  longQuery?: string;
}

/** Below this the snapshot itself becomes a noticeable load on a busy server. */
const MIN_INTERVAL_MS = 200;

function durationFlag(value: string | undefined, fallback: number, option: string, min = 0): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms < min) {
    throw new CliUsageError(`${option} "${value}" is not a duration${min ? ` of at least ${min} ms` : ''}.`, {
      option,
      fix: 'Use a number with a unit: 500ms, 2s, 1m.',
    });
  }
  return ms;
}

/** `user@host:port/database`: where the numbers come from, without credentials. */
export function connectionLabel(pool: WardenPool): string {
  const { user, host, port, database } = pool.config;
  return `${user}@${host.includes(':') ? `[${host}]` : host}:${port}/${database}`;
}

export async function monitorCommand(flags: MonitorFlags): Promise<number> {
  const intervalMs = durationFlag(flags.interval, 2_000, '--interval', MIN_INTERVAL_MS);
  const snapshotOptions: SnapshotOptions = {
    longQueryMs: durationFlag(flags.longQuery, DEFAULT_LONG_QUERY_MS, '--long-query'),
  };
  const pool = await createPool({
    ...(await connectionTarget(flags)),
    // A monitoring tool reports on an insecure setup instead of refusing to look at it.
    purpose: 'admin',
    checkRole: false,
    min: 0,
    max: 1,
    // A snapshot takes milliseconds; this bounds one stuck behind a lock or a dying server.
    statementTimeoutMs: 30_000,
    applicationName: 'pgwarden-monitor',
  });
  const label = connectionLabel(pool);
  try {
    if (flags.once) {
      const snapshot = await takeSnapshot(pool, snapshotOptions);
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(redactValue(snapshot), null, 2)}\n`
          : formatSnapshot(snapshot, { label }),
      );
      return EXIT_OK;
    }
    const controller = new AbortController();
    const tty = !flags.json && process.stdout.isTTY === true;
    const stop = (): void => {
      if (!controller.signal.aborted) return controller.abort();
      // A second Ctrl-C while closing waits for nothing (a query may hang on a dead server).
      if (tty) process.stdout.write(RESTORE_TERMINAL);
      process.exit(130);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      await runLiveView({
        intervalMs,
        tty,
        out: process.stdout,
        signal: controller.signal,
        render: async (frame) => {
          const snapshot = await takeSnapshot(pool, snapshotOptions);
          if (flags.json) return `${JSON.stringify(redactValue(snapshot))}\n`;
          return formatSnapshot(snapshot, {
            label,
            ...(tty ? { width: process.stdout.columns } : {}),
            footer: `every ${formatDuration(intervalMs)} · frame ${frame} · Ctrl-C to quit`,
          });
        },
        renderError: (error) => {
          const coded = error instanceof PgwardenError ? error : undefined;
          // A server's error message may quote names it was given: escaped like the snapshot.
          const text = terminalLine(coded ? `[${coded.code}] ${coded.message}` : redact(String(error)));
          return flags.json
            ? `${JSON.stringify({ error: coded ? coded.toJSON() : { message: text } })}\n`
            : `pgwarden monitor — ${label}\n\n✗ ${text}\n\nretrying every ${formatDuration(intervalMs)} · Ctrl-C to quit\n`;
        },
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return EXIT_OK;
  } finally {
    await pool.close();
  }
}
