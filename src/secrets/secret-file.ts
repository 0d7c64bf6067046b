import { open, type FileHandle } from 'node:fs/promises';
import { SecretError } from '../errors.js';
import { backendError } from './backend-error.js';

/** Secret files are small; refusing big ones stops a wrong path (a log, a dump) from being slurped. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/** What was read, plus the facts callers judge permissions and versions by. */
export interface SecretFileContent {
  text: string;
  /** Permission bits (`mode & 0o777`). */
  mode: number;
  mtimeMs: number;
}

/** Names used in messages about the file. */
export interface SecretFileContext {
  backend: string;
  /** The variable or option that named the file, e.g. `DB_PASSWORD_FILE`. */
  option: string;
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
    if (!stat.isFile()) {
      throw backendError(
        'PGW_SECRET_NOT_FOUND',
        context.backend,
        `${path} (${context.option}) is not a regular file.`,
        {
          option: context.option,
          fix: `Point ${context.option} at the file that holds the secret.`,
        },
      );
    }
    if (stat.size > MAX_SECRET_FILE_BYTES) {
      throw backendError(
        'PGW_SECRET_MALFORMED',
        context.backend,
        `${path} (${context.option}) is ${stat.size} bytes; a secret file is at most ${MAX_SECRET_FILE_BYTES}.`,
        {
          option: context.option,
          fix: `Check that ${context.option} names the secret file and not another file.`,
        },
      );
    }
    const text = await handle.readFile({ encoding: 'utf8' });
    return { text, mode: stat.mode & 0o777, mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw fileError(error, path, context);
  } finally {
    await handle.close();
  }
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

function fileError(error: unknown, path: string, context: SecretFileContext): SecretError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return backendError(
      'PGW_SECRET_NOT_FOUND',
      context.backend,
      `${path} (${context.option}) does not exist.`,
      {
        option: context.option,
        fix: `Create the file or point ${context.option} at it (mount the secret into the container).`,
        cause: error,
      },
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return backendError(
      'PGW_SECRET_ACCESS_DENIED',
      context.backend,
      `${path} (${context.option}) is not readable by this process.`,
      {
        option: context.option,
        fix: `Give the user running the application read access (e.g. chown it, then chmod 600 ${path}).`,
        cause: error,
      },
    );
  }
  if (code === 'EISDIR') {
    return backendError(
      'PGW_SECRET_NOT_FOUND',
      context.backend,
      `${path} (${context.option}) is a directory.`,
      {
        option: context.option,
        fix: `Point ${context.option} at the file inside it.`,
        cause: error,
      },
    );
  }
  return backendError(
    'PGW_SECRET_BACKEND_UNAVAILABLE',
    context.backend,
    `${path} (${context.option}) could not be read.`,
    {
      option: context.option,
      fix: 'Check the file system the file lives on.',
      cause: error,
    },
  );
}

/** Removes trailing line breaks only: spaces and tabs may be part of a password. */
export function trimTrailingNewlines(text: string): string {
  return text.replace(/(?:\r?\n)+$/, '');
}
