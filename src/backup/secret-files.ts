/**
 * Files a child process must read but nobody else may find: the libpq
 * passfile and decrypted client keys for pg_dump and pg_restore, and the
 * decrypted dump `restore --jobs` hands to pg_restore.
 *
 * On Linux (`descriptors`) each file is written 0600 in a private 0700
 * directory, opened, and unlinked at once, and the directory removed: the
 * child gets the open descriptor (stdio slot 3, 4, …) and reads it as
 * `/dev/fd/N`. Opening /dev/fd/N there reopens the file itself (with its own
 * offset), so libpq's checks (a regular file, mode 0600, owned by the user)
 * pass, every connection reads it from the start, and so do pg_restore -j
 * workers (forks that inherit the descriptor). The content exists on disk
 * without a name only while a process holds it; a SIGKILL of pgwarden
 * leaves nothing to find, and the kernel frees it when the child exits too.
 * A FIFO would not do: libpq ignores a passfile that is not a regular file.
 *
 * Elsewhere (`files`), /dev/fd/N is a dup sharing one offset (macOS), which
 * a second reader would see at end of file; the files keep their names in
 * the private directory until `dispose()`, and a killed run leaves them
 * there until the next run removes the directory (see `removeStale`).
 *
 * Either way the directory is named `pgwarden-<purpose>-<pid>-XXXXXX`, so a
 * later run can tell whether its owner is still alive.
 */
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type SecretFileMode = 'descriptors' | 'files';

/** What the private directories are for; part of their names. */
export type SecretFilePurpose = 'libpq' | 'restore';
const STALE = /^pgwarden-(?:libpq|restore)-(\d+)-[A-Za-z0-9]{6}$/;

/** `descriptors` where /dev/fd/N reopens the file (Linux), else `files`. */
export function defaultSecretFileMode(): SecretFileMode {
  return process.platform === 'linux' ? 'descriptors' : 'files';
}

export interface SecretFilesOptions {
  /** Default {@link defaultSecretFileMode}. */
  mode?: SecretFileMode;
  /** Where the private directory is made. Default the OS temp directory. */
  tmpDir?: string;
  /** Default `libpq`. */
  purpose?: SecretFilePurpose;
  /** The child's first descriptor for these files: 3, or after the slots of another SecretFiles. */
  firstFd?: number;
}

export class SecretFiles {
  readonly mode: SecretFileMode;
  readonly #tmp: string;
  readonly #purpose: SecretFilePurpose;
  readonly #firstFd: number;
  #dir: string | undefined;
  /** Descriptors handed to the child, in slot order. */
  readonly #handed: number[] = [];
  /** Every descriptor this object opened, with whether to overwrite it before closing. */
  readonly #open: { fd: number; wipe: boolean }[] = [];
  #disposed = false;

  constructor(options: SecretFilesOptions = {}) {
    this.mode = options.mode ?? defaultSecretFileMode();
    this.#tmp = options.tmpDir ?? tmpdir();
    this.#purpose = options.purpose ?? 'libpq';
    this.#firstFd = options.firstFd ?? 3;
    removeStale(this.#tmp);
  }

  /** Writes `content` (mode 0600) and returns the path the child reads it by. */
  add(name: string, content: string): string {
    const { fd, path } = this.#create(name, true);
    writeSync(fd, content);
    return path;
  }

  /**
   * A new empty 0600 file for the caller to write through `fd` (never to
   * close it: dispose does), and the path the child reads it by.
   */
  create(name: string): { fd: number; path: string } {
    return this.#create(name, false);
  }

  #create(name: string, wipe: boolean): { fd: number; path: string } {
    this.#dir ??= mkdtempSync(join(this.#tmp, `pgwarden-${this.#purpose}-${process.pid}-`));
    const path = join(this.#dir, name);
    const fd = openSync(path, 'wx+', 0o600);
    this.#open.push({ fd, wipe });
    if (this.mode === 'files') return { fd, path };
    unlinkSync(path);
    this.#handed.push(fd);
    return { fd, path: `/dev/fd/${this.#firstFd + this.#handed.length - 1}` };
  }

  /** Called once every file is added: in `descriptors` mode the (empty) directory goes at once. */
  seal(): void {
    if (this.mode === 'descriptors' && this.#dir) {
      rmdirSync(this.#dir);
      this.#dir = undefined;
    }
  }

  /** The child's stdio: `base` (stdin, stdout, stderr, …), then the descriptors the returned paths name. */
  stdio<T>(base: readonly T[]): (T | number)[] {
    if (base.length !== this.#firstFd) {
      throw new Error(`stdio needs ${this.#firstFd} slots before the secret files, got ${base.length}`);
    }
    return [...base, ...this.#handed];
  }

  /** Overwrites (small files) or empties, and closes the descriptors; removes the directory. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#handed.length = 0;
    for (const { fd, wipe } of this.#open.splice(0)) {
      try {
        // A child still holding the file (a pg_dump being stopped) reads zeros, not the secret.
        const size = wipe ? fstatSync(fd).size : 0;
        if (size > 0) writeSync(fd, Buffer.alloc(size), 0, size, 0);
        ftruncateSync(fd, 0);
      } catch {
        // closing is what matters
      }
      closeSync(fd);
    }
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

/**
 * Removes `pgwarden-libpq-<pid>-*` and `pgwarden-restore-<pid>-*` directories
 * of this user whose process is gone (a killed run). A live owner's directory, another user's, or one
 * without a PID in its name is left alone: nothing says it is unused.
 */
export function removeStale(tmp: string = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const match = STALE.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    const path = join(tmp, name);
    try {
      const stat = lstatSync(path);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // removed by someone else meanwhile, or not ours to remove
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
