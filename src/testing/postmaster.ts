import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { withAdminClient } from './admin-connection.js';
import { readFrom } from './log-file.js';
import type { OsUser } from './os-user.js';
import type { PgBinaries } from './pg-binaries.js';
import { ServerProcess, type ExitStatus } from './server-process.js';

export interface SpawnPostmasterOptions {
  binaries: PgBinaries;
  dataDir: string;
  cwd: string;
  logFile: string;
  owner: OsUser | undefined;
  port: number;
}

/**
 * Runs `postgres -D <dataDir>` directly rather than through pg_ctl, so the
 * harness holds the postmaster's PID and can signal it (fast/immediate
 * shutdown, SIGKILL for resilience tests, SIGHUP for reloads).
 */
export function spawnPostmaster(options: SpawnPostmasterOptions): Promise<ServerProcess> {
  appendFileSync(options.logFile, `--- pgwarden harness: starting postgres on port ${options.port}\n`);
  return ServerProcess.spawn({
    command: join(options.binaries.binDir, 'postgres'),
    args: ['-D', options.dataDir],
    cwd: options.cwd,
    logFile: options.logFile,
    owner: options.owner,
    unref: true,
    step: 'start',
  });
}

/** Why a start attempt did not produce a ready server. */
export type StartFailure =
  /** Another process took the port between choosing and binding it. */
  | 'port-in-use'
  /** Processes of a killed predecessor still hold the data directory; they exit shortly. */
  | 'predecessor-alive'
  | 'exited'
  | 'timeout';

export type ReadyOutcome =
  | { readonly ready: true }
  | {
      readonly ready: false;
      readonly failure: StartFailure;
      readonly log: string;
      readonly status?: ExitStatus;
    };

const POLL_INTERVAL_MS = 50;

/**
 * Polls until the server accepts a superuser connection on its unix socket,
 * the process exits, or `timeoutMs` passes. Only log lines written since
 * `logOffset` (this start attempt) are used to explain a failure.
 */
export async function awaitReady(
  postmaster: ServerProcess,
  options: { socketDir: string; port: number; timeoutMs: number; logFile: string; logOffset: number },
): Promise<ReadyOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const status = postmaster.exitStatus;
    if (status) {
      const log = readFrom(options.logFile, options.logOffset);
      return { ready: false, failure: classifyExit(log), log, status };
    }
    if (await accepts(options.socketDir, options.port)) return { ready: true };
    if (Date.now() >= deadline) {
      return { ready: false, failure: 'timeout', log: readFrom(options.logFile, options.logOffset) };
    }
    await delay(POLL_INTERVAL_MS);
  }
}

function accepts(socketDir: string, port: number): Promise<boolean> {
  // "the database system is starting up" and a missing socket both mean: not yet.
  return withAdminClient(socketDir, port, async () => true).catch(() => false);
}

function classifyExit(log: string): StartFailure {
  if (/Address already in use/.test(log)) return 'port-in-use';
  if (/pre-existing shared memory block .* is still in use|lock file ".*" already exists/.test(log)) {
    return 'predecessor-alive';
  }
  return 'exited';
}
