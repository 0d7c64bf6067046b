/**
 * The on-disk format of `$PGWARDEN_HOME/credentials.enc`, the encrypted
 * credential store: written by `pgwarden creds --store file`
 * (src/creds/file-backend.ts), read by it and by the `keychain` secrets
 * backend when an environment's password lives in the file.
 *
 * ```json
 * { "format": "pgwarden-credentials", "version": 1,
 *   "kdf": { "name": "scrypt", "N": 131072, "r": 8, "p": 1, "salt": "<base64>" },
 *   "cipher": "aes-256-gcm", "iv": "<base64>", "tag": "<base64>", "data": "<base64>" }
 * ```
 * AES-256-GCM with a key derived from a passphrase by scrypt. The header
 * (everything but iv, tag and data) is authenticated as associated data, so
 * a lowered scrypt cost or a swapped salt is detected like a wrong
 * passphrase; a raised cost is refused before scrypt runs (at most 1 GiB,
 * the bound backups use). The plaintext is `{"environments": {"<env>": "<password>"}}`.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { promisify } from 'node:util';
import type { z } from 'zod';
import { loadZod } from '../config/zod.js';
import { scryptParamsProblem, SCRYPT_MAX_MEMORY_BYTES, type ScryptBounds } from '../crypto/scrypt-bounds.js';
import { Secret } from '../redact/secret.js';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export const ENCRYPTED_STORE_FORMAT = 'pgwarden-credentials';
/** OWASP's minimum recommendation for scrypt (N=2^17, r=8, p=1): 128 MiB, a fraction of a second. */
export const DEFAULT_SCRYPT_COST = 2 ** 17;
export const MIN_SCRYPT_COST = 2 ** 14;

/** What a file's header may ask for; checked before scrypt runs. */
export const STORE_SCRYPT_BOUNDS: ScryptBounds = Object.freeze({
  N: [MIN_SCRYPT_COST, 2 ** 22] as const,
  r: [1, 32] as const,
  p: [1, 16] as const,
});

function buildSchemas(zod: typeof z) {
  const b64 = zod.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
  const kdf = zod.object({
    name: zod.literal('scrypt'),
    N: zod.number().int(),
    r: zod.number().int(),
    p: zod.number().int(),
    salt: b64,
  });
  const file = zod.object({
    format: zod.literal(ENCRYPTED_STORE_FORMAT),
    version: zod.literal(1),
    kdf,
    cipher: zod.literal('aes-256-gcm'),
    iv: b64,
    tag: b64,
    data: b64,
  });
  const payload = zod.object({ environments: zod.record(zod.string(), zod.string()) });
  return { file, payload };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;
/** Built on first use, so that importing the secrets backends does not load zod. */
const storeSchemas = () => (schemas ??= buildSchemas(loadZod()));

export type EncryptedStoreFile = z.infer<ReturnType<typeof buildSchemas>['file']>;
export type StoreKdf = EncryptedStoreFile['kdf'];

/** Why a file cannot be used; the message holds no file content and no secret. */
export class EncryptedStoreFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptedStoreFormatError';
  }
}

/** Parses the file's text; throws {@link EncryptedStoreFormatError} when it is not the format. */
export function parseEncryptedStore(text: string): EncryptedStoreFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new EncryptedStoreFormatError('it is not a pgwarden encrypted credentials file');
  }
  const parsed = storeSchemas().file.safeParse(raw);
  if (!parsed.success) throw new EncryptedStoreFormatError('it is not a pgwarden encrypted credentials file');
  return parsed.data;
}

/** A new header's key-derivation settings, with a fresh salt. */
export function newStoreKdf(cost = DEFAULT_SCRYPT_COST): StoreKdf {
  return { name: 'scrypt', N: cost, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
}

/** The authenticated header: everything that decides how the key is derived. */
export function storeHeader(kdf: StoreKdf): string {
  return JSON.stringify({ format: ENCRYPTED_STORE_FORMAT, version: 1, kdf, cipher: 'aes-256-gcm' });
}

/**
 * Derives the file key. The parameters are judged first: the header is
 * authenticated only by this very key, so a tampered cost must be refused
 * before it is paid.
 */
export async function deriveStoreKey(passphrase: Secret, kdf: StoreKdf): Promise<Buffer> {
  const problem = scryptParamsProblem(kdf, STORE_SCRYPT_BOUNDS);
  if (problem !== undefined) {
    throw new EncryptedStoreFormatError(
      `its header asks for scrypt parameters pgwarden never writes (${problem}; at most ${SCRYPT_MAX_MEMORY_BYTES / 2 ** 30} GiB): it was altered or not written by pgwarden`,
    );
  }
  return scrypt(passphrase.reveal(), Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 128 * kdf.N * kdf.r + 32 * 1024 * 1024,
  });
}

/**
 * The stored passwords, or undefined when the key does not open the file
 * (a wrong passphrase, or altered content: GCM cannot tell them apart).
 */
export function decryptStore(file: EncryptedStoreFile, key: Buffer): Map<string, Secret> | undefined {
  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(file.iv, 'base64'));
    decipher.setAAD(Buffer.from(storeHeader(file.kdf)));
    decipher.setAuthTag(Buffer.from(file.tag, 'base64'));
    const data = Buffer.from(file.data, 'base64');
    plaintext = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(plaintext);
  } catch {
    raw = undefined;
  }
  const parsed = storeSchemas().payload.safeParse(raw);
  if (!parsed.success) throw new EncryptedStoreFormatError('its decrypted content is not the expected JSON');
  // A Map: environment names such as "__proto__" or "constructor" are plain keys here.
  return new Map(Object.entries(parsed.data.environments).map(([env, pw]) => [env, new Secret(pw)]));
}

/** The file holding `passwords`, encrypted under `key` with a fresh IV. */
export function encryptStore(kdf: StoreKdf, key: Buffer, passwords: ReadonlyMap<string, Secret>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(storeHeader(kdf)));
  const plaintext = JSON.stringify({
    environments: Object.fromEntries([...passwords].map(([env, pw]) => [env, pw.reveal()])),
  });
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const file: EncryptedStoreFile = {
    format: ENCRYPTED_STORE_FORMAT,
    version: 1,
    kdf,
    cipher: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}
