/**
 * `pgwarden backup cleanup`: applies the retention rules (retention.ts) to a
 * directory. A dry run unless `confirm` is set; deleting takes the
 * directory's lock, so it never races a running create. Backup files without
 * a valid manifest are reported, never deleted; temporary files of killed
 * runs are deleted (they hold only ciphertext) when confirmed.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ioError } from './backup-error.js';
import { listBackups, type ListProblem } from './list.js';
import { acquireLock } from './lock.js';
import { checkInteger } from './options.js';
import { planRetention, type RetentionDecision } from './retention.js';

export interface CleanupOptions {
  dir: string;
  /** Delete backups older than this many days (overrides the expiry recorded at creation). */
  keepDays?: number;
  /** Keep the newest N of each database and retention class. Default 1. */
  keepLast?: number;
  /** Keep the newest N verified backups (an authenticated passing record) of each database and class. Default 1. */
  minVerified?: number;
  /** Delete for real. Default false: report only. */
  confirm?: boolean;
  /** Only this retention class. Default: all. */
  retentionClass?: string;
  /** The current time (tests). */
  now?: Date;
}

export interface CleanupResult {
  readonly dir: string;
  readonly dryRun: boolean;
  readonly decisions: readonly (RetentionDecision & {
    database: string;
    createdAt: string;
    sizeBytes: number;
  })[];
  /** Ids deleted (empty on a dry run). */
  readonly deleted: readonly string[];
  /** Leftover temporary files removed (or that would be). */
  readonly staleTempFiles: readonly string[];
  /** Files cleanup does not touch. */
  readonly untouched: readonly ListProblem[];
  readonly freedBytes: number;
}

export function cleanupBackups(options: CleanupOptions): CleanupResult {
  if (options.keepDays !== undefined) checkInteger(options.keepDays, '--keep-days', 0, 36_500);
  const keepLast = checkInteger(options.keepLast ?? 1, '--keep-last', 0, 100_000);
  const minVerified = checkInteger(options.minVerified ?? 1, '--min-verified', 0, 100_000);
  const confirm = options.confirm ?? false;
  // A dry run reads only, so it may run beside a create; deleting must not.
  const lock = confirm ? acquireLock(options.dir, 'cleanup') : undefined;
  try {
    const list = listBackups(options.dir);
    const entries = list.backups.filter(
      (b) => options.retentionClass === undefined || b.retentionClass === options.retentionClass,
    );
    const decisions = planRetention(
      entries.map((b) => ({
        id: b.id,
        database: b.database,
        retentionClass: b.retentionClass,
        createdAt: new Date(b.createdAt),
        expiresAt: new Date(b.expiresAt),
        // Only a result recorded with the key counts: anyone can write an unauthenticated one.
        verified: b.verified?.ok === true && b.verified.authenticated && b.status === 'ok',
      })),
      { now: options.now ?? new Date(), keepDays: options.keepDays, keepLast, minVerified },
    );
    const byId = new Map(entries.map((b) => [b.id, b]));
    const deleted: string[] = [];
    let freedBytes = 0;
    for (const decision of decisions) {
      if (decision.action !== 'delete') continue;
      const entry = byId.get(decision.id)!;
      freedBytes += entry.sizeBytes;
      if (!confirm) continue;
      try {
        rmSync(join(list.dir, entry.manifest.file), { force: true });
        rmSync(join(list.dir, `${entry.id}.manifest.json`), { force: true });
      } catch (error) {
        throw ioError(error, `deleting backup ${entry.id}`);
      }
      deleted.push(entry.id);
    }
    // With the lock held no create is running, so every temporary file is a leftover.
    const staleTempFiles = list.problems.filter((p) => p.kind === 'temp-file').map((p) => p.name);
    if (confirm) for (const name of staleTempFiles) rmSync(join(list.dir, name), { force: true });
    return {
      dir: list.dir,
      dryRun: !confirm,
      decisions: decisions.map((d) => {
        const entry = byId.get(d.id)!;
        return { ...d, database: entry.database, createdAt: entry.createdAt, sizeBytes: entry.sizeBytes };
      }),
      deleted,
      staleTempFiles,
      untouched: list.problems.filter((p) => p.kind !== 'temp-file'),
      freedBytes,
    };
  } finally {
    lock?.release();
  }
}
