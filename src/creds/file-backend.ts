/**
 * Passwords in one encrypted file, `$PGWARDEN_HOME/credentials.enc`:
 * AES-256-GCM with a key derived from a passphrase by scrypt. Only used when
 * chosen explicitly (`--store file`), for machines without an OS keychain;
 * pgwarden never falls back to it on its own.
 *
 * ```json
 * { "format": "pgwarden-credentials", "version": 1,
 *   "kdf": { "name": "scrypt", "N": 131072, "r": 8, "p": 1, "salt": "<base64>" },
 *   "cipher": "aes-256-gcm", "iv": "<base64>", "tag": "<base64>", "data": "<base64>" }
 * ```
 * The header (everything but iv, tag and data) is authenticated as associated
 * data, so a lowered scrypt cost or a swapped salt is detected like a wrong
 * passphrase. The plaintext is `{"environments": {"<env>": "<password>"}}`.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { Secret } from '../redact/secret.js';
import { CredsError } from './creds-error.js';
import { ensurePrivateDir, writeFileAtomic } from './metadata-file.js';
import type { PasswordBackend } from './password-backend.js';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

const FORMAT = 'pgwarden-credentials';
/** OWASP's minimum recommendation for scrypt (N=2^17, r=8, p=1): 128 MiB, a fraction of a second. */
export const DEFAULT_SCRYPT_COST = 2 ** 17;
const MIN_SCRYPT_COST = 2 ** 14;
/** A new file's passphrase must be at least this long. */
export const MIN_PASSPHRASE_LENGTH = 12;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
const fileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  kdf: z.object({
    name: z.literal('scrypt'),
    N: z
      .number()
      .int()
      .min(MIN_SCRYPT_COST)
      .max(2 ** 22),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
    salt: b64,
  }),
  cipher: z.literal('aes-256-gcm'),
  iv: b64,
  tag: b64,
  data: b64,
});
type EncryptedFile = z.infer<typeof fileSchema>;

export interface EncryptedFileBackendOptions {
  /** The file. */
  path: string;
  /**
   * Supplies the passphrase when the file is first opened (a prompt,
   * `PGWARDEN_STORE_PASSPHRASE`…); `creating` is true when the file does not
   * exist yet, so a prompt can ask twice.
   */
  passphrase: PassphraseSource;
  /** scrypt cost N for a new file (a power of two, at least 2^14). Default 2^17. */
  scryptCost?: number;
}

export type PassphraseSource = (context: { creating: boolean; path: string }) => Promise<Secret> | Secret;

interface Unlocked {
  key: Buffer;
  kdf: EncryptedFile['kdf'];
  passwords: Map<string, Secret>;
}

export function createEncryptedFileBackend(options: EncryptedFileBackendOptions): PasswordBackend {
  const { path } = options;
  const cost = options.scryptCost ?? DEFAULT_SCRYPT_COST;
  if (!Number.isInteger(Math.log2(cost)) || cost < MIN_SCRYPT_COST) {
    throw new CredsError('PGW_CREDS_INVALID', 'scryptCost must be a power of two of at least 16384.', {
      option: 'scryptCost',
    });
  }
  // The passphrase is asked once per backend and the derived key kept for the
  // salt it belongs to; the file itself is re-read on every call, so changes
  // made by another process are never overwritten with stale content.
  let passphraseOnce: Promise<Secret> | undefined;
  let cachedKey: { header: string; key: Buffer } | undefined;

  async function getPassphrase(creating: boolean): Promise<Secret> {
    passphraseOnce ??= Promise.resolve()
      .then(() => options.passphrase({ creating, path }))
      .catch((error: unknown) => {
        passphraseOnce = undefined;
        if (error instanceof CredsError) throw error;
        throw new CredsError('PGW_CREDS_STORE_LOCKED', `The passphrase of ${path} could not be read.`, {
          option: 'PGWARDEN_STORE_PASSPHRASE',
          fix: 'Run on a terminal to be prompted, or set PGWARDEN_STORE_PASSPHRASE.',
          cause: error,
        });
      });
    const passphrase = await passphraseOnce;
    if (creating && passphrase.length < MIN_PASSPHRASE_LENGTH) {
      passphraseOnce = undefined;
      throw new CredsError(
        'PGW_CREDS_INVALID',
        `The passphrase of a new encrypted store must have at least ${MIN_PASSPHRASE_LENGTH} characters.`,
        { option: 'PGWARDEN_STORE_PASSPHRASE', fix: 'Choose a longer passphrase (a few random words).' },
      );
    }
    return passphrase;
  }

  async function keyFor(kdf: EncryptedFile['kdf'], creating: boolean): Promise<Buffer> {
    const id = header(kdf);
    if (cachedKey?.header === id) return cachedKey.key;
    const key = await deriveKey(await getPassphrase(creating), kdf);
    cachedKey = { header: id, key };
    return key;
  }

  async function unlock(): Promise<Unlocked> {
    const file = await readEncrypted(path);
    if (!file) {
      const kdf = { name: 'scrypt' as const, N: cost, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
      return { key: await keyFor(kdf, true), kdf, passwords: new Map() };
    }
    const key = await keyFor(file.kdf, false);
    let plaintext: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(file.iv, 'base64'));
      decipher.setAAD(Buffer.from(header(file.kdf)));
      decipher.setAuthTag(Buffer.from(file.tag, 'base64'));
      const data = Buffer.from(file.data, 'base64');
      plaintext = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    } catch {
      // A wrong passphrase must be asked again, not reused.
      cachedKey = undefined;
      passphraseOnce = undefined;
      throw new CredsError(
        'PGW_CREDS_STORE_LOCKED',
        `The passphrase of ${path} is wrong, or the file was altered.`,
        {
          option: 'PGWARDEN_STORE_PASSPHRASE',
          fix: 'Retry with the right passphrase; if the file was altered, restore it from a backup.',
        },
      );
    }
    const parsed = z
      .object({ environments: z.record(z.string(), z.string()) })
      .safeParse(safeJson(plaintext));
    if (!parsed.success) throw malformed(path, 'its decrypted content is not the expected JSON');
    const passwords = new Map(
      Object.entries(parsed.data.environments).map(([env, pw]) => [env, new Secret(pw)]),
    );
    return { key, kdf: file.kdf, passwords };
  }

  function save(state: Unlocked, passwords: Map<string, Secret>): void {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', state.key, iv);
    cipher.setAAD(Buffer.from(header(state.kdf)));
    const plaintext = JSON.stringify({
      environments: Object.fromEntries([...passwords].map(([env, pw]) => [env, pw.reveal()])),
    });
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const file: EncryptedFile = {
      format: FORMAT,
      version: 1,
      kdf: state.kdf,
      cipher: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    ensurePrivateDir(dirname(path));
    writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
  }

  return {
    kind: 'file',
    async get(environment) {
      if (!(await readEncrypted(path))) return undefined;
      return (await unlock()).passwords.get(environment);
    },
    async set(environment, password) {
      const state = await unlock();
      save(state, new Map([...state.passwords, [environment, password]]));
    },
    async delete(environment) {
      if (!(await readEncrypted(path))) return false;
      const state = await unlock();
      if (!state.passwords.has(environment)) return false;
      const next = new Map(state.passwords);
      next.delete(environment);
      save(state, next);
      return true;
    },
  };
}

/** The authenticated header: everything that decides how the key is derived. */
function header(kdf: EncryptedFile['kdf']): string {
  return JSON.stringify({ format: FORMAT, version: 1, kdf, cipher: 'aes-256-gcm' });
}

async function deriveKey(passphrase: Secret, kdf: EncryptedFile['kdf']): Promise<Buffer> {
  return scrypt(passphrase.reveal(), Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r + 1024 * 1024,
  });
}

async function readEncrypted(path: string): Promise<EncryptedFile | undefined> {
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new CredsError('PGW_CREDS_METADATA_INVALID', `${path} is readable by group or others.`, {
        option: 'PGWARDEN_HOME',
        fix: `chmod 600 ${path}`,
      });
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof CredsError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredsError('PGW_CREDS_STORE_UNAVAILABLE', `${path} cannot be read.`, {
      option: 'PGWARDEN_HOME',
      fix: `Check that ${path} belongs to you and is readable.`,
      cause: error,
    });
  }
  const parsed = fileSchema.safeParse(safeJson(text));
  if (!parsed.success) throw malformed(path, 'it is not a pgwarden encrypted credentials file');
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function malformed(path: string, reason: string): CredsError {
  return new CredsError('PGW_CREDS_METADATA_INVALID', `${path}: ${reason}.`, {
    option: 'PGWARDEN_HOME',
    fix: 'Restore the file from a backup, or move it away and add the environments again.',
  });
}
