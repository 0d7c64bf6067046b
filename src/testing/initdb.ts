import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUPERUSER } from './admin-connection.js';
import { HarnessError } from './harness-error.js';
import { fileSize, readFrom, tail } from './log-file.js';
import type { OsUser } from './os-user.js';
import type { PgBinaries } from './pg-binaries.js';
import { ServerProcess } from './server-process.js';

export interface InitdbOptions {
  binaries: PgBinaries;
  dataDir: string;
  /** Working directory (reachable by `owner`). */
  cwd: string;
  logFile: string;
  owner: OsUser | undefined;
  /** `initdb -k`. */
  dataChecksums: boolean;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * Creates a cluster in `dataDir`: superuser `postgres`, trust authentication
 * (the harness replaces pg_hba.conf right after), UTF8 without locale so
 * sorting and messages do not depend on the machine, and `-N` (no fsync)
 * because the cluster is thrown away.
 *
 * @throws HarnessError (step `initdb`) with the tail of its output.
 */
export async function runInitdb(options: InitdbOptions): Promise<void> {
  const args = ['-D', options.dataDir, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--no-locale', '-N'];
  if (options.dataChecksums) args.push('-k');
  const offset = fileSize(options.logFile);
  appendFileSync(options.logFile, `--- pgwarden harness: initdb ${args.join(' ')}\n`);
  const initdb = await ServerProcess.spawn({
    command: join(options.binaries.binDir, 'initdb'),
    args,
    cwd: options.cwd,
    logFile: options.logFile,
    owner: options.owner,
    step: 'initdb',
  });
  const status = await initdb.waitForExit(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  if (!status) initdb.signal('SIGKILL');
  if (status?.code !== 0) {
    const how = !status
      ? 'timed out'
      : status.signal
        ? `was killed by ${status.signal}`
        : `exited with ${status.code}`;
    throw new HarnessError('initdb', `initdb ${how}:\n${tail(readFrom(options.logFile, offset))}`);
  }
}
