import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `probe` until it returns a truthy value and returns that value; throws
 * `timed out waiting for <what>` after `timeoutMs`. Tests wait on a condition
 * with a generous deadline instead of sleeping a fixed time, which a loaded CI
 * machine overruns.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(25);
  }
}
