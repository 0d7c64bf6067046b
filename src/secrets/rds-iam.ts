import type { SignerConfig } from '@aws-sdk/rds-signer';
import { Secret } from '../redact/secret.js';
import { abortedError, backendError } from './backend-error.js';
import { mapAwsError } from './aws-errors.js';
import { firstVar, readPort, type EnvSource } from './env-source.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';

const BACKEND = 'rds-iam';

/** RDS accepts an IAM token for 15 minutes after it is signed. */
export const RDS_IAM_TOKEN_LIFETIME_MS = 15 * 60_000;

/** Settings of the `rds-iam` backend. */
export interface RdsIamSettings {
  /** The database endpoint the token is signed for, exactly as connected to. Required. */
  host: string;
  /** Default: 5432. */
  port?: number | undefined;
  /** The database user, which must be granted `rds_iam`. Required. */
  user: string;
  /** Default: the SDK chain (`AWS_REGION`, the profile). */
  region?: string | undefined;
  /** Default: the SDK's default credential chain (IAM role first). */
  credentials?: SignerConfig['credentials'] | undefined;
  /** A named profile of ~/.aws/config for region and credentials. Default: none (`AWS_PROFILE` applies). */
  profile?: string | undefined;
}

/** Reads DB_HOST/PGHOST, DB_PORT/PGPORT, DB_USER/PGUSER and AWS_REGION/AWS_DEFAULT_REGION. */
export function rdsIamSettingsFromEnv(env: EnvSource): RdsIamSettings {
  const host = firstVar(env, ['DB_HOST', 'PGHOST']);
  if (host === undefined) {
    throw backendError(
      'PGW_SECRET_CONFIG',
      BACKEND,
      'DB_HOST is not set; the IAM token is signed for one host.',
      {
        option: 'DB_HOST',
        fix: 'Set DB_HOST to the RDS endpoint (e.g. mydb.abc123.us-east-1.rds.amazonaws.com).',
      },
    );
  }
  const user = firstVar(env, ['DB_USER', 'PGUSER']);
  if (user === undefined) {
    throw backendError(
      'PGW_SECRET_CONFIG',
      BACKEND,
      'DB_USER is not set; the IAM token is signed for one user.',
      {
        option: 'DB_USER',
        fix: 'Set DB_USER to a database user granted the rds_iam role.',
      },
    );
  }
  return {
    host: host.value,
    user: user.value,
    port: readPort(env, 'DB_PORT', BACKEND) ?? readPort(env, 'PGPORT', BACKEND),
    region: firstVar(env, ['AWS_REGION', 'AWS_DEFAULT_REGION'])?.value,
  };
}

/**
 * The `rds-iam` backend: the password is an RDS IAM authentication token,
 * signed locally with the SDK credentials (no network call) and valid for 15
 * minutes. `expiresAt` tells the cache to sign a new one well before then.
 * Only new connections need a valid token; open ones are unaffected.
 *
 * RDS accepts IAM tokens over TLS only, so `describe()` says `tlsRequired`
 * and the policy layer refuses a non-TLS sslmode with this backend.
 */
export function createRdsIamProvider(settings: RdsIamSettings): SecretProvider {
  const port = settings.port ?? 5432;
  const { host, user } = settings;
  return {
    name: BACKEND,
    async fetch(signal?: AbortSignal): Promise<Credentials> {
      if (signal?.aborted) throw abortedError(BACKEND, signal);
      const { Signer } = await import('@aws-sdk/rds-signer');
      const signer = new Signer({
        hostname: host,
        port,
        username: user,
        ...(settings.region === undefined ? {} : { region: settings.region }),
        ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
        ...(settings.profile === undefined ? {} : { profile: settings.profile }),
      });
      const signedAt = Date.now();
      let token: string;
      try {
        token = await signer.getAuthToken();
      } catch (error) {
        throw mapAwsError(error, { backend: BACKEND, what: `the IAM token for ${user}@${host}:${port}` });
      }
      return {
        user,
        password: new Secret(token),
        host,
        port,
        expiresAt: new Date(signedAt + RDS_IAM_TOKEN_LIFETIME_MS),
        passwordIsToken: true,
      };
    },
    describe(): ProviderDescription {
      return { backend: BACKEND, host, port, user, region: settings.region, tlsRequired: true };
    },
  };
}
