/**
 * Fixed values of the backup format (docs/backup-format.md). Changing any of
 * them changes the format: bump {@link FORMAT_VERSION} instead.
 */

/** `\x89PGWB\r\n\x1a`: non-ASCII first byte and CR-LF catch text-mode transfers, as PNG's signature does. */
export const MAGIC = Buffer.from([0x89, 0x50, 0x47, 0x57, 0x42, 0x0d, 0x0a, 0x1a]);
/** The version pgwarden writes. */
export const FORMAT_VERSION = 2;
/**
 * Versions pgwarden reads. 1: the payload is one compressed stream. 2: the
 * payload is a sequence of independently compressed, length-framed frames,
 * so that frames can be compressed and decompressed in parallel.
 */
export const READABLE_VERSIONS = [1, 2] as const;
export type FormatVersion = (typeof READABLE_VERSIONS)[number];
/** Magic (8) + version (u16 BE) + header length (u32 BE). */
export const PRELUDE_LENGTH = 14;
/** Upper bound on the JSON header, enforced before it is read into memory. */
export const MAX_HEADER_LENGTH = 16 * 1024;
export const TAG_LENGTH = 16;
export const KEY_LENGTH = 32;
export const NONCE_LENGTH = 12;
/** Nonce = prefix (7) || chunk counter (u32 BE) || last-chunk flag (1). */
export const NONCE_PREFIX_LENGTH = 7;
export const SALT_LENGTH = 32;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** Bounds accepted when reading; small chunks exist for tests, large ones would cost memory. */
export const MIN_CHUNK_SIZE = 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;
/** The counter is 32 bits: 2^32 chunks of 64 KiB is 256 TiB. */
export const MAX_CHUNKS = 0xffff_ffff;

/** HKDF `info` strings: one key per purpose, all from the file's data key. */
export const INFO_PAYLOAD = 'pgwarden-backup/1 payload';
export const INFO_MANIFEST = 'pgwarden-backup/1 manifest';
/** Additional data of a wrapped data key: binds it to one backup id. */
export const WRAP_AAD_PREFIX = 'pgwarden-backup/1 key-wrap\0';

export const BACKUP_FILE_SUFFIX = '.pgwb';
export const MANIFEST_SUFFIX = '.manifest.json';

export const COMPRESSIONS = ['brotli', 'gzip', 'none', 'zstd', 'zstd-frames'] as const;
/**
 * `brotli` (quality 1), `gzip` (level 1), `zstd-frames` (zstd level 1, format
 * version 2 only, Node with zstd in node:zlib) or `none` are applied by
 * pgwarden before encryption; `zstd` means pg_dump (16+) compressed its own
 * output and pgwarden adds no layer.
 */
export type Compression = (typeof COMPRESSIONS)[number];
/** The compressions format version 1 knows. */
export const V1_COMPRESSIONS = ['brotli', 'gzip', 'none', 'zstd'] as const;
/** Compressions pgwarden applies itself; in version 2 their payload is framed. */
export const FRAMED_COMPRESSIONS = ['brotli', 'gzip', 'zstd-frames'] as const;
export type FramedCompression = (typeof FRAMED_COMPRESSIONS)[number];

/**
 * Uncompressed bytes per frame (version 2). 1 MiB: large enough that cutting
 * the dump into independent frames costs no measurable ratio (brotli's
 * window is 256 KiB, zstd level 1's 512 KiB; bench/README.md#backup), small
 * enough that the frames in flight stay a few MiB.
 */
export const DEFAULT_FRAME_SIZE = 1024 * 1024;
export const MIN_FRAME_SIZE = 64 * 1024;
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Frame prefix: compressed length (u32 BE), uncompressed length (u32 BE). */
export const FRAME_PREFIX_LENGTH = 8;
/**
 * Largest compressed frame a reader accepts for a frame size: the worst
 * expansion of brotli, gzip and zstd on incompressible input is far below
 * 1/64 plus a few hundred bytes.
 */
export function maxCompressedFrame(frameSize: number): number {
  return frameSize + Math.ceil(frameSize / 64) + 4096;
}

/** Backup ids: file-name safe, sortable by time when pgwarden made them. */
export const BACKUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * highWaterMark of every stage of the backup pipelines. Node's default
 * (16 KiB) makes each stage stop after a single 64 KiB chunk, so pg_dump
 * spends half its time blocked on a full pipe; 512 KiB per stage keeps the
 * producer running at the cost of a few megabytes (peak RSS measured the
 * same as with 256 KiB, since brotli's window shrank to 256 KiB with it).
 */
export const STREAM_BUFFER = 512 * 1024;
