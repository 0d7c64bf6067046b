import type {
  GetSecretValueCommandOutput,
  SecretsManagerClient,
  SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { abortedError, backendError } from './backend-error.js';
import { requireVar, type EnvSource } from './env-source.js';
import { defaultSecretLogger, type SecretLogger } from './logger.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';
import { awsLocationFromEnv, checkAwsEndpointSetting, guardAwsClient } from './aws-endpoint.js';
import { mapAwsError, SECRETS_MANAGER } from './aws-errors.js';
import { credentialsFromSecretText } from './secret-text.js';

const BACKEND = 'aws-secrets-manager';

/** Settings of the `aws-secrets-manager` backend. */
export interface AwsSecretsManagerSettings {
  /** The secret's name or ARN, e.g. `takumi/production/db`. Required. */
  secretId: string;
  /** The region. Default: the SDK chain (`AWS_REGION`, the profile, instance metadata). */
  region?: string | undefined;
  /**
   * A custom endpoint (VPC endpoint, FIPS, a local test server). Default: the
   * SDK's, which also honours `AWS_ENDPOINT_URL_SECRETS_MANAGER` and
   * `endpoint_url` in `~/.aws/config` itself. Whatever the SDK resolves must
   * be https, or plain http on 127.0.0.1, ::1 or localhost: anything else is
   * refused with `PGW_SECRET_CONFIG` before a request is sent.
   */
  endpoint?: string | undefined;
  /** The setting `endpoint` came from, for messages. Default: `endpoint`. */
  endpointOption?: string | undefined;
  /**
   * Extra SDK client settings (`credentials`, `maxAttempts`, `requestHandler`…).
   * Default: none, so credentials come from the SDK's default chain (IAM role,
   * `AWS_PROFILE`, environment).
   */
  clientConfig?: SecretsManagerClientConfig | undefined;
  /** A ready client; `region`, `endpoint` and `clientConfig` are then ignored. Default: one is created. */
  client?: SecretsManagerClient | undefined;
  /** Receives warnings (a non-PostgreSQL `engine`). Default: {@link defaultSecretLogger}. */
  logger?: SecretLogger | undefined;
}

/**
 * Reads `DB_SECRET_ID` (required), `AWS_REGION`/`AWS_DEFAULT_REGION` and
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`/`AWS_ENDPOINT_URL`. Credentials are left
 * to the SDK's default chain on purpose: long-lived keys in settings are what
 * IAM roles exist to avoid.
 */
export function awsSecretsManagerSettingsFromEnv(env: EnvSource): AwsSecretsManagerSettings {
  return {
    secretId: requireVar(
      env,
      'DB_SECRET_ID',
      BACKEND,
      'the secret (name or ARN) holding the database credentials',
    ),
    ...awsLocationFromEnv(env, SECRETS_MANAGER),
  };
}

/**
 * The `aws-secrets-manager` backend: `GetSecretValue` on AWSCURRENT, and on
 * AWSPREVIOUS for {@link SecretProvider.fetchPrevious} (a rotation's old
 * password may still be what the database accepts for a few seconds).
 *
 * The secret is either JSON in the RDS format (`username`, `password`,
 * `host`, `port`, `dbname`, `engine`) or a plain string, which is then the
 * password alone. The SDK is loaded on first use, so applications on other
 * backends never pay for it.
 */
export function createAwsSecretsManagerProvider(settings: AwsSecretsManagerSettings): SecretProvider {
  const secretId = settings.secretId;
  if (secretId.trim() === '') {
    throw backendError('PGW_SECRET_CONFIG', BACKEND, 'the secret id is empty.', {
      option: 'DB_SECRET_ID',
      fix: 'Set DB_SECRET_ID to the secret name or ARN.',
    });
  }
  if (settings.client === undefined) {
    checkAwsEndpointSetting(
      settings.endpoint,
      BACKEND,
      SECRETS_MANAGER,
      settings.endpointOption ?? 'endpoint',
    );
  }
  const logger = settings.logger ?? defaultSecretLogger;
  let client: Promise<SecretsManagerClient> | undefined;
  const ownsClient = settings.client === undefined;
  const warnEngine = { warned: false };
  const warnBare = { warned: false };
  let resolvedEndpoint: string | undefined;

  const getClient = (): Promise<SecretsManagerClient> => {
    client ??= (
      settings.client
        ? Promise.resolve(settings.client)
        : import('@aws-sdk/client-secrets-manager').then(
            (sdk) =>
              new sdk.SecretsManagerClient({
                ...settings.clientConfig,
                ...(settings.region === undefined ? {} : { region: settings.region }),
                ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
              }),
          )
    ).then((c) => {
      // Also a client given ready-made: the rule is about where the password travels.
      guardAwsClient(c, BACKEND, SECRETS_MANAGER, (origin) => (resolvedEndpoint = origin));
      return c;
    });
    return client;
  };

  const read = async (
    stage: 'AWSCURRENT' | 'AWSPREVIOUS',
    signal?: AbortSignal,
  ): Promise<GetSecretValueCommandOutput> => {
    const sdk = await import('@aws-sdk/client-secrets-manager');
    const c = await getClient();
    try {
      return await c.send(new sdk.GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }), {
        ...(signal ? { abortSignal: signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw abortedError(BACKEND, signal);
      throw mapAwsError(error, {
        backend: BACKEND,
        what: `secret "${secretId}" (${stage})`,
        endpoint: settings.endpoint,
      });
    }
  };

  const parse = (output: GetSecretValueCommandOutput, stage: string): Credentials => {
    const where = `secret "${secretId}" (${stage})`;
    const text =
      output.SecretString ??
      (output.SecretBinary === undefined ? undefined : Buffer.from(output.SecretBinary).toString('utf8'));
    if (text === undefined || text === '') {
      throw backendError(
        'PGW_SECRET_FIELD_MISSING',
        BACKEND,
        `${where} has no SecretString or SecretBinary.`,
        {
          option: 'DB_SECRET_ID',
          fix: 'Store the credentials as a SecretString (RDS JSON format or the bare password).',
        },
      );
    }
    const credentials = credentialsFromSecretText(text, {
      backend: BACKEND,
      where,
      option: 'DB_SECRET_ID',
      logger,
      warnEngine,
      warnBare,
    });
    if (output.VersionId !== undefined) credentials.version = output.VersionId;
    return credentials;
  };

  return {
    name: BACKEND,
    async fetch(signal?: AbortSignal): Promise<Credentials> {
      return parse(await read('AWSCURRENT', signal), 'AWSCURRENT');
    },
    async fetchPrevious(signal?: AbortSignal): Promise<Credentials | undefined> {
      try {
        return parse(await read('AWSPREVIOUS', signal), 'AWSPREVIOUS');
      } catch (error) {
        // A secret never rotated has no AWSPREVIOUS: that is not an error.
        if ((error as { code?: unknown }).code === 'PGW_SECRET_NOT_FOUND') return undefined;
        throw error;
      }
    },
    async close(): Promise<void> {
      if (ownsClient && client) (await client).destroy();
      client = undefined;
    },
    describe(): ProviderDescription {
      return {
        backend: BACKEND,
        secretId,
        region: settings.region,
        endpoint: settings.endpoint ?? resolvedEndpoint,
      };
    },
  };
}
