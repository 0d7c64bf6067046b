/**
 * AWS KMS: `GenerateDataKey` (AES_256) makes each backup's data key and KMS
 * keeps the key-encryption key; `Decrypt` unwraps it. The backup id travels
 * as encryption context, so a wrapped key only opens with its own header.
 * Credentials come from the SDK's default chain (environment, profile, IMDS).
 */
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Env } from '../../config/env-source.js';
import { BackupError, corrupt } from '../backup-error.js';
import { KEY_LENGTH } from '../format/constants.js';
import type { KeyWrap } from '../format/header.js';
import { guardAwsEndpoint } from '../../net/aws-endpoint-guard.js';
import { checkServiceUrl } from './service-url.js';
import type { KeySource, WrappedDataKey } from './key-source.js';

export interface AwsKmsOptions {
  /** Key id, ARN or `alias/…` for new backups. Reading uses the key named in the header. */
  keyId?: string;
  /** Region. Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else the region of a key ARN. */
  region?: string;
  /** Endpoint override (VPC endpoint, tests). Default: `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, else AWS's. */
  endpoint?: string;
  /** Static credentials; default the SDK's provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Environment to read instead of `process.env`. */
  env?: Env;
}

const CONTEXT_KEY = 'pgwarden:backup-id';

function regionOfArn(keyId: string | undefined): string | undefined {
  return keyId ? /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/.exec(keyId)?.[1] : undefined;
}

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export class AwsKmsSource implements KeySource {
  readonly kind = 'aws-kms' as const;
  readonly description: string;
  readonly #options: AwsKmsOptions;
  readonly #clients = new Map<string, KMSClient>();

  constructor(options: AwsKmsOptions = {}) {
    this.#options = options;
    this.description = options.keyId ? `AWS KMS key ${options.keyId}` : 'AWS KMS';
  }

  #client(region: string): KMSClient {
    let client = this.#clients.get(region);
    if (!client) {
      const env = this.#options.env ?? process.env;
      const endpoint = this.#options.endpoint ?? env.AWS_ENDPOINT_URL_KMS ?? env.AWS_ENDPOINT_URL;
      const option = this.#options.endpoint
        ? 'kms.endpoint'
        : env.AWS_ENDPOINT_URL_KMS
          ? 'AWS_ENDPOINT_URL_KMS'
          : 'AWS_ENDPOINT_URL';
      if (endpoint) checkServiceUrl(endpoint, option, 'AWS KMS');
      client = new KMSClient({
        region,
        maxAttempts: 3,
        ...(endpoint ? { endpoint } : {}),
        ...(this.#options.credentials ? { credentials: { ...this.#options.credentials } } : {}),
      });
      // The endpoint the SDK finally resolves (AWS_ENDPOINT_URL_KMS, endpoint_url in ~/.aws/config) is judged too.
      guardAwsEndpoint(
        client,
        {
          option: 'AWS_ENDPOINT_URL_KMS',
          service: 'AWS KMS',
          label:
            'The endpoint the AWS SDK resolved for KMS (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL or endpoint_url in the AWS config file)',
        },
        (problem) =>
          new BackupError('PGW_BACKUP_KEY_INVALID', problem.message, {
            option: 'AWS_ENDPOINT_URL_KMS',
            fix: problem.fix,
          }),
      );
      this.#clients.set(region, client);
    }
    return client;
  }

  #region(keyId: string | undefined): string {
    const env = this.#options.env ?? process.env;
    const region = this.#options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? regionOfArn(keyId);
    if (!region) {
      throw new BackupError('PGW_BACKUP_KEY_INVALID', 'No AWS region is set for KMS.', {
        option: '--kms-region',
        fix: 'Pass --kms-region, set AWS_REGION, or give the key as a full ARN.',
      });
    }
    return region;
  }

  async createDataKey(backupId: string): Promise<WrappedDataKey> {
    const keyId = this.#options.keyId;
    if (!keyId) {
      throw new BackupError('PGW_BACKUP_KEY_REQUIRED', 'No KMS key id was given.', {
        option: '--kms-key-id',
        fix: 'Pass --kms-key-id with a key id, ARN or alias/name.',
      });
    }
    const region = this.#region(keyId);
    const client = this.#client(region);
    let output;
    try {
      output = await client.send(
        new GenerateDataKeyCommand({
          KeyId: keyId,
          KeySpec: 'AES_256',
          EncryptionContext: { [CONTEXT_KEY]: backupId },
        }),
      );
    } catch (error) {
      throw this.#mapError(error, `GenerateDataKey with key ${keyId}`);
    } finally {
      this.#closeClients();
    }
    if (!output.Plaintext || output.Plaintext.length !== KEY_LENGTH || !output.CiphertextBlob) {
      throw new BackupError('PGW_BACKUP_KEY_SERVICE', 'KMS GenerateDataKey returned no 256-bit key.', {
        fix: 'Check that the KMS key is a symmetric encryption key.',
      });
    }
    const dataKey = Buffer.from(output.Plaintext);
    output.Plaintext.fill(0);
    return {
      dataKey,
      wrap: {
        type: 'aws-kms',
        keyId: output.KeyId ?? keyId,
        region,
        ciphertextBlob: Buffer.from(output.CiphertextBlob).toString('base64'),
      },
    };
  }

  async openDataKey(wrap: KeyWrap, backupId: string): Promise<Buffer> {
    if (wrap.type !== 'aws-kms') throw new Error(`aws-kms source given a ${wrap.type} wrap`);
    const keyId = this.#options.keyId ?? wrap.keyId;
    const client = this.#client(this.#options.region ?? wrap.region);
    let output;
    try {
      output = await client.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(wrap.ciphertextBlob, 'base64'),
          EncryptionContext: { [CONTEXT_KEY]: backupId },
          KeyId: keyId,
        }),
      );
    } catch (error) {
      throw this.#mapError(error, `Decrypt with key ${keyId}`);
    } finally {
      this.#closeClients();
    }
    if (!output.Plaintext || output.Plaintext.length !== KEY_LENGTH) {
      throw corrupt('KMS returned a data key of the wrong length.');
    }
    const dataKey = Buffer.from(output.Plaintext);
    output.Plaintext.fill(0);
    return dataKey;
  }

  #closeClients(): void {
    // One call per backup: keep no sockets open that would hold the process.
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }

  #mapError(error: unknown, what: string): BackupError {
    if (error instanceof BackupError) return error;
    const e = (error ?? {}) as SdkError;
    const name = e.name ?? 'Error';
    const aws = e.message ? ` (AWS: ${e.message.replace(/\.$/, '')})` : '';
    if (name === 'IncorrectKeyException') {
      return new BackupError(
        'PGW_BACKUP_WRONG_KEY',
        `KMS ${what}: the backup was encrypted under another KMS key${aws}.`,
        {
          option: '--kms-key-id',
          fix: 'Omit --kms-key-id to use the key named in the backup header, or pass that key.',
          cause: error,
        },
      );
    }
    if (name === 'InvalidCiphertextException') {
      return new BackupError(
        'PGW_BACKUP_CORRUPT',
        `KMS ${what}: the wrapped data key or its context (the backup id) was altered${aws}.`,
        { fix: 'Do not restore from this copy; use another backup.', cause: error },
      );
    }
    const status = e.$metadata?.httpStatusCode;
    const fix =
      name === 'AccessDeniedException'
        ? 'Grant kms:GenerateDataKey (create) and kms:Decrypt (verify, restore) on the key to this identity.'
        : name === 'NotFoundException'
          ? 'Check the key id or alias and the region (--kms-region / AWS_REGION).'
          : name === 'DisabledException' || name === 'KMSInvalidStateException'
            ? 'Enable the KMS key (or cancel its pending deletion).'
            : /credential/i.test(`${name} ${e.message ?? ''}`)
              ? 'Provide AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role).'
              : 'Check connectivity to KMS and retry.';
    return new BackupError(
      'PGW_BACKUP_KEY_SERVICE',
      `KMS ${what} failed: ${name}${status ? ` (HTTP ${status})` : ''}${aws}.`,
      { option: '--kms-key-id', fix, cause: error },
    );
  }
}
