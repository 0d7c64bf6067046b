import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

/** The size of `path` in bytes, or 0 when it does not exist yet. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The text of `path` from byte `offset` on ('' when the file is missing). */
export function readFrom(path: string, offset = 0): string {
  if (offset === 0) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  }
  const size = fileSize(path);
  if (size <= offset) return '';
  const buffer = Buffer.alloc(size - offset);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
}

/** The last `lines` non-empty lines of `text`, for error messages. */
export function tail(text: string, lines = 25): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join('\n');
}
