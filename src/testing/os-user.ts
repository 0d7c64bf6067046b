import { readFileSync } from 'node:fs';
import { spawnSyncChild } from '../process/child-process.js';
import { HarnessError } from './harness-error.js';

/** An operating-system account the server processes run as. */
export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

const SERVER_USER = 'postgres';

/** True when this process runs as root (always false where uids do not exist). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Looks `name` up in a passwd(5) file; `undefined` when absent or unreadable. */
export function readPasswdUser(name: string, passwdPath = '/etc/passwd'): OsUser | undefined {
  let text: string;
  try {
    text = readFileSync(passwdPath, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined && /^\d+$/.test(uid) && /^\d+$/.test(gid)) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  return undefined;
}

/**
 * The account initdb and postgres must run as, or `undefined` to run them as
 * the current user.
 *
 * Both binaries refuse to run as root, so as root they run as the `postgres`
 * OS user, which is created (system account, no home, no login shell) when
 * missing: `pgwarden demo` has to work on a fresh machine too.
 *
 * @throws HarnessError (step `os-user`) when the account cannot be created.
 */
export function resolveServerUser(): OsUser | undefined {
  if (!isRoot()) return undefined;
  const existing = readPasswdUser(SERVER_USER);
  if (existing) return existing;
  const result = spawnSyncChild(
    'useradd',
    ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_USER],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Two harnesses starting at once may both try; the loser's "already exists" is fine.
  const created = readPasswdUser(SERVER_USER);
  if (created) return created;
  const reason = result.error
    ? result.error.message
    : String(result.stderr).trim() || `exit status ${result.status}`;
  throw new HarnessError(
    'os-user',
    `Running as root, so PostgreSQL must run as the "${SERVER_USER}" OS user, which does not exist and could not be created (useradd: ${reason}). ` +
      `Create it (useradd --system ${SERVER_USER}) or run as an unprivileged user.`,
    { cause: result.error },
  );
}
