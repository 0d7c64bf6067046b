import { resolve } from 'node:path';
import { normalizeEnvironment } from '../config/environment.js';
import { Secret } from '../redact/secret.js';
import { backendError } from './backend-error.js';
import { DotenvSyntaxError, parseDotenv } from './dotenv-parser.js';
import { readVar, type EnvSource } from './env-source.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';
import { isGroupOrWorldReadable, PERMISSION_BITS_MEANINGFUL, readSecretFile } from './secret-file.js';

/** The file read when neither the `path` option nor `DOTENV_PATH` is set. */
export const DEFAULT_DOTENV_PATH = '.env';

/** Settings of the `dotenv` backend. */
export interface DotenvProviderSettings {
  /** The .env file, resolved against the working directory at creation. Default: `./.env`. */
  path?: string | undefined;
  /**
   * The deployment environment (`development`, `test` and their aliases such
   * as `dev`, `local`, `ci`). Required: any other value, `production` and
   * `staging` included, makes creation fail with `PGW_SECRET_NOT_ALLOWED`.
   */
  environment: string;
  /**
   * The real environment, which always wins over the file: a variable set
   * there is never overridden. Default: `process.env`.
   */
  env?: EnvSource | undefined;
}

/** Reads `DOTENV_PATH`; the environment comes from the caller (it decides what "production" is). */
export function dotenvSettingsFromEnv(env: EnvSource, environment: string): DotenvProviderSettings {
  return { path: readVar(env, 'DOTENV_PATH'), environment, env };
}

/**
 * The `dotenv` backend: reads DB_USER/DB_PASSWORD (or PGUSER/PGPASSWORD) and
 * DB_HOST/DB_PORT/DB_NAME from a .env file, for development and tests only.
 *
 * Refused outside development and test: a plaintext password file on a
 * server is exactly what every guideline we follow prohibits. Refused when
 * group or others can read it, because on a shared machine that is the same
 * as publishing it. The process environment is never modified.
 */
export function createDotenvProvider(settings: DotenvProviderSettings): SecretProvider {
  const path = resolve(settings.path ?? DEFAULT_DOTENV_PATH);
  const environment = settings.environment;
  // An allow-list: staging, an unknown name or a typo is treated like production.
  const normalized = normalizeEnvironment(environment);
  if (normalized !== 'development' && normalized !== 'test') {
    throw backendError(
      'PGW_SECRET_NOT_ALLOWED',
      'dotenv',
      `a .env file is not allowed in the "${environment}" environment.`,
      {
        option: 'SECRETS_BACKEND',
        fix: 'Use a secrets manager in production (SECRETS_BACKEND=vault, aws-secrets-manager, file, keychain); keep .env files for development and tests.',
      },
    );
  }
  const realEnv = settings.env ?? process.env;
  let lastPasswordSource: string | undefined;

  return {
    name: 'dotenv',
    async fetch(): Promise<Credentials> {
      const file = await readSecretFile(path, { backend: 'dotenv', option: 'DOTENV_PATH' });
      if (PERMISSION_BITS_MEANINGFUL && isGroupOrWorldReadable(file.mode)) {
        throw backendError(
          'PGW_SECRET_FILE_PERMISSIONS',
          'dotenv',
          `${path} is readable by group or others (mode ${file.mode.toString(8).padStart(3, '0')}).`,
          { option: 'DOTENV_PATH', fix: `chmod 600 ${path}` },
        );
      }
      let parsed: Map<string, string>;
      try {
        parsed = parseDotenv(file.text);
      } catch (error) {
        if (!(error instanceof DotenvSyntaxError)) throw error;
        throw backendError('PGW_SECRET_MALFORMED', 'dotenv', `${path} ${error.message}`, {
          option: 'DOTENV_PATH',
          fix: `Fix line ${error.line} of ${path} (KEY=VALUE, quote values that contain # or spaces).`,
        });
      }
      // The real environment wins, as with every dotenv loader: lets CI or a
      // developer override one value without editing the file.
      const lookup = (name: string): { value: string; source: string } | undefined => {
        const real = readVar(realEnv, name);
        if (real !== undefined) return { value: real, source: `environment:${name}` };
        const fromFile = parsed.get(name);
        return fromFile === undefined || fromFile === ''
          ? undefined
          : { value: fromFile, source: `dotenv:${name}` };
      };
      const first = (names: readonly string[]) => {
        for (const name of names) {
          const found = lookup(name);
          if (found) return found;
        }
        return undefined;
      };

      const password = first(['DB_PASSWORD', 'PGPASSWORD']);
      if (password === undefined) {
        throw backendError(
          'PGW_SECRET_FIELD_MISSING',
          'dotenv',
          `${path} sets neither DB_PASSWORD nor PGPASSWORD.`,
          {
            option: 'DB_PASSWORD',
            fix: `Add DB_PASSWORD=… to ${path}.`,
          },
        );
      }
      lastPasswordSource = password.source;
      const credentials: Credentials = {
        password: new Secret(password.value),
        version: String(file.mtimeMs),
      };
      const user = first(['DB_USER', 'PGUSER']);
      if (user) credentials.user = user.value;
      const host = first(['DB_HOST', 'PGHOST']);
      if (host) credentials.host = host.value;
      const database = first(['DB_NAME', 'PGDATABASE']);
      if (database) credentials.database = database.value;
      const port = first(['DB_PORT', 'PGPORT']);
      if (port) {
        const n = Number(port.value);
        if (!/^\d+$/.test(port.value) || n < 1 || n > 65535) {
          throw backendError(
            'PGW_SECRET_MALFORMED',
            'dotenv',
            `${port.source.split(':')[1]} is not a port number.`,
            {
              option: 'DB_PORT',
              fix: 'Set it to a number such as 5432.',
            },
          );
        }
        credentials.port = n;
      }
      return credentials;
    },
    describe(): ProviderDescription {
      return { backend: 'dotenv', path, environment, passwordSource: lastPasswordSource };
    },
  };
}
