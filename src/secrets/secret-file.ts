import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { PgwardenError, type SecretError } from '../errors.js';
import { backendError } from './backend-error.js';

/** Secret files are small; refusing big ones stops a wrong path (a log, a dump) from being slurped. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/** What was read, plus the facts callers judge permissions and versions by. */
export interface SecretFileContent {
  text: string;
  /** Permission bits (`mode & 0o777`). */
  mode: number;
  /** The owner's uid. */
  uid: number;
  mtimeMs: number;
}

/** Why a secret file could not be read. */
export type SecretFileProblem = 'missing' | 'not-file' | 'directory' | 'too-large' | 'denied' | 'unreadable';

/** Names used in messages about the file. */
export interface SecretFileContext {
  backend: string;
  /** The variable or option that named the file, e.g. `DB_PASSWORD_FILE`. */
  option: string;
  /**
   * Builds the error for a problem, so other domains (backup key files) keep
   * their own codes. Default: `PGW_SECRET_*` errors naming the backend.
   */
  fail?: (
    problem: SecretFileProblem,
    detail: { path: string; size?: number; cause?: unknown },
  ) => PgwardenError;
}

/**
 * Reads a file that holds a secret. The mode is taken with `fstat` on the
 * descriptor that is then read, so a file swapped between the check and the
 * read (Kubernetes updates secret volumes by swapping a symlink) cannot pass
 * one file's check with another file's content.
 */
export async function readSecretFile(path: string, context: SecretFileContext): Promise<SecretFileContent> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fileError(error, path, context);
  }
  try {
    const stat = await handle.stat();
    checkStat(stat, path, context);
    const text = await handle.readFile({ encoding: 'utf8' });
    return { text, mode: stat.mode & 0o777, uid: stat.uid, mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (error instanceof PgwardenError) throw error;
    throw fileError(error, path, context);
  } finally {
    await handle.close();
  }
}

/** {@link readSecretFile} for callers that must stay synchronous (a key file checked when a backup starts). */
export function readSecretFileSync(path: string, context: SecretFileContext): SecretFileContent {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw fileError(error, path, context);
  }
  try {
    const stat = fstatSync(fd);
    checkStat(stat, path, context);
    const text = readFileSync(fd, 'utf8');
    return { text, mode: stat.mode & 0o777, uid: stat.uid, mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (error instanceof PgwardenError) throw error;
    throw fileError(error, path, context);
  } finally {
    closeSync(fd);
  }
}

function checkStat(
  stat: { isFile(): boolean; size: number },
  path: string,
  context: SecretFileContext,
): void {
  if (!stat.isFile()) throw problemError('not-file', path, context);
  if (stat.size > MAX_SECRET_FILE_BYTES) throw problemError('too-large', path, context, { size: stat.size });
}

/**
 * libpq's rule for a client key (and pgwarden's for backup key and
 * passphrase files): no access for group or others, except that a
 * root-owned file may be group-readable (0640), as system packaging does.
 */
export function isPrivateEnough(mode: number, uid: number): boolean {
  const ownedByUs = typeof process.getuid === 'function' && uid === process.getuid();
  return ownedByUs || uid !== 0 ? (mode & 0o077) === 0 : (mode & 0o037) === 0;
}

/** True when the mode lets group or others read the file. */
export function isGroupOrWorldReadable(mode: number): boolean {
  return (mode & 0o044) !== 0;
}

/** True when the mode lets anyone on the machine read the file. */
export function isWorldReadable(mode: number): boolean {
  return (mode & 0o004) !== 0;
}

/** Permission checks are meaningless on Windows, where Node reports synthetic modes. */
export const PERMISSION_BITS_MEANINGFUL = process.platform !== 'win32';

function fileError(error: unknown, path: string, context: SecretFileContext): PgwardenError {
  const code = (error as { code?: unknown } | null)?.code;
  const problem: SecretFileProblem =
    code === 'ENOENT' || code === 'ENOTDIR'
      ? 'missing'
      : code === 'EACCES' || code === 'EPERM'
        ? 'denied'
        : code === 'EISDIR'
          ? 'directory'
          : 'unreadable';
  return problemError(problem, path, context, { cause: error });
}

function problemError(
  problem: SecretFileProblem,
  path: string,
  context: SecretFileContext,
  detail: { size?: number; cause?: unknown } = {},
): PgwardenError {
  if (context.fail) return context.fail(problem, { path, ...detail });
  return secretFileError(problem, path, context, detail);
}

function secretFileError(
  problem: SecretFileProblem,
  path: string,
  context: SecretFileContext,
  detail: { size?: number; cause?: unknown },
): SecretError {
  const { backend, option } = context;
  const cause = detail.cause === undefined ? {} : { cause: detail.cause };
  switch (problem) {
    case 'missing':
      return backendError('PGW_SECRET_NOT_FOUND', backend, `${path} (${option}) does not exist.`, {
        option,
        fix: `Create the file or point ${option} at it (mount the secret into the container).`,
        ...cause,
      });
    case 'denied':
      return backendError(
        'PGW_SECRET_ACCESS_DENIED',
        backend,
        `${path} (${option}) is not readable by this process.`,
        {
          option,
          fix: `Give the user running the application read access (e.g. chown it, then chmod 600 ${path}).`,
          ...cause,
        },
      );
    case 'directory':
      return backendError('PGW_SECRET_NOT_FOUND', backend, `${path} (${option}) is a directory.`, {
        option,
        fix: `Point ${option} at the file inside it.`,
        ...cause,
      });
    case 'not-file':
      return backendError('PGW_SECRET_NOT_FOUND', backend, `${path} (${option}) is not a regular file.`, {
        option,
        fix: `Point ${option} at the file that holds the secret.`,
      });
    case 'too-large':
      return backendError(
        'PGW_SECRET_MALFORMED',
        backend,
        `${path} (${option}) is ${detail.size ?? '?'} bytes; a secret file is at most ${MAX_SECRET_FILE_BYTES}.`,
        { option, fix: `Check that ${option} names the secret file and not another file.` },
      );
    case 'unreadable':
      return backendError(
        'PGW_SECRET_BACKEND_UNAVAILABLE',
        backend,
        `${path} (${option}) could not be read.`,
        {
          option,
          fix: 'Check the file system the file lives on.',
          ...cause,
        },
      );
  }
}

/** Removes trailing line breaks only: spaces and tabs may be part of a password. */
export function trimTrailingNewlines(text: string): string {
  return text.replace(/(?:\r?\n)+$/, '');
}
