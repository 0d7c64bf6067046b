/**
 * Where a backup's data key comes from. Every backup file has its own random
 * 256-bit data key; a key source wraps it for the header when the backup is
 * made and unwraps it when the backup is read. Wrapped keys are bound to the
 * backup id, so a header cannot borrow another file's key.
 */
import type { KeyKind, KeyWrap } from '../format/header.js';

export interface WrappedDataKey {
  /** The plaintext data key (32 bytes). Zero it when done. */
  readonly dataKey: Buffer;
  /** What goes into the header. */
  readonly wrap: KeyWrap;
}

export interface KeySource {
  readonly kind: KeyKind;
  /** Where the key comes from, for messages (never secret): `key file /etc/pgwarden/backup.key`. */
  readonly description: string;
  /** Creates a fresh random data key and wraps it. */
  createDataKey(backupId: string): Promise<WrappedDataKey>;
  /**
   * Unwraps the data key of an existing backup. Throws `PGW_BACKUP_WRONG_KEY`
   * when this key cannot open it and `PGW_BACKUP_CORRUPT` when it can tell
   * the wrapped key was altered.
   */
  openDataKey(wrap: KeyWrap, backupId: string): Promise<Buffer>;
}

/** A non-secret identifier of the key that protects a backup, for the manifest and `list`. */
export function keyIdOf(wrap: KeyWrap): string {
  switch (wrap.type) {
    case 'key-file':
      return `key-file:${wrap.keyId}`;
    case 'passphrase':
      return `passphrase:scrypt-2^${wrap.logN}`;
    case 'aws-kms':
      return `aws-kms:${wrap.keyId}`;
    case 'vault-transit': {
      const version = /^vault:(v\d+):/.exec(wrap.ciphertext)?.[1] ?? 'v?';
      return `vault-transit:${wrap.mount}/${wrap.key}:${version}`;
    }
  }
}
