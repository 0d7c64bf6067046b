/**
 * What verify and restore share: read a backup's header up front, open its
 * data key, check it against the manifest, and tell a wrong key from a
 * damaged file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import { BackupError, corrupt, ioError } from './backup-error.js';
import { PRELUDE_LENGTH } from './format/constants.js';
import { manifestKey } from './format/derive.js';
import { decodeHeader, parsePrelude, type EncodedHeader } from './format/header.js';
import { keyIdOf } from './keys/key-source.js';
import type { KeyResolver } from './keys/select.js';
import { authenticateManifest, type BackupManifest } from './manifest.js';
import type { BackupPaths } from './backup-dir.js';

/** Reads just the header of a backup file (bounded: at most 14 + 16 KiB bytes). */
export function readHeaderFromFile(path: string): EncodedHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw ioError(error, `opening ${path}`);
  }
  try {
    const prelude = Buffer.alloc(PRELUDE_LENGTH);
    const got = readSync(fd, prelude, 0, PRELUDE_LENGTH, 0);
    if (got < PRELUDE_LENGTH)
      throw corrupt(got === 0 ? 'The backup file is empty.' : 'The backup file ends inside its header.');
    const { length } = parsePrelude(prelude);
    const bytes = Buffer.alloc(PRELUDE_LENGTH + length);
    prelude.copy(bytes);
    const body = readSync(fd, bytes, PRELUDE_LENGTH, length, PRELUDE_LENGTH);
    if (body < length) throw corrupt('The backup file ends inside its header.');
    return decodeHeader(bytes);
  } finally {
    closeSync(fd);
  }
}

/** Checks what the manifest says about the file against its header, before any key is used. */
export function checkManifestAgainstHeader(
  manifest: BackupManifest,
  header: EncodedHeader,
  paths: BackupPaths,
): void {
  const h = header.header;
  if (manifest.id !== h.backupId || manifest.file !== basename(paths.file)) {
    throw corrupt(
      `The manifest ${basename(paths.manifest)} belongs to backup ${manifest.id}, not to ${h.backupId}.`,
    );
  }
  if (
    manifest.key.id !== keyIdOf(h.key) ||
    manifest.compression !== h.compression ||
    manifest.chunkSize !== h.chunkSize
  ) {
    throw corrupt(
      `The manifest ${basename(paths.manifest)} and the backup header disagree (key, compression or chunk size).`,
    );
  }
}

export interface OpenedKeys {
  /** The manifest HMAC key, once the data key was opened. */
  manifestKey: Buffer | undefined;
  /** Set when the manifest failed authentication (it must then not be rewritten). */
  manifestRejected?: boolean;
}

/**
 * The `openKey` callback of a ChunkDecryptor: unwraps the data key
 * with the matching source and authenticates the manifest with it, so no
 * plaintext flows before the manifest is known to be genuine.
 */
export function keyOpener(
  resolver: KeyResolver,
  expected: EncodedHeader,
  manifest: BackupManifest | undefined,
  paths: BackupPaths,
  opened: OpenedKeys,
): (header: EncodedHeader) => Promise<Buffer> {
  return async (header) => {
    if (!header.bytes.equals(expected.bytes))
      throw corrupt('The backup header changed while the file was being read.');
    const { backupId, key, salt } = header.header;
    const dataKey = await resolver(key).openDataKey(key, backupId);
    const mk = manifestKey(dataKey, Buffer.from(salt, 'base64'));
    if (manifest) {
      try {
        authenticateManifest(manifest, mk, paths.manifest);
      } catch (error) {
        opened.manifestRejected = true;
        dataKey.fill(0);
        mk.fill(0);
        throw error;
      }
    }
    opened.manifestKey = mk;
    return dataKey;
  };
}

/**
 * A data key already opened for `header`, and the manifest authenticated
 * with it: verify opens the key once and hands it to the later passes (one
 * scrypt run or one KMS call per verification, not one per pass).
 */
export interface OpenedDataKey {
  readonly header: EncodedHeader;
  /** Copied for each decryptor; its owner zeroes it. */
  readonly dataKey: Buffer;
}

/** The `openKey` callback of a ChunkDecryptor for a key opened before: the stream must carry the same header. */
export function alreadyOpened(opened: OpenedDataKey): (header: EncodedHeader) => Promise<Buffer> {
  return async (header) => {
    if (!header.bytes.equals(opened.header.bytes))
      throw corrupt('The backup header changed while the file was being read.');
    return Buffer.from(opened.dataKey);
  };
}

/** SHA-256 and size of a whole file, streamed. */
export async function hashFile(
  path: string,
  onBytes?: (bytes: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      onBytes?.(bytes);
    }
  } catch (error) {
    throw ioError(error, `reading ${path}`);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Level 1: the file's SHA-256 and size against the manifest (no key needed). */
export async function checkFileHash(
  paths: BackupPaths,
  manifest: BackupManifest,
  onBytes?: (bytes: number) => void,
): Promise<void> {
  const { sha256, bytes } = await hashFile(paths.file, onBytes);
  if (bytes !== manifest.sizes.file || sha256 !== manifest.sha256) {
    throw corrupt(
      `The backup file ${basename(paths.file)} does not match its manifest (${bytes === manifest.sizes.file ? 'SHA-256 differs' : `${bytes} bytes, manifest says ${manifest.sizes.file}`}): it was altered or truncated.`,
    );
  }
}

/**
 * A wrong key and an altered header look alike to a passphrase or to Vault:
 * when a manifest exists, a file that no longer matches it is corruption.
 */
export async function reclassifyKeyError(
  error: unknown,
  paths: BackupPaths,
  manifest: BackupManifest | undefined,
): Promise<unknown> {
  if (!(error instanceof BackupError) || error.code !== 'PGW_BACKUP_WRONG_KEY' || !manifest) return error;
  try {
    await checkFileHash(paths, manifest);
  } catch (hashError) {
    return hashError;
  }
  return error;
}
