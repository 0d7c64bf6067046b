/**
 * `pgwarden backup list`: reads the manifests of a directory (no key
 * needed; nothing here is authenticated) and reports what else lies there:
 * backup files without a manifest, manifests that do not parse, leftovers
 * of interrupted runs.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PgwardenError } from '../errors.js';
import { ensureBackupDir, TEMP_SUFFIX } from './backup-dir.js';
import { BACKUP_FILE_SUFFIX, MANIFEST_SUFFIX } from './format/constants.js';
import { readManifest, type BackupManifest } from './manifest.js';

export interface BackupListEntry {
  readonly id: string;
  readonly database: string;
  readonly createdAt: string;
  /** The backup file's size, from the manifest. */
  readonly sizeBytes: number;
  readonly retentionClass: string;
  readonly expiresAt: string;
  readonly keyId: string;
  /** The last verification, if any; `authenticated` false when it was recorded without the key. */
  readonly verified: { level: number; ok: boolean; at: string; authenticated: boolean } | null;
  /** `ok`, or `file-missing` / `size-mismatch` when the backup file does not match the manifest's size. */
  readonly status: 'ok' | 'file-missing' | 'size-mismatch';
  readonly manifest: BackupManifest;
}

export interface ListProblem {
  readonly name: string;
  readonly kind: 'manifest-invalid' | 'orphan-file' | 'temp-file';
  readonly detail: string;
}

export interface BackupList {
  readonly dir: string;
  /** Newest first. */
  readonly backups: readonly BackupListEntry[];
  readonly problems: readonly ListProblem[];
}

export function listBackups(dir: string): BackupList {
  const path = ensureBackupDir(dir, false);
  const names = readdirSync(path).sort();
  const backups: BackupListEntry[] = [];
  const problems: ListProblem[] = [];
  const described = new Set<string>();
  for (const name of names) {
    if (!name.endsWith(MANIFEST_SUFFIX) || name.startsWith('.')) continue;
    try {
      const manifest = readManifest(join(path, name));
      described.add(manifest.file);
      let status: BackupListEntry['status'] = 'ok';
      try {
        if (statSync(join(path, manifest.file)).size !== manifest.sizes.file) status = 'size-mismatch';
      } catch {
        status = 'file-missing';
      }
      const v = manifest.verification;
      backups.push({
        id: manifest.id,
        database: manifest.database,
        createdAt: manifest.createdAt,
        sizeBytes: manifest.sizes.file,
        retentionClass: manifest.retention.class,
        expiresAt: manifest.retention.expiresAt,
        keyId: manifest.key.id,
        verified: v ? { level: v.level, ok: v.ok, at: v.at, authenticated: v.hmac !== null } : null,
        status,
        manifest,
      });
    } catch (error) {
      problems.push({
        name,
        kind: 'manifest-invalid',
        detail: error instanceof PgwardenError ? `${error.code}: ${error.message}` : String(error),
      });
    }
  }
  for (const name of names) {
    if (name.endsWith(TEMP_SUFFIX)) {
      problems.push({ name, kind: 'temp-file', detail: 'a backup in progress, or left by a killed run' });
    } else if (name.endsWith(BACKUP_FILE_SUFFIX) && !described.has(name)) {
      problems.push({ name, kind: 'orphan-file', detail: 'no manifest describes this backup file' });
    }
  }
  backups.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  return { dir: path, backups, problems };
}
