/**
 * libpq's password file (`PGPASSFILE`, else `~/.pgpass`), read as libpq reads
 * it (fe-connect.c, passwordFromFile), so a password every psql and pg_dump on
 * the machine already uses works here too:
 * - `hostname:port:database:username:password` lines; `#` starts a comment line;
 * - a field that is exactly `*` matches anything (an escaped `\*` is a literal star);
 * - `\` escapes `:` and `\` (and any other character, as libpq's loop does);
 * - the password ends at the first unescaped `:`: later fields are ignored;
 * - the first matching line wins;
 * - a unix socket in the default directory is matched as `localhost`, any
 *   other socket directory by its path;
 * - the file is ignored, with a warning, unless it is a regular file that
 *   group and others cannot access (0600 or less); a missing file is silent.
 */
import { closeSync, fstatSync, openSync, readFileSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConfigWarning } from './layer.js';

export interface PgpassTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

export interface PgpassLookup {
  readonly password: string | undefined;
  /** The file read, for `sources.password` (never the password). */
  readonly file: string | undefined;
  readonly warnings: readonly ConfigWarning[];
}

/**
 * libpq's DEFAULT_PGSOCKET_DIR is a build setting: `/tmp` upstream,
 * `/var/run/postgresql` on Debian, Ubuntu and Red Hat builds (`/run/postgresql`
 * is the same directory). A socket there is matched as `localhost`, as the
 * psql on the same machine would match it.
 */
const DEFAULT_SOCKET_DIRS = new Set(['/tmp', '/var/run/postgresql', '/run/postgresql']);

/**
 * Whether the field starting at `start` matches `value`, as libpq's
 * pwdfMatchesString: the index after the field's terminating colon, or -1.
 */
function matchField(line: string, start: number, value: string): number {
  if (line[start] === '*' && line[start + 1] === ':') return start + 2;
  let i = start;
  let j = 0;
  while (i < line.length) {
    let escaped = false;
    if (line[i] === '\\') {
      i++;
      escaped = true;
    }
    if (!escaped && line[i] === ':' && j === value.length) return i + 1;
    if (j === value.length) return -1;
    // An unescaped colon may match a colon of the value (an IPv6 address), as in libpq.
    if (i < line.length && line[i] === value[j]) {
      i++;
      j++;
    } else {
      return -1;
    }
  }
  return -1; // a field must end with a colon: a line of four fields matches nothing
}

/** The password field from `start`: de-escaped, up to the first unescaped colon. */
function passwordField(line: string, start: number): string {
  let out = '';
  for (let i = start; i < line.length && line[i] !== ':'; i++) {
    if (line[i] === '\\' && i + 1 < line.length) i++;
    out += line[i];
  }
  return out;
}

/** The password file libpq would read for this environment. */
export function pgpassPath(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (env.PGPASSFILE) return env.PGPASSFILE;
  // An environment passed as an option is the whole environment: no HOME, no default file.
  const home = env.HOME || (env === process.env ? homedir() : undefined);
  return home ? join(home, '.pgpass') : undefined;
}

/**
 * The password for `target` from the password file, or undefined when there
 * is no file, no matching line, or the file is unsafe (then with a warning,
 * as libpq prints one).
 */
export function lookupPgpass(
  target: PgpassTarget,
  env: Readonly<Record<string, string | undefined>>,
): PgpassLookup {
  const file = pgpassPath(env);
  const none = (warnings: ConfigWarning[] = []): PgpassLookup => ({ password: undefined, file, warnings });
  if (!file) return none();
  let fd: number;
  try {
    // Symlinks are followed, as libpq's stat() follows them (dotfile managers
    // link ~/.pgpass); what is judged below is the file finally opened.
    // O_NONBLOCK: a FIFO in its place must be refused, not wait for a writer.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    // libpq silently skips a missing or unreadable file.
    return none();
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      return none([
        {
          code: 'PGW_CONFIG_INVALID',
          option: 'PGPASSFILE',
          message: `The password file ${file} is not a plain file and is ignored, as libpq ignores it.`,
        },
      ]);
    }
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      return none([
        {
          code: 'PGW_CONFIG_INVALID',
          option: 'PGPASSFILE',
          message: `The password file ${file} is readable by group or others and is ignored, as libpq ignores it; chmod 600 it.`,
        },
      ]);
    }
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const host = DEFAULT_SOCKET_DIRS.has(target.host) ? 'localhost' : target.host;
  const wanted = [host, String(target.port), target.database, target.user];
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#')) continue;
    const line = raw.replace(/[\r\n]+$/, '');
    if (line === '') continue;
    let at = 0;
    for (const value of wanted) {
      at = matchField(line, at, value);
      if (at < 0) break;
    }
    if (at >= 0) return { password: passwordField(line, at), file, warnings: [] };
  }
  return none();
}
