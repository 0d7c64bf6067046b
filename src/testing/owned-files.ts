import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import type { OsUser } from './os-user.js';

/**
 * File helpers that hand what they create to the server's OS user.
 *
 * When the harness runs as root the server runs as `postgres`, which must be
 * able to read its configuration and must own its key file (PostgreSQL
 * refuses a key readable by others or owned by someone else).
 */

/** Gives `path` to `owner`; a no-op when the server runs as the current user. */
export function chownTo(path: string, owner: OsUser | undefined): void {
  if (owner) chownSync(path, owner.uid, owner.gid);
}

/** Creates (or replaces the content of) a file with exactly `mode`, owned by `owner`. */
export function writeOwnedFile(path: string, content: string, owner: OsUser | undefined, mode = 0o600): void {
  writeFileSync(path, content, { mode });
  // `mode` above only applies when the file is created.
  chmodSync(path, mode);
  chownTo(path, owner);
}

/** Creates a directory with mode 0700, owned by `owner`. */
export function makeOwnedDir(path: string, owner: OsUser | undefined): void {
  mkdirSync(path, { mode: 0o700 });
  chownTo(path, owner);
}
