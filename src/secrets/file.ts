import { resolve } from 'node:path';
import { Secret } from '../redact/secret.js';
import { backendError } from './backend-error.js';
import { firstVar, readVar, type EnvSource } from './env-source.js';
import { defaultSecretLogger, logSecretEvent, type SecretLogger } from './logger.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';
import {
  isWorldReadable,
  PERMISSION_BITS_MEANINGFUL,
  readSecretFile,
  trimTrailingNewlines,
} from './secret-file.js';

/** Settings of the `file` backend. */
export interface FileProviderSettings {
  /** The file holding the password, e.g. `/run/secrets/db_password`. Required. */
  passwordFile: string;
  /** A file holding the user name (Docker's `DB_USER_FILE`). Default: none. */
  userFile?: string | undefined;
  /** The user name when there is no user file. Default: none. */
  user?: string | undefined;
  /** Receives the world-readable warning. Default: {@link defaultSecretLogger}. */
  logger?: SecretLogger | undefined;
}

/**
 * Reads the `*_FILE` convention of Docker and Kubernetes secrets:
 * `DB_PASSWORD_FILE` (required), `DB_USER_FILE`, else `DB_USER`/`PGUSER`.
 */
export function fileSettingsFromEnv(env: EnvSource): FileProviderSettings {
  const passwordFile = readVar(env, 'DB_PASSWORD_FILE');
  if (passwordFile === undefined) {
    throw backendError(
      'PGW_SECRET_CONFIG',
      'file',
      'DB_PASSWORD_FILE is not set; it names the file that holds the password.',
      {
        option: 'DB_PASSWORD_FILE',
        fix: 'Set DB_PASSWORD_FILE, e.g. DB_PASSWORD_FILE=/run/secrets/db_password.',
      },
    );
  }
  return {
    passwordFile,
    userFile: readVar(env, 'DB_USER_FILE'),
    user: firstVar(env, ['DB_USER', 'PGUSER'])?.value,
  };
}

/**
 * The `file` backend. The files are read on every fetch, so a secret that the
 * orchestrator rotates in place is picked up at the next cache refresh.
 *
 * A world-readable file only produces a warning, unlike the .env file: the
 * kubelet mounts Secret volumes with mode 0644 unless `defaultMode` is set,
 * and the container (often one process, one user) is the boundary there.
 * Refusing would break the most common deployment for little gain, so the
 * warning names the fix (`defaultMode: 0400`, or `chmod 600`) instead.
 */
export function createFileProvider(settings: FileProviderSettings): SecretProvider {
  const passwordFile = resolve(settings.passwordFile);
  const userFile = settings.userFile === undefined ? undefined : resolve(settings.userFile);
  const logger = settings.logger ?? defaultSecretLogger;
  const warned = new Set<string>();

  const read = async (path: string, option: string): Promise<{ text: string; mtimeMs: number }> => {
    const file = await readSecretFile(path, { backend: 'file', option });
    if (PERMISSION_BITS_MEANINGFUL && isWorldReadable(file.mode) && !warned.has(path)) {
      warned.add(path);
      logSecretEvent(logger, {
        level: 'warn',
        backend: 'file',
        code: 'PGW_SECRET_FILE_PERMISSIONS',
        message: `${path} (${option}) is readable by every user on the machine (mode ${file.mode.toString(8).padStart(3, '0')}). Fix: chmod 600 ${path}, or set defaultMode: 0400 on the Kubernetes secret volume.`,
      });
    }
    return { text: trimTrailingNewlines(file.text), mtimeMs: file.mtimeMs };
  };

  return {
    name: 'file',
    async fetch(): Promise<Credentials> {
      const password = await read(passwordFile, 'DB_PASSWORD_FILE');
      if (password.text === '') {
        throw backendError(
          'PGW_SECRET_FIELD_MISSING',
          'file',
          `${passwordFile} (DB_PASSWORD_FILE) is empty.`,
          {
            option: 'DB_PASSWORD_FILE',
            fix: 'Write the password into the file (a trailing newline is ignored).',
          },
        );
      }
      const credentials: Credentials = {
        password: new Secret(password.text),
        version: String(password.mtimeMs),
      };
      if (userFile !== undefined) {
        const user = (await read(userFile, 'DB_USER_FILE')).text.trim();
        if (user !== '') credentials.user = user;
      } else if (settings.user !== undefined) {
        credentials.user = settings.user;
      }
      return credentials;
    },
    describe(): ProviderDescription {
      return {
        backend: 'file',
        passwordFile,
        userFile,
        user: userFile === undefined ? settings.user : undefined,
      };
    },
  };
}
