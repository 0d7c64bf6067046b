/**
 * The codecs pgwarden compresses frames with, what each needs from the
 * runtime, and the default. zstd comes from node:zlib, which has it from
 * Node 22.15 and 23.8 on (Node 20 does not): a backup compressed with it
 * names that version when read where zstd is missing, instead of failing
 * in the middle of a restore.
 */
import * as zlib from 'node:zlib';
import { BackupError } from '../backup-error.js';
import { FRAMED_COMPRESSIONS, type Compression, type FramedCompression } from '../format/constants.js';

/** The oldest Node whose node:zlib has zstd (the 23 line got it in 23.8.0). */
export const ZSTD_MIN_NODE = '22.15.0';
/** The oldest Node pgwarden runs on (package.json `engines`). */
export const PGWARDEN_MIN_NODE = '20.10.0';

/** True when this runtime's node:zlib compresses and decompresses zstd. */
export function zstdAvailable(): boolean {
  const z = zlib as unknown as Record<string, unknown>;
  return typeof z.zstdCompressSync === 'function' && typeof z.zstdDecompressSync === 'function';
}

export function isFramed(compression: Compression): compression is FramedCompression {
  return (FRAMED_COMPRESSIONS as readonly string[]).includes(compression);
}

/**
 * zstd level 1 where the runtime has it, brotli quality 1 otherwise.
 * Measured on a mixed pgbench/text dump (bench/README.md#backup): zstd 1
 * compresses faster than brotli 1, decompresses about twice as fast, and
 * writes 1 % less, both below default `pg_dump -Fc`.
 */
export function defaultCompression(): Compression {
  return zstdAvailable() ? 'zstd-frames' : 'brotli';
}

/** The oldest Node that can read a backup with this compression. */
export function minNodeToRead(compression: Compression): string {
  return compression === 'zstd-frames' ? ZSTD_MIN_NODE : PGWARDEN_MIN_NODE;
}

/** Refuses a codec this runtime does not have, naming the Node version that has it. */
export function assertCodecAvailable(compression: Compression, action: 'create' | 'read'): void {
  if (compression !== 'zstd-frames' || zstdAvailable()) return;
  throw new BackupError(
    'PGW_BACKUP_UNSUPPORTED',
    action === 'read'
      ? `This backup is compressed with zstd (zstd-frames); Node ${process.versions.node} has no zstd in node:zlib. Reading it needs Node ${ZSTD_MIN_NODE} or newer (23.8.0 on the 23 line).`
      : `--compress zstd-frames needs zstd in node:zlib: Node ${ZSTD_MIN_NODE} or newer (23.8.0 on the 23 line); this is Node ${process.versions.node}.`,
    action === 'read'
      ? { fix: `Run pgwarden with Node ${ZSTD_MIN_NODE} or newer to verify or restore this backup.` }
      : {
          option: '--compress',
          fix: `Use --compress brotli (the default on this Node), or run pgwarden with Node ${ZSTD_MIN_NODE} or newer.`,
        },
  );
}

/**
 * Parameters handed to the frame workers (plain data: they cross a thread
 * boundary). Brotli quality 1 with a 256 KiB window (lgwin 18) took 10-15 %
 * off brotli's CPU against 4 MiB for 0.1 % more output; gzip level 1; zstd
 * level 1 (level 2 and 3 measured no smaller on dump data, and slower).
 */
export interface CodecParams {
  readonly codec: FramedCompression;
  readonly brotli: Readonly<Record<number, number>>;
  readonly gzipLevel: number;
  readonly zstd: Readonly<Record<number, number>>;
}

export function codecParams(codec: FramedCompression): CodecParams {
  const c = zlib.constants as unknown as Record<string, number>;
  return {
    codec,
    brotli: {
      [c.BROTLI_PARAM_QUALITY!]: 1,
      [c.BROTLI_PARAM_MODE!]: c.BROTLI_MODE_GENERIC!,
      [c.BROTLI_PARAM_LGWIN!]: 18,
    },
    gzipLevel: 1,
    // ZSTD_c_compressionLevel is 100 in zstd's API; the constant is absent where zstd is.
    zstd: { [c.ZSTD_c_compressionLevel ?? 100]: 1 },
  };
}

/** How a compression is described to people (create's output). */
export function describeCompression(compression: Compression): string {
  switch (compression) {
    case 'zstd-frames':
      return 'zstd level 1';
    case 'brotli':
      return 'brotli quality 1';
    case 'gzip':
      return 'gzip level 1';
    case 'zstd':
      return 'zstd by pg_dump';
    case 'none':
      return 'none';
  }
}

/**
 * Jobs after which a frame worker is replaced (worker-pool.ts): zstd only.
 * Workers collect their garbage after every frame (worker-source.ts), which
 * frees zstd's dead native contexts; retiring every 256 frames is the
 * backstop should a runtime refuse that collector (it once ran every 32, at
 * 20-35 MiB more peak RSS per worker than collecting: bench/README.md).
 */
export function retireAfter(codec: FramedCompression): number | undefined {
  return codec === 'zstd-frames' ? 256 : undefined;
}
