/**
 * The file header: a binary prelude (magic, version, length) and a JSON body
 * holding every parameter needed to open the file. The exact header bytes
 * are the additional authenticated data of every chunk, so any edit to the
 * header makes every chunk fail authentication.
 */
import { z } from 'zod';
import { BackupError, corrupt } from '../backup-error.js';
import {
  BACKUP_ID_PATTERN,
  COMPRESSIONS,
  FORMAT_VERSION,
  KEY_LENGTH,
  MAGIC,
  MAX_CHUNK_SIZE,
  MAX_HEADER_LENGTH,
  MIN_CHUNK_SIZE,
  NONCE_LENGTH,
  NONCE_PREFIX_LENGTH,
  PRELUDE_LENGTH,
  SALT_LENGTH,
  TAG_LENGTH,
} from './constants.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 that decodes to exactly `bytes` bytes (or at most `max`). */
function base64(bytes: number | { max: number }) {
  return z
    .string()
    .max(typeof bytes === 'number' ? Math.ceil(bytes / 3) * 4 : Math.ceil(bytes.max / 3) * 4)
    .regex(BASE64)
    .refine((value) => {
      const length = Buffer.from(value, 'base64').length;
      return typeof bytes === 'number' ? length === bytes : length > 0 && length <= bytes.max;
    }, 'wrong decoded length');
}

const WRAPPED_KEY_LENGTH = KEY_LENGTH + TAG_LENGTH;

/** How the data key is wrapped, per key source. Secrets never appear here, only wrapped keys. */
export const keyWrapSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('key-file'),
      /** Fingerprint of the key file's key (see key-file.ts). */
      keyId: z.string().regex(/^[0-9a-f]{16}$/),
      nonce: base64(NONCE_LENGTH),
      wrapped: base64(WRAPPED_KEY_LENGTH),
    })
    .strict(),
  z
    .object({
      type: z.literal('passphrase'),
      kdf: z.literal('scrypt'),
      // Bounds are checked in passphrase.ts before scrypt runs, with their own message.
      logN: z.number().int(),
      r: z.number().int(),
      p: z.number().int(),
      salt: base64(16),
      nonce: base64(NONCE_LENGTH),
      wrapped: base64(WRAPPED_KEY_LENGTH),
    })
    .strict(),
  z
    .object({
      type: z.literal('aws-kms'),
      /** The key ARN KMS returned from GenerateDataKey. */
      keyId: z.string().min(1).max(2048),
      region: z.string().min(1).max(64),
      ciphertextBlob: base64({ max: 6144 }),
    })
    .strict(),
  z
    .object({
      type: z.literal('vault-transit'),
      mount: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[A-Za-z0-9._/-]+$/),
      key: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[A-Za-z0-9._-]+$/),
      ciphertext: z
        .string()
        .max(4096)
        .regex(/^vault:v\d{1,9}:[A-Za-z0-9+/=]+$/),
    })
    .strict(),
]);
export type KeyWrap = z.infer<typeof keyWrapSchema>;
export type KeyKind = KeyWrap['type'];

export const headerSchema = z
  .object({
    backupId: z.string().regex(BACKUP_ID_PATTERN),
    createdAt: z.iso.datetime(),
    cipher: z.literal('aes-256-gcm'),
    kdf: z.literal('hkdf-sha256'),
    salt: base64(SALT_LENGTH),
    noncePrefix: base64(NONCE_PREFIX_LENGTH),
    chunkSize: z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE),
    compression: z.enum(COMPRESSIONS),
    key: keyWrapSchema,
    database: z.string().min(1).max(256),
    server: z.object({ version: z.string().min(1).max(64) }).strict(),
    pgDump: z.object({ version: z.string().min(1).max(64) }).strict(),
  })
  .strict();

/** The parsed header (base64 fields still encoded, as stored). */
export type BackupHeader = z.infer<typeof headerSchema>;

/** A header together with the exact bytes it was read from (the AAD of every chunk). */
export interface EncodedHeader {
  readonly header: BackupHeader;
  readonly bytes: Buffer;
}

/** Serializes a header: prelude then JSON, keys in the schema's order. */
export function encodeHeader(header: BackupHeader): EncodedHeader {
  const checked = headerSchema.parse(header);
  const json = Buffer.from(JSON.stringify(checked), 'utf8');
  if (json.length > MAX_HEADER_LENGTH) {
    throw new BackupError('PGW_BACKUP_UNSUPPORTED', `The backup header would be ${json.length} bytes.`, {
      fix: 'Shorten the database name or key identifier.',
    });
  }
  const prelude = Buffer.alloc(PRELUDE_LENGTH);
  MAGIC.copy(prelude, 0);
  prelude.writeUInt16BE(FORMAT_VERSION, 8);
  prelude.writeUInt32BE(json.length, 10);
  return { header: checked, bytes: Buffer.concat([prelude, json]) };
}

/**
 * Reads the prelude; returns the length of the JSON body that follows.
 * Bounds are enforced here, before anything of that length is buffered.
 */
export function parsePrelude(prelude: Buffer): number {
  if (prelude.length < PRELUDE_LENGTH || !prelude.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw corrupt(
      'This is not a pgwarden backup file (wrong magic bytes).',
      'Check the path; a file altered in transit (text mode, truncation) cannot be used.',
    );
  }
  const version = prelude.readUInt16BE(8);
  if (version !== FORMAT_VERSION) {
    throw new BackupError(
      'PGW_BACKUP_UNSUPPORTED',
      `The backup uses format version ${version}; this pgwarden reads version ${FORMAT_VERSION}.`,
      { fix: 'Use the pgwarden version that wrote the backup (docs/backup-format.md lists the versions).' },
    );
  }
  const length = prelude.readUInt32BE(10);
  if (length < 2 || length > MAX_HEADER_LENGTH) {
    throw corrupt(`The backup header claims ${length} bytes (at most ${MAX_HEADER_LENGTH} are valid).`);
  }
  return length;
}

/** Parses the JSON body of the header (the bytes after the prelude). */
export function parseHeaderJson(json: Buffer): BackupHeader {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    throw corrupt('The backup header is not valid JSON.');
  }
  const result = headerSchema.safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    throw corrupt(
      `The backup header is malformed (${first ? `${first.path.join('.') || 'header'}: ${first.message}` : 'invalid'}).`,
    );
  }
  return result.data;
}

/** Reads a whole header from the start of `bytes`, when the caller has them in memory. */
export function decodeHeader(bytes: Buffer): EncodedHeader {
  const length = parsePrelude(bytes.subarray(0, PRELUDE_LENGTH));
  if (bytes.length < PRELUDE_LENGTH + length) throw corrupt('The backup file ends inside its header.');
  const header = parseHeaderJson(bytes.subarray(PRELUDE_LENGTH, PRELUDE_LENGTH + length));
  return { header, bytes: bytes.subarray(0, PRELUDE_LENGTH + length) };
}
