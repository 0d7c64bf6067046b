/**
 * libpq's password file (`PGPASSFILE`, else `~/.pgpass`), read as libpq reads
 * it, so a password every psql and pg_dump on the machine already uses works
 * here too: `hostname:port:database:username:password` lines, `*` matching
 * anything, `\` escaping `:` and `\`, the first matching line winning, and
 * the file ignored (with a warning) unless it is a regular file that group
 * and others cannot read. A unix-socket host is matched as `localhost`.
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

/** Splits one line on unescaped colons; undefined for a line that is not five fields. */
function fields(line: string): string[] | undefined {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) {
      current += line[++i];
    } else if (ch === ':' && out.length < 4) {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out.length === 5 ? out : undefined;
}

function matches(pattern: string, value: string): boolean {
  return pattern === '*' || pattern === value;
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
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    // libpq silently skips a missing or unreadable file (and follows no symlink here: fail closed).
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
  const host = target.host.startsWith('/') ? 'localhost' : target.host;
  for (const raw of text.split(/\r?\n/)) {
    if (raw === '' || raw.startsWith('#')) continue;
    const parts = fields(raw);
    if (!parts) continue;
    const [h, p, d, u, password] = parts as [string, string, string, string, string];
    if (
      matches(h, host) &&
      matches(p, String(target.port)) &&
      matches(d, target.database) &&
      matches(u, target.user)
    ) {
      return { password, file, warnings: [] };
    }
  }
  return none();
}
