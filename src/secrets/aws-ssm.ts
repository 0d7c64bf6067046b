import type { GetParameterCommandOutput, SSMClient, SSMClientConfig } from '@aws-sdk/client-ssm';
import { abortedError, backendError } from './backend-error.js';
import { requireVar, type EnvSource } from './env-source.js';
import { defaultSecretLogger, logSecretEvent, type SecretLogger } from './logger.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';
import { awsLocationFromEnv, checkAwsEndpointSetting, guardAwsClient } from './aws-endpoint.js';
import { mapAwsError, type AwsService } from './aws-errors.js';
import { credentialsFromSecretText } from './secret-text.js';

const BACKEND = 'aws-ssm';

const SSM: AwsService = {
  label: 'SSM Parameter Store',
  option: 'DB_SSM_PARAMETER',
  action: 'ssm:GetParameter (and kms:Decrypt for a SecureString)',
  endpointOption: 'AWS_ENDPOINT_URL_SSM',
  notFoundFix:
    'Check DB_SSM_PARAMETER (the full name, e.g. /app/prod/db) and the region (AWS_REGION): a parameter exists in one region only.',
};

/** Settings of the `aws-ssm` backend. */
export interface AwsSsmSettings {
  /** The parameter's name (`/app/prod/db`) or ARN. Required. */
  parameter: string;
  /** The region. Default: the SDK chain (`AWS_REGION`, the profile, instance metadata). */
  region?: string | undefined;
  /**
   * A custom endpoint (VPC endpoint, a local test server). Default: the SDK's,
   * which also honours `AWS_ENDPOINT_URL_SSM` and `endpoint_url` in
   * `~/.aws/config`. Whatever the SDK resolves must be https, or plain http
   * on 127.0.0.1, ::1 or localhost (`PGW_SECRET_CONFIG` otherwise).
   */
  endpoint?: string | undefined;
  /** The setting `endpoint` came from, for messages. Default: `endpoint`. */
  endpointOption?: string | undefined;
  /** Extra SDK client settings (`credentials`, `maxAttempts`…). Default: none, so the SDK's default credential chain. */
  clientConfig?: SSMClientConfig | undefined;
  /** A ready client; `region`, `endpoint` and `clientConfig` are then ignored. Default: one is created. */
  client?: SSMClient | undefined;
  /** Receives warnings (a non-PostgreSQL `engine`). Default: {@link defaultSecretLogger}. */
  logger?: SecretLogger | undefined;
}

/** Reads `DB_SSM_PARAMETER` (required), `AWS_REGION`/`AWS_DEFAULT_REGION` and `AWS_ENDPOINT_URL_SSM`/`AWS_ENDPOINT_URL`. */
export function awsSsmSettingsFromEnv(env: EnvSource): AwsSsmSettings {
  return {
    parameter: requireVar(
      env,
      'DB_SSM_PARAMETER',
      BACKEND,
      'the Parameter Store parameter (a SecureString) holding the database password or credentials',
    ),
    ...awsLocationFromEnv(env, SSM),
  };
}

/**
 * The `aws-ssm` backend: `GetParameter` with decryption on an SSM Parameter
 * Store parameter, best a SecureString (encrypted with KMS). Its value is
 * read like a Secrets Manager secret: JSON in the RDS format, or the bare
 * password. The parameter's version is the credentials' version, so a new
 * value is seen as a rotation. The SDK is loaded on first use.
 */
export function createAwsSsmProvider(settings: AwsSsmSettings): SecretProvider {
  const parameter = settings.parameter;
  if (parameter.trim() === '') {
    throw backendError('PGW_SECRET_CONFIG', BACKEND, 'the parameter name is empty.', {
      option: SSM.option,
      fix: 'Set DB_SSM_PARAMETER to the parameter name (/app/prod/db) or ARN.',
    });
  }
  if (settings.client === undefined) {
    checkAwsEndpointSetting(settings.endpoint, BACKEND, SSM, settings.endpointOption ?? 'endpoint');
  }
  const logger = settings.logger ?? defaultSecretLogger;
  const ownsClient = settings.client === undefined;
  let resolvedEndpoint: string | undefined;
  const warnEngine = { warned: false };
  const warnBare = { warned: false };
  let warnedPlain = false;
  const where = `parameter "${parameter}"`;
  let client: Promise<SSMClient> | undefined;

  const getClient = (): Promise<SSMClient> => {
    client ??= (
      settings.client
        ? Promise.resolve(settings.client)
        : import('@aws-sdk/client-ssm').then(
            (sdk) =>
              new sdk.SSMClient({
                ...settings.clientConfig,
                ...(settings.region === undefined ? {} : { region: settings.region }),
                ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
              }),
          )
    ).then((c) => {
      guardAwsClient(c, BACKEND, SSM, (origin) => (resolvedEndpoint = origin));
      return c;
    });
    return client;
  };

  const read = async (signal?: AbortSignal): Promise<GetParameterCommandOutput> => {
    const sdk = await import('@aws-sdk/client-ssm');
    const c = await getClient();
    try {
      return await c.send(new sdk.GetParameterCommand({ Name: parameter, WithDecryption: true }), {
        ...(signal ? { abortSignal: signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw abortedError(BACKEND, signal);
      throw mapAwsError(error, { backend: BACKEND, what: where, endpoint: settings.endpoint, service: SSM });
    }
  };

  return {
    name: BACKEND,
    async fetch(signal?: AbortSignal): Promise<Credentials> {
      const { Parameter: found } = await read(signal);
      if (found?.Value === undefined || found.Value === '') {
        throw backendError('PGW_SECRET_FIELD_MISSING', BACKEND, `${where} has no value.`, {
          option: SSM.option,
          fix: 'Store the password (or RDS-format JSON) as the value of a SecureString parameter.',
        });
      }
      if (found.Type !== 'SecureString' && !warnedPlain) {
        warnedPlain = true;
        logSecretEvent(logger, {
          level: 'warn',
          backend: BACKEND,
          message: `${where} is a ${found.Type ?? 'parameter'} stored unencrypted; make it a SecureString (KMS-encrypted).`,
        });
      }
      const credentials = credentialsFromSecretText(found.Value, {
        backend: BACKEND,
        where,
        option: SSM.option,
        logger,
        warnEngine,
        warnBare,
      });
      if (found.Version !== undefined) credentials.version = String(found.Version);
      return credentials;
    },
    async close(): Promise<void> {
      if (ownsClient && client) (await client).destroy();
      client = undefined;
    },
    describe(): ProviderDescription {
      return {
        backend: BACKEND,
        parameter,
        region: settings.region,
        endpoint: settings.endpoint ?? resolvedEndpoint,
      };
    },
  };
}
