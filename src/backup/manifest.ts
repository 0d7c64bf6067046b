/**
 * The manifest: a JSON file beside each backup describing it (sizes, hash,
 * key id, row counts per table, retention, last verification), authenticated
 * with an HMAC whose key is derived from the backup's data key. Only a
 * holder of the key can write a manifest that verifies.
 *
 * The file is stored in one canonical form (sorted keys, two-space indent);
 * a manifest whose bytes differ from that form is rejected, so no edit, not
 * even to white space, goes unnoticed.
 *
 * The verification record has its own HMAC (chained to the manifest's), so
 * `verify` can record a result without rewriting what `create` signed. A
 * level-1 check run without the key records `hmac: null` (unauthenticated).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type * as Zod from 'zod';
import { loadZod } from '../config/zod.js';
import { BackupError, corrupt, ioError } from './backup-error.js';
import { BACKUP_ID_PATTERN, COMPRESSIONS } from './format/constants.js';

// One zod per process: config/zod.ts.
const z = loadZod();

const HEX64 = /^[0-9a-f]{64}$/;

export const verificationSchema = z
  .object({
    level: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    ok: z.boolean(),
    at: z.iso.datetime(),
    durationMs: z.number().int().min(0),
    /** The coded error of a failed verification. */
    error: z.object({ code: z.string(), message: z.string() }).strict().nullable(),
    /** HMAC over this record and the manifest's HMAC; null when made without the key. */
    hmac: z.string().regex(HEX64).nullable(),
  })
  .strict();
export type VerificationRecord = Zod.infer<typeof verificationSchema>;

export const tableCountSchema = z
  .object({ schema: z.string(), name: z.string(), rows: z.number().int().min(0) })
  .strict();
export type TableCount = Zod.infer<typeof tableCountSchema>;

export const manifestSchema = z
  .object({
    format: z.literal('pgwarden-backup-manifest'),
    version: z.literal(1),
    id: z.string().regex(BACKUP_ID_PATTERN),
    /** The backup file's name, in the same directory. */
    file: z.string().min(1),
    createdAt: z.iso.datetime(),
    completedAt: z.iso.datetime(),
    database: z.string().min(1),
    host: z.string(),
    port: z.number().int(),
    server: z.object({ version: z.string(), versionNum: z.number().int() }).strict(),
    pgDump: z.object({ version: z.string() }).strict(),
    compression: z.enum(COMPRESSIONS),
    chunkSize: z.number().int().positive(),
    chunks: z.number().int().positive(),
    sizes: z
      .object({
        /** pg_dump's output (the plaintext), bytes. */
        dump: z.number().int().min(0),
        /** The backup file, bytes. */
        file: z.number().int().min(0),
      })
      .strict(),
    /** SHA-256 of the whole backup file, hex. */
    sha256: z.string().regex(HEX64),
    key: z.object({ type: z.string(), id: z.string() }).strict(),
    /** Row counts per table, taken in the snapshot pg_dump used; null when counting was turned off. */
    tables: z.array(tableCountSchema).nullable(),
    retention: z
      .object({ class: z.string().min(1), keepDays: z.number().int().min(0), expiresAt: z.iso.datetime() })
      .strict(),
    verification: verificationSchema.nullable(),
    hmac: z.string().regex(HEX64),
  })
  .strict();
export type BackupManifest = Zod.infer<typeof manifestSchema>;
export type UnsignedManifest = Omit<BackupManifest, 'hmac' | 'verification'>;

/** JSON with keys sorted at every level, two-space indent, trailing newline. */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

function mac(key: Buffer, label: string, ...parts: string[]): string {
  const hmac = createHmac('sha256', key).update(`pgwarden-backup/1 ${label}\0`);
  for (const part of parts) hmac.update(part).update('\0');
  return hmac.digest('hex');
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

function bodyOf(manifest: UnsignedManifest | BackupManifest): string {
  const { hmac: _hmac, verification: _verification, ...body } = manifest as BackupManifest;
  return canonicalJson(body);
}

function verificationMac(key: Buffer, manifestHmac: string, record: VerificationRecord): string {
  const { hmac: _hmac, ...body } = record;
  return mac(key, 'verification', manifestHmac, canonicalJson(body));
}

/** Signs a new manifest (no verification yet). */
export function signManifest(unsigned: UnsignedManifest, key: Buffer): BackupManifest {
  const manifest = { ...unsigned, verification: null, hmac: mac(key, 'manifest', bodyOf(unsigned)) };
  return manifestSchema.parse(manifest);
}

/** Sets the verification record, signed when the manifest key is known. */
export function withVerification(
  manifest: BackupManifest,
  record: Omit<VerificationRecord, 'hmac'>,
  key: Buffer | undefined,
): BackupManifest {
  const unsigned: VerificationRecord = { ...record, hmac: null };
  const verification = key ? { ...unsigned, hmac: verificationMac(key, manifest.hmac, unsigned) } : unsigned;
  return { ...manifest, verification };
}

/** Checks both HMACs; throws PGW_BACKUP_CORRUPT naming the manifest when either fails. */
export function authenticateManifest(manifest: BackupManifest, key: Buffer, path: string): void {
  if (!sameHex(manifest.hmac, mac(key, 'manifest', bodyOf(manifest)))) {
    throw corrupt(
      `The manifest ${basename(path)} failed authentication: it was altered or belongs to another backup.`,
    );
  }
  const record = manifest.verification;
  if (record?.hmac && !sameHex(record.hmac, verificationMac(key, manifest.hmac, record))) {
    throw corrupt(`The verification record in ${basename(path)} failed authentication: it was altered.`);
  }
}

/** Parses a manifest without authenticating it (that needs the key). */
export function parseManifest(text: string, path: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt(`The manifest ${basename(path)} is not valid JSON.`);
  }
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    throw corrupt(
      `The manifest ${basename(path)} is malformed (${first ? `${first.path.join('.') || 'manifest'}: ${first.message}` : 'invalid'}).`,
    );
  }
  if (canonicalJson(result.data) !== text) {
    throw corrupt(
      `The manifest ${basename(path)} is not in canonical form: it was edited after pgwarden wrote it.`,
    );
  }
  return result.data;
}

export function readManifest(path: string): BackupManifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BackupError('PGW_BACKUP_NOT_FOUND', `The manifest ${path} does not exist.`, {
        fix: 'Pass the id of a backup listed by `pgwarden backup list`, or the path of its .pgwb file.',
      });
    }
    throw ioError(error, `reading ${path}`);
  }
  return parseManifest(text, path);
}

/** Writes atomically (temporary file, fsync, rename), mode 0600. */
export function writeManifest(path: string, manifest: BackupManifest): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, canonicalJson(manifestSchema.parse(manifest)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw ioError(error, `writing ${path}`);
  }
}
