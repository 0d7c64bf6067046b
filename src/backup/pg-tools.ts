/**
 * Finds pg_dump and pg_restore of a suitable major version: pg_dump must be
 * at least the server's major (it refuses older), pg_restore at least the
 * major that wrote the archive. Order: --pg-bin, PG_BIN, the Debian/Ubuntu
 * directory of the wanted major, higher majors there, `pg_config --bindir`
 * (asked only when those hold none), then PATH.
 */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import type { Env } from '../config/env-source.js';
import { BackupError } from './backup-error.js';
import { isExecutable } from '../fs/executable.js';
import { execFileSyncChild } from '../process/child-process.js';
import { findStdbuf, stdbufArgs } from './stdio-buffer.js';

export type PgToolName = 'pg_dump' | 'pg_restore';

export interface PgTool {
  readonly name: PgToolName;
  readonly path: string;
  /** e.g. `15.18`. */
  readonly version: string;
  readonly major: number;
  /**
   * coreutils stdbuf, when it ran this tool: the archive's stream then gets
   * a 1 MiB buffer (stdio-buffer.ts). Spawn with {@link toolCommand}.
   */
  readonly stdbuf?: string;
}

/**
 * The command that runs `tool` with `args`, with a 1 MiB buffer on `stream`
 * (the one the archive moves through) where stdbuf can give it one.
 */
export function toolCommand(
  tool: PgTool,
  args: readonly string[],
  stream: 'stdin' | 'stdout',
): { path: string; args: string[] } {
  return tool.stdbuf
    ? { path: tool.stdbuf, args: [...stdbufArgs(stream, tool.path), ...args] }
    : { path: tool.path, args: [...args] };
}

export interface FindPgToolOptions {
  /** Directory holding the tool (the `--pg-bin` flag). Must contain it when given. */
  pgBin?: string;
  /** Lowest acceptable major version. */
  minMajor?: number;
  /** Preferred major (the server's); searched first. */
  preferMajor?: number;
  env?: Env;
  /**
   * coreutils stdbuf to run the tool through (stdio-buffer.ts). Default: the
   * system's (`/usr/bin/stdbuf`, `/bin/stdbuf`); `false`: never.
   */
  stdbuf?: string | false;
}

const DEBIAN_BASE = '/usr/lib/postgresql';
const debianBin = (major: number) => join(DEBIAN_BASE, String(major), 'bin');

interface ToolFacts {
  version: string;
  major: number;
  stdbuf?: string;
}

const probes = new Map<string, ToolFacts | undefined>();

/** `pg_dump --version` → `pg_dump (PostgreSQL) 15.18 (Debian …)`. */
function versionOf(command: string, args: string[]): { version: string; major: number } | undefined {
  try {
    // Nothing but PATH and locale: the probe connects nowhere.
    const out = execFileSyncChild(command, args, {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const match = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)*)/.exec(out);
    if (match?.[1] && match[2]) return { version: match[1], major: Number(match[2]) };
  } catch {
    // did not run
  }
  return undefined;
}

/**
 * The tool's version, probed once per path; run through `stdbuf` when one
 * is given, which proves that stdbuf works with this tool (else it is not used).
 */
function toolVersion(path: string, stdbuf: string | undefined): ToolFacts | undefined {
  const key = `${stdbuf ?? ''}\0${path}`;
  if (!probes.has(key)) {
    const buffered = stdbuf ? versionOf(stdbuf, [...stdbufArgs('stdout', path), '--version']) : undefined;
    probes.set(key, buffered ? { ...buffered, stdbuf: stdbuf! } : versionOf(path, ['--version']));
  }
  return probes.get(key);
}

/** Directories to look in, in order; `pg_config` runs only if the ones before it held nothing usable. */
function* candidateDirs(options: FindPgToolOptions): Generator<string> {
  if (existsSync(DEBIAN_BASE)) {
    const majors = readdirSync(DEBIAN_BASE)
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .sort((a, b) => b - a);
    if (options.preferMajor !== undefined && majors.includes(options.preferMajor))
      yield debianBin(options.preferMajor);
    for (const major of majors) yield debianBin(major);
  }
  try {
    const out = execFileSyncChild('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (out) yield out;
  } catch {
    // no pg_config
  }
  yield* ((options.env ?? process.env).PATH ?? '').split(delimiter).filter(Boolean);
}

export function findPgTool(name: PgToolName, options: FindPgToolOptions = {}): PgTool {
  const env = options.env ?? process.env;
  const minMajor = options.minMajor ?? 0;
  const explicit = options.pgBin ?? (env.PG_BIN || undefined);
  const option = options.pgBin !== undefined ? '--pg-bin' : 'PG_BIN';
  const stdbuf = options.stdbuf === false ? undefined : (options.stdbuf ?? findStdbuf());
  const check = (path: string): PgTool | string => {
    const version = toolVersion(path, stdbuf);
    if (!version) return `${path} --version did not run`;
    if (version.major < minMajor) return `${path} is version ${version.version}, older than ${minMajor}`;
    return { name, path, ...version };
  };
  if (explicit !== undefined) {
    const path = join(resolve(explicit), name);
    const result = isExecutable(path) ? check(path) : `${path} does not exist or is not executable`;
    if (typeof result !== 'string') return result;
    throw new BackupError('PGW_BACKUP_TOOL_MISSING', `${option}: ${result}.`, {
      option,
      fix: `Point ${option} at the bin directory of PostgreSQL ${minMajor || ''} client tools${minMajor ? ' or newer' : ''}.`,
    });
  }
  const rejected: string[] = [];
  const tried = new Set<string>();
  for (const dir of candidateDirs(options)) {
    if (tried.has(dir)) continue;
    tried.add(dir);
    const path = join(dir, name);
    if (!isExecutable(path)) continue;
    const result = check(path);
    if (typeof result !== 'string') return result;
    rejected.push(result);
  }
  throw new BackupError(
    'PGW_BACKUP_TOOL_MISSING',
    `No usable ${name}${minMajor ? ` of PostgreSQL ${minMajor} or newer` : ''} was found${rejected.length ? ` (${rejected.join('; ')})` : ''}.`,
    {
      option: '--pg-bin',
      fix: `Install the client tools (Debian/Ubuntu: apt-get install postgresql-client-${minMajor || '<major>'}) or pass --pg-bin / set PG_BIN to their bin directory.`,
    },
  );
}
