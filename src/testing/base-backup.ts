import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUPERUSER } from './admin-connection.js';
import { HarnessError } from './harness-error.js';
import { fileSize, readFrom, tail } from './log-file.js';
import type { OsUser } from './os-user.js';
import type { PgBinaries } from './pg-binaries.js';
import { ServerProcess } from './server-process.js';

export interface BaseBackupOptions {
  binaries: PgBinaries;
  primary: { socketDir: string; port: number };
  dataDir: string;
  cwd: string;
  logFile: string;
  owner: OsUser | undefined;
  timeoutMs?: number;
}

/**
 * Copies a running primary into `dataDir` with `pg_basebackup -R -X stream`:
 * the copy starts as a hot standby that streams from the primary's socket.
 *
 * @throws HarnessError (step `initdb`) with the tail of its output.
 */
export async function runBaseBackup(options: BaseBackupOptions): Promise<void> {
  const args = [
    '-h',
    options.primary.socketDir,
    '-p',
    String(options.primary.port),
    '-U',
    SUPERUSER,
    '-D',
    options.dataDir,
    '-R',
    '-X',
    'stream',
    '--checkpoint=fast',
    '--no-sync',
  ];
  const offset = fileSize(options.logFile);
  appendFileSync(options.logFile, `--- pgwarden harness: pg_basebackup ${args.join(' ')}\n`);
  const child = await ServerProcess.spawn({
    command: join(options.binaries.binDir, 'pg_basebackup'),
    args,
    cwd: options.cwd,
    logFile: options.logFile,
    owner: options.owner,
    step: 'initdb',
  });
  const status = await child.waitForExit(options.timeoutMs ?? 120_000);
  if (!status) child.signal('SIGKILL');
  if (status?.code !== 0) {
    throw new HarnessError('initdb', `pg_basebackup failed:\n${tail(readFrom(options.logFile, offset))}`);
  }
}
