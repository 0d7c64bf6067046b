/** Exponential backoff with full jitter (AWS architecture blog), capped. */
export function backoffDelay(attempt: number, baseMs = 50, capMs = 2_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.floor(Math.random() * ceiling);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
