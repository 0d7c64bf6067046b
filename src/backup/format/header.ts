/**
 * The file header: a binary prelude (magic, version, length) and a JSON body
 * holding every parameter needed to open the file. The exact header bytes
 * are the additional authenticated data of every chunk, so any edit to the
 * header makes every chunk fail authentication.
 */
import type * as Zod from 'zod';
import { loadZod } from '../../config/zod.js';
import { BackupError, corrupt } from '../backup-error.js';
import {
  BACKUP_ID_PATTERN,
  COMPRESSIONS,
  FORMAT_VERSION,
  FRAMED_COMPRESSIONS,
  KEY_LENGTH,
  MAGIC,
  MAX_CHUNK_SIZE,
  MAX_FRAME_SIZE,
  MAX_HEADER_LENGTH,
  MIN_CHUNK_SIZE,
  MIN_FRAME_SIZE,
  NONCE_LENGTH,
  NONCE_PREFIX_LENGTH,
  PRELUDE_LENGTH,
  READABLE_VERSIONS,
  SALT_LENGTH,
  TAG_LENGTH,
  V1_COMPRESSIONS,
  type FormatVersion,
} from './constants.js';

// One zod per process: config/zod.ts.
const z = loadZod();

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
export type KeyWrap = Zod.infer<typeof keyWrapSchema>;
export type KeyKind = KeyWrap['type'];

const commonFields = {
  backupId: z.string().regex(BACKUP_ID_PATTERN),
  createdAt: z.iso.datetime(),
  cipher: z.literal('aes-256-gcm'),
  kdf: z.literal('hkdf-sha256'),
  salt: base64(SALT_LENGTH),
  noncePrefix: base64(NONCE_PREFIX_LENGTH),
  chunkSize: z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE),
};
const tailFields = {
  key: keyWrapSchema,
  database: z.string().min(1).max(256),
  server: z.object({ version: z.string().min(1).max(64) }).strict(),
  pgDump: z.object({ version: z.string().min(1).max(64) }).strict(),
};

/** Version 1: one compressed stream; no frames. */
const headerV1Schema = z
  .object({ ...commonFields, compression: z.enum(V1_COMPRESSIONS), ...tailFields })
  .strict();

/**
 * Version 2: `frameSize` is present exactly when pgwarden compresses
 * (brotli, gzip, zstd-frames): the payload is then a sequence of frames.
 */
const headerV2Schema = z
  .object({
    ...commonFields,
    compression: z.enum(COMPRESSIONS),
    frameSize: z.number().int().min(MIN_FRAME_SIZE).max(MAX_FRAME_SIZE).optional(),
    ...tailFields,
  })
  .strict()
  .refine(
    (h) => (h.frameSize !== undefined) === (FRAMED_COMPRESSIONS as readonly string[]).includes(h.compression),
    { message: 'frameSize must be given exactly for brotli, gzip and zstd-frames', path: ['frameSize'] },
  );

/** The header of either version (base64 fields still encoded, as stored). */
export type BackupHeader = Zod.infer<typeof headerV2Schema>;

function schemaOf(version: FormatVersion) {
  return version === 1 ? headerV1Schema : headerV2Schema;
}

/** A header together with the exact bytes it was read from (the AAD of every chunk). */
export interface EncodedHeader {
  readonly header: BackupHeader;
  readonly bytes: Buffer;
  /** The format version in the prelude. */
  readonly version: FormatVersion;
}

/**
 * Serializes a header: prelude then JSON, keys in the schema's order.
 * Version 1 is written only by tests, to prove old backups still read.
 */
export function encodeHeader(header: BackupHeader, version: FormatVersion = FORMAT_VERSION): EncodedHeader {
  const checked = schemaOf(version).parse(header) as BackupHeader;
  const json = Buffer.from(JSON.stringify(checked), 'utf8');
  if (json.length > MAX_HEADER_LENGTH) {
    throw new BackupError('PGW_BACKUP_UNSUPPORTED', `The backup header would be ${json.length} bytes.`, {
      fix: 'Shorten the database name or key identifier.',
    });
  }
  const prelude = Buffer.alloc(PRELUDE_LENGTH);
  MAGIC.copy(prelude, 0);
  prelude.writeUInt16BE(version, 8);
  prelude.writeUInt32BE(json.length, 10);
  return { header: checked, bytes: Buffer.concat([prelude, json]), version };
}

export interface Prelude {
  readonly version: FormatVersion;
  /** Length of the JSON body that follows. */
  readonly length: number;
}

/**
 * Reads the prelude: the version and the length of the JSON body that
 * follows. Bounds are enforced here, before anything of that length is buffered.
 */
export function parsePrelude(prelude: Buffer): Prelude {
  if (prelude.length < PRELUDE_LENGTH || !prelude.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw corrupt(
      'This is not a pgwarden backup file (wrong magic bytes).',
      'Check the path; a file altered in transit (text mode, truncation) cannot be used.',
    );
  }
  const version = prelude.readUInt16BE(8);
  if (!(READABLE_VERSIONS as readonly number[]).includes(version)) {
    throw new BackupError(
      'PGW_BACKUP_UNSUPPORTED',
      `The backup uses format version ${version}; this pgwarden reads versions ${READABLE_VERSIONS.join(' and ')}.`,
      { fix: 'Use the pgwarden version that wrote the backup (docs/backup-format.md lists the versions).' },
    );
  }
  const length = prelude.readUInt32BE(10);
  if (length < 2 || length > MAX_HEADER_LENGTH) {
    throw corrupt(`The backup header claims ${length} bytes (at most ${MAX_HEADER_LENGTH} are valid).`);
  }
  return { version: version as FormatVersion, length };
}

/** Parses the JSON body of the header (the bytes after the prelude) with the schema of its version. */
export function parseHeaderJson(json: Buffer, version: FormatVersion): BackupHeader {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    throw corrupt('The backup header is not valid JSON.');
  }
  const result = schemaOf(version).safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    throw corrupt(
      `The backup header is malformed (${first ? `${first.path.join('.') || 'header'}: ${first.message}` : 'invalid'}).`,
    );
  }
  return result.data as BackupHeader;
}

/** Reads a whole header from the start of `bytes`, when the caller has them in memory. */
export function decodeHeader(bytes: Buffer): EncodedHeader {
  const { version, length } = parsePrelude(bytes.subarray(0, PRELUDE_LENGTH));
  if (bytes.length < PRELUDE_LENGTH + length) throw corrupt('The backup file ends inside its header.');
  const header = parseHeaderJson(bytes.subarray(PRELUDE_LENGTH, PRELUDE_LENGTH + length), version);
  return { header, bytes: bytes.subarray(0, PRELUDE_LENGTH + length), version };
}
