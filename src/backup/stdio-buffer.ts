/**
 * pg_dump writes its archive to stdout, and pg_restore reads it from stdin,
 * through a C stdio buffer that glibc sizes by the pipe's block size: 4 KiB.
 * Measured at 448 MB of archive, that is 109 000 write calls, and the Node
 * end of the pipe woke for 40 000-50 000 reads of about 10 KiB each (0.7
 * core-seconds to read what `pg_dump > /dev/null` writes for free).
 * Run through coreutils' stdbuf, the tool's stream gets a 1 MiB buffer:
 * 429 writes, reads of 48 KiB on average, and about half the reading CPU
 * (bench/README.md#backup).
 *
 * stdbuf (GNU coreutils, on every glibc Linux) preloads a library that
 * calls setvbuf before the tool's main(); then it execs the tool, so the
 * child's PID is the tool's. It is taken only from the system's own
 * directories, never from PATH: a program that runs before pg_dump, with
 * the passfile descriptor open, must not be whatever a writable PATH entry
 * holds (pg_dump itself is looked up in PostgreSQL's directories first for
 * the same reason). It is used only after it ran the tool once (the version
 * probe): where it is missing (macOS, musl, busybox, NixOS) or fails, the
 * tool runs as it is.
 */
import { isExecutable } from '../fs/executable.js';

/** Bytes of the buffer given to the archive's stream: 1 MiB, which stdbuf hands the tool as `_STDBUF_O` / `_STDBUF_I`. */
export const STDIO_BUFFER = 1024 * 1024;

/** Where coreutils installs stdbuf on glibc distributions (Debian, Ubuntu, Fedora, Arch…). */
export const SYSTEM_STDBUF: readonly string[] = ['/usr/bin/stdbuf', '/bin/stdbuf'];

/** The first of `candidates` this process may execute, if any. */
export function findStdbuf(candidates: readonly string[] = SYSTEM_STDBUF): string | undefined {
  return candidates.find(isExecutable);
}

/** The stdbuf arguments that run `tool` with a 1 MiB buffer on the stream it moves the archive through. */
export function stdbufArgs(stream: 'stdin' | 'stdout', tool: string): string[] {
  return [stream === 'stdin' ? `-i${STDIO_BUFFER}` : `-o${STDIO_BUFFER}`, tool];
}
