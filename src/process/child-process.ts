/**
 * The one door to `node:child_process`: every program pgwarden starts
 * (pg_dump, pg_restore, their `--version` probes, `pg_config`, and the test
 * harness's initdb and postgres) gets an allow-listed environment, never a
 * copy of ours. A parent may hold VAULT_TOKEN, AWS keys, PGPASSWORD or
 * PGWARDEN_STORE_PASSPHRASE; a child inherits only what locates programs and
 * libraries and formats text (PATH, HOME, TMPDIR, TZ, locale), plus the
 * variables its caller sets for it. /proc/<pid>/environ is readable by the
 * same user for the child's whole life, and a child's own children inherit
 * it again, so what is not passed cannot leak.
 *
 * A test (child-process.test.ts) fails when another file imports
 * node:child_process.
 */
import {
  execFileSync as nodeExecFileSync,
  spawn as nodeSpawn,
  spawnSync as nodeSpawnSync,
  type ChildProcess,
  type ExecFileSyncOptionsWithStringEncoding,
  type SpawnOptions,
  type SpawnSyncOptions,
  type SpawnSyncReturns,
} from 'node:child_process';
import type { Env } from '../config/env-source.js';

/**
 * Inherited by every child. HOME: libpq reads `~/.postgresql/` defaults
 * (root.crt, postgresql.crt). LD_LIBRARY_PATH: client tools installed outside
 * the system library path find their libpq through it.
 */
const INHERITED = new Set(['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LANGUAGE', 'LD_LIBRARY_PATH']);
const INHERITED_PREFIX = 'LC_';

export interface ChildEnvOptions {
  /** Where the inherited variables are read from. Default `process.env`. */
  readonly inherit?: Env | undefined;
  /** Variables set for this child; they win over inherited ones, `undefined` removes one. */
  readonly set?: Readonly<Record<string, string | undefined>> | undefined;
}

/** Whether a variable of the parent may reach a child. */
export function isInheritable(name: string): boolean {
  return INHERITED.has(name) || name.startsWith(INHERITED_PREFIX);
}

/** The environment of a child: the allow-listed variables of `inherit`, then `set`. */
export function childEnv(options: ChildEnvOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(options.inherit ?? process.env)) {
    if (value !== undefined && isInheritable(key)) env[key] = value;
  }
  for (const [key, value] of Object.entries(options.set ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

type Without<T> = Omit<T, 'env'> & ChildEnvOptions;

export function spawnChild(
  command: string,
  args: readonly string[],
  options: Without<SpawnOptions>,
): ChildProcess {
  const { inherit, set, ...rest } = options;
  return nodeSpawn(command, args, { ...rest, env: childEnv({ inherit, set }) });
}

export function spawnSyncChild(
  command: string,
  args: readonly string[],
  options: Without<SpawnSyncOptions>,
): SpawnSyncReturns<string | Buffer> {
  const { inherit, set, ...rest } = options;
  return nodeSpawnSync(command, args, { ...rest, env: childEnv({ inherit, set }) });
}

export function execFileSyncChild(
  file: string,
  args: readonly string[],
  options: Without<ExecFileSyncOptionsWithStringEncoding>,
): string {
  const { inherit, set, ...rest } = options;
  return nodeExecFileSync(file, args, { ...rest, env: childEnv({ inherit, set }) });
}
