/**
 * The most memory an scrypt parameter set read from a file may ask for,
 * shared by encrypted backups (src/backup/keys/passphrase.ts) and the
 * encrypted credential store (src/secrets/encrypted-store-format.ts). The
 * parameters sit in a header that is authenticated only by the key scrypt
 * derives, so they must be judged before scrypt runs: a tampered N or r
 * would otherwise make the reader allocate whatever the file says (one run
 * reached 4.2 GB RSS).
 */

/** 1 GiB: N = 2^20 with r = 8, or 2^18 with r = 32. */
export const SCRYPT_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;

/** The memory scrypt needs for N and r: 128 · N · r bytes. */
export function scryptMemoryBytes(N: number, r: number): number {
  return 128 * N * r;
}

/** Inclusive bounds a reader accepts. */
export interface ScryptBounds {
  readonly N: readonly [number, number];
  readonly r: readonly [number, number];
  readonly p: readonly [number, number];
}

/**
 * Why `{ N, r, p }` is refused, or undefined when it may be derived with:
 * N a power of two within bounds, r and p within bounds, and at most
 * {@link SCRYPT_MAX_MEMORY_BYTES}.
 */
export function scryptParamsProblem(
  params: { N: number; r: number; p: number },
  bounds: ScryptBounds,
): string | undefined {
  const { N, r, p } = params;
  const within = (value: number, [low, high]: readonly [number, number]) =>
    Number.isInteger(value) && value >= low && value <= high;
  if (!within(N, bounds.N) || !Number.isInteger(Math.log2(N))) {
    return `N=${N} is not a power of two from ${bounds.N[0]} to ${bounds.N[1]}`;
  }
  if (!within(r, bounds.r)) return `r=${r} is outside ${bounds.r[0]}-${bounds.r[1]}`;
  if (!within(p, bounds.p)) return `p=${p} is outside ${bounds.p[0]}-${bounds.p[1]}`;
  const memory = scryptMemoryBytes(N, r);
  if (memory > SCRYPT_MAX_MEMORY_BYTES) {
    return `N=${N}, r=${r} needs ${Math.round(memory / 2 ** 20)} MiB, more than the ${SCRYPT_MAX_MEMORY_BYTES / 2 ** 20} MiB accepted`;
  }
  return undefined;
}
