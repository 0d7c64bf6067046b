import { existsSync, readFileSync } from 'node:fs';
import { spawnSyncChild } from '../process/child-process.js';
import { join } from 'node:path';

const PROC_SHM = '/proc/sysvipc/shm';

/**
 * Releases the System V shared-memory segment of a postmaster that died
 * without shutting down (SIGKILL, crash).
 *
 * PostgreSQL keeps a small SysV segment as an interlock and only removes it on
 * a clean shutdown or when the next postmaster starts on the same data
 * directory. A harness that kills a cluster and then deletes its directory
 * would leak one segment per cluster until the next reboot, and a long-lived
 * CI machine eventually hits the kernel's segment limit (shmmni).
 *
 * Best effort and Linux only: it does nothing when postmaster.pid is gone
 * (clean shutdown), when /proc/sysvipc is missing, or when the segment id now
 * belongs to another key (the id was reused).
 */
export function releaseOrphanedSharedMemory(dataDir: string): void {
  let pidFile: string;
  try {
    pidFile = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return;
  }
  // Line 7 of postmaster.pid is "<shm key> <shm id>".
  const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(pidFile.split('\n')[6] ?? '');
  if (!match || !existsSync(PROC_SHM)) return;
  const [, key, id] = match;
  const owned = readFileSync(PROC_SHM, 'utf8')
    .split('\n')
    .some((row) => {
      const [rowKey, rowId] = row.trim().split(/\s+/);
      return rowKey === key && rowId === id;
    });
  // IPC_RMID only marks the segment: it disappears once the last dying backend detaches.
  if (owned && id) spawnSyncChild('ipcrm', ['-m', id], { stdio: 'ignore', timeout: 5_000 });
}
