/**
 * Passphrases: scrypt turns one into a key-encryption key. The cost is
 * stored in the header and checked against fixed bounds before scrypt runs:
 * too low would let an altered header weaken nothing (the wrap would fail)
 * but is refused anyway; too high would let a hostile file exhaust memory.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { SCRYPT_MAX_MEMORY_BYTES, scryptParamsProblem } from '../../crypto/scrypt-bounds.js';
import { BackupError } from '../backup-error.js';
import { KEY_LENGTH } from '../format/constants.js';
import type { KeyWrap } from '../format/header.js';
import { Secret } from '../../redact/secret.js';
import { unwrapKey, wrapKey } from './aes-wrap.js';
import type { KeySource, WrappedDataKey } from './key-source.js';
import { readPrivateFile } from './key-file.js';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

/** N = 2^17, r = 8, p = 1: 128 MiB and roughly half a second here. */
export const SCRYPT_DEFAULTS: ScryptParams = Object.freeze({ logN: 17, r: 8, p: 1 });

/** What a header may ask for; anything outside is refused before scrypt runs. */
export const SCRYPT_BOUNDS = Object.freeze({
  logN: [17, 20] as const,
  r: [8, 32] as const,
  p: [1, 4] as const,
  /** 128 · N · r bytes: the bound the encrypted credential store shares. */
  maxMemoryBytes: SCRYPT_MAX_MEMORY_BYTES,
});

export const MIN_PASSPHRASE_LENGTH = 12;

export function checkScryptParams(params: ScryptParams): void {
  const { logN, r, p } = params;
  const problem = scryptParamsProblem(
    { N: 2 ** logN, r, p },
    { N: [2 ** SCRYPT_BOUNDS.logN[0], 2 ** SCRYPT_BOUNDS.logN[1]], r: SCRYPT_BOUNDS.r, p: SCRYPT_BOUNDS.p },
  );
  if (problem !== undefined || !Number.isInteger(logN)) {
    throw new BackupError(
      'PGW_BACKUP_UNSUPPORTED',
      `The backup header asks for scrypt N=2^${logN}, r=${r}, p=${p}; accepted: N from 2^${SCRYPT_BOUNDS.logN[0]} to 2^${SCRYPT_BOUNDS.logN[1]}, r ${SCRYPT_BOUNDS.r[0]}-${SCRYPT_BOUNDS.r[1]}, p ${SCRYPT_BOUNDS.p[0]}-${SCRYPT_BOUNDS.p[1]}, at most 1 GiB.`,
      { fix: 'The header was altered or was not written by pgwarden; use another copy of the backup.' },
    );
  }
}

export function deriveKek(passphrase: Secret, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  checkScryptParams(params);
  const N = 2 ** params.logN;
  const maxmem = 128 * N * params.r + 32 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(passphrase.reveal(), salt, KEY_LENGTH, { N, r: params.r, p: params.p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** Reads a passphrase file (0600); one trailing newline is not part of the passphrase. */
export function readPassphraseFile(path: string, option = '--passphrase-file'): Secret {
  const text = readPrivateFile(path, option, 'passphrase file');
  return new Secret(text.reveal().replace(/\r?\n$/, ''));
}

export class PassphraseSource implements KeySource {
  readonly kind = 'passphrase' as const;
  readonly description: string;
  readonly #passphrase: Secret;
  readonly #params: ScryptParams;
  readonly #option: string;

  constructor(passphrase: Secret, options: { option?: string; params?: ScryptParams } = {}) {
    this.#passphrase = passphrase;
    this.#params = options.params ?? SCRYPT_DEFAULTS;
    this.#option = options.option ?? '--passphrase-file';
    this.description = `passphrase (${this.#option})`;
  }

  async createDataKey(backupId: string): Promise<WrappedDataKey> {
    if (this.#passphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new BackupError(
        'PGW_BACKUP_KEY_INVALID',
        `The passphrase (${this.#option}) is shorter than ${MIN_PASSPHRASE_LENGTH} characters.`,
        { option: this.#option, fix: 'Use a long random passphrase, or a key file (--key-file).' },
      );
    }
    const salt = randomBytes(16);
    const kek = await deriveKek(this.#passphrase, salt, this.#params);
    const dataKey = randomBytes(KEY_LENGTH);
    const wrap: KeyWrap = {
      type: 'passphrase',
      kdf: 'scrypt',
      ...this.#params,
      salt: salt.toString('base64'),
      ...wrapKey(kek, dataKey, backupId),
    };
    kek.fill(0);
    return { dataKey, wrap };
  }

  async openDataKey(wrap: KeyWrap, backupId: string): Promise<Buffer> {
    if (wrap.type !== 'passphrase') throw new Error(`passphrase source given a ${wrap.type} wrap`);
    const kek = await deriveKek(this.#passphrase, Buffer.from(wrap.salt, 'base64'), wrap);
    const dataKey = unwrapKey(kek, wrap.nonce, wrap.wrapped, backupId);
    kek.fill(0);
    if (!dataKey) {
      throw new BackupError(
        'PGW_BACKUP_WRONG_KEY',
        `The passphrase (${this.#option}) does not open this backup.`,
        {
          option: this.#option,
          fix: 'Give the passphrase the backup was made with. If you are sure it is right, run `pgwarden backup verify --level 1`: a header altered after creation fails there as corruption.',
        },
      );
    }
    return dataKey;
  }
}
