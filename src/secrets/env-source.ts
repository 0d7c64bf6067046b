import { backendError } from './backend-error.js';

/** An environment to read settings from: `process.env` or a plain object in tests. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/**
 * The value of `name`, or undefined when unset or empty. Empty counts as unset
 * because orchestrators (Compose, Helm) often render an unset value as `""`.
 */
export function readVar(env: EnvSource, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The first of `names` that is set, with the name it came from (for messages). */
export function firstVar(
  env: EnvSource,
  names: readonly string[],
): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = readVar(env, name);
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

/** The value of `name`; a `PGW_SECRET_CONFIG` error naming it when unset. */
export function requireVar(env: EnvSource, name: string, backend: string, purpose: string): string {
  const value = readVar(env, name);
  if (value === undefined) {
    throw backendError('PGW_SECRET_CONFIG', backend, `${name} is not set; it names ${purpose}.`, {
      option: name,
      fix: `Set ${name}.`,
    });
  }
  return value;
}

/** A TCP port from `name`, validated; undefined when unset. */
export function readPort(env: EnvSource, name: string, backend: string): number | undefined {
  const raw = readVar(env, name);
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
    throw backendError('PGW_SECRET_CONFIG', backend, `${name} is not a port number (1-65535).`, {
      option: name,
      fix: `Set ${name} to a number such as 5432.`,
    });
  }
  return port;
}
