/**
 * Chooses the key source. Creating a backup needs exactly one; there is no
 * way to ask for an unencrypted backup. Reading follows the header: the
 * source of the kind that wrapped the key, configured from the options (key
 * file, passphrase) or the environment (AWS, Vault).
 */
import type { Env } from '../../config/env-source.js';
import { ConfigError } from '../../errors.js';
import type { Secret } from '../../redact/secret.js';
import { BackupError } from '../backup-error.js';
import type { KeyWrap } from '../format/header.js';
import type { AwsKmsOptions } from './aws-kms.js';
import { KeyFileSource } from './key-file.js';
import type { KeySource } from './key-source.js';
import { PassphraseSource, readPassphraseFile, type ScryptParams } from './passphrase.js';
import { VaultTransitSource, type VaultTransitOptions } from './vault-transit.js';

/** Where keys come from; give one for `create`, the matching one (if any) for reading. */
export interface BackupKeyOptions {
  /** Key file: 32 random bytes in base64, mode 0600 (`pgwarden backup keygen`). */
  keyFile?: string;
  /** File holding the passphrase (mode 0600); one trailing newline is ignored. */
  passphraseFile?: string;
  /** The passphrase itself, for library callers. */
  passphrase?: Secret;
  /** scrypt cost for new passphrase backups. Default N = 2^17, r = 8, p = 1 (bounds in passphrase.ts). */
  scrypt?: ScryptParams;
  /** AWS KMS key (id, ARN or alias/…) that wraps new data keys. */
  kmsKeyId?: string;
  /** Region, endpoint and credentials for KMS. Default: the SDK's (AWS_REGION, AWS_ENDPOINT_URL_KMS, …). */
  kms?: Omit<AwsKmsOptions, 'keyId' | 'env'>;
  /** Vault transit key that wraps new data keys. */
  vaultTransitKey?: string;
  /** Vault address, token, namespace, CA, mount. Default: VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, `transit`. */
  vault?: Omit<VaultTransitOptions, 'key' | 'env'>;
  env?: Env;
}

/**
 * KMS through the AWS SDK, loaded only when a backup uses KMS: the SDK
 * costs more start-up time and memory than the rest of the backup code.
 */
function awsKmsSource(options: AwsKmsOptions): KeySource {
  let loaded: Promise<KeySource> | undefined;
  const source = () =>
    (loaded ??= import('./aws-kms.js').then(({ AwsKmsSource }) => new AwsKmsSource(options)));
  return {
    kind: 'aws-kms',
    description: options.keyId ? `AWS KMS key ${options.keyId}` : 'AWS KMS',
    createDataKey: async (backupId) => (await source()).createDataKey(backupId),
    openDataKey: async (wrap, backupId) => (await source()).openDataKey(wrap, backupId),
  };
}

function passphraseSource(options: BackupKeyOptions): PassphraseSource | undefined {
  if (options.passphrase) {
    return new PassphraseSource(options.passphrase, {
      option: 'passphrase',
      ...(options.scrypt ? { params: options.scrypt } : {}),
    });
  }
  if (options.passphraseFile) {
    return new PassphraseSource(readPassphraseFile(options.passphraseFile), {
      ...(options.scrypt ? { params: options.scrypt } : {}),
    });
  }
  return undefined;
}

/** The key source for a new backup: exactly one of the four. */
export function keySourceForCreate(options: BackupKeyOptions): KeySource {
  const given = [
    options.keyFile ? '--key-file' : undefined,
    options.passphraseFile || options.passphrase ? '--passphrase-file' : undefined,
    options.kmsKeyId ? '--kms-key-id' : undefined,
    options.vaultTransitKey ? '--vault-transit-key' : undefined,
  ].filter((flag): flag is string => flag !== undefined);
  if (given.length === 0) {
    throw new BackupError(
      'PGW_BACKUP_KEY_REQUIRED',
      'No encryption key was given; backups are always encrypted.',
      {
        option: '--key-file',
        fix: 'Pass one of --key-file, --passphrase-file, --kms-key-id or --vault-transit-key (pgwarden backup keygen makes a key file).',
      },
    );
  }
  if (given.length > 1) {
    throw new ConfigError('PGW_CONFIG_CONFLICT', `Give one key source, not ${given.join(' and ')}.`, {
      option: given[1]!,
      fix: 'Keep exactly one of --key-file, --passphrase-file, --kms-key-id, --vault-transit-key.',
    });
  }
  if (options.keyFile) return new KeyFileSource(options.keyFile);
  if (options.kmsKeyId) {
    return awsKmsSource({
      ...options.kms,
      keyId: options.kmsKeyId,
      ...(options.env ? { env: options.env } : {}),
    });
  }
  if (options.vaultTransitKey) {
    return new VaultTransitSource({
      ...options.vault,
      key: options.vaultTransitKey,
      ...(options.env ? { env: options.env } : {}),
    });
  }
  return passphraseSource(options)!;
}

/** A function giving the key source able to open a header's wrapped key. */
export type KeyResolver = (wrap: KeyWrap) => KeySource;

export function keyResolver(options: BackupKeyOptions): KeyResolver {
  let keyFile: KeyFileSource | undefined;
  let passphrase: PassphraseSource | undefined;
  return (wrap) => {
    switch (wrap.type) {
      case 'key-file':
        if (!options.keyFile) {
          throw new BackupError(
            'PGW_BACKUP_KEY_REQUIRED',
            `This backup is encrypted with a key file (key id ${wrap.keyId}) and none was given.`,
            { option: '--key-file', fix: `Pass --key-file with the key file whose id is ${wrap.keyId}.` },
          );
        }
        keyFile ??= new KeyFileSource(options.keyFile);
        return keyFile;
      case 'passphrase':
        passphrase ??= passphraseSource(options);
        if (!passphrase) {
          throw new BackupError(
            'PGW_BACKUP_KEY_REQUIRED',
            'This backup is encrypted with a passphrase and none was given.',
            { option: '--passphrase-file', fix: 'Pass --passphrase-file with the passphrase.' },
          );
        }
        return passphrase;
      case 'aws-kms':
        return awsKmsSource({
          ...options.kms,
          ...(options.kmsKeyId ? { keyId: options.kmsKeyId } : {}),
          ...(options.env ? { env: options.env } : {}),
        });
      case 'vault-transit':
        return new VaultTransitSource({
          ...options.vault,
          ...(options.vaultTransitKey ? { key: options.vaultTransitKey } : {}),
          ...(options.env ? { env: options.env } : {}),
        });
    }
  };
}
