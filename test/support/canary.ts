import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

/**
 * A unique, recognisable secret for leak tests: `canary-<16 hex>-Pw!`
 * (27 characters). Use it as a password, then assert with
 * {@link assertNoCanary} that it appears in no log, error or output.
 * The `!` makes it change under URL encoding, so both forms are checked.
 */
export function canary(): string {
  return `canary-${randomBytes(8).toString('hex')}-Pw!`;
}

/** Fails when `text` contains `secret` as is or percent-encoded; the message shows where. */
export function assertNoCanary(text: string, secret: string): void {
  for (const form of new Set([secret, encodeURIComponent(secret)])) {
    const at = text.indexOf(form);
    if (at !== -1) {
      const context = text.slice(Math.max(0, at - 80), at + form.length + 80);
      assert.fail(`secret leaked at offset ${at}: …${context}…`);
    }
  }
}

/** Fails when any of `secrets` appears in an error's message, string form, stack, JSON or inspect output. */
export function assertErrorHasNoSecret(error: unknown, secrets: readonly string[]): void {
  const e = error as Error;
  const texts = [e.message, String(e), e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 })];
  for (const value of secrets) for (const text of texts) assertNoCanary(text, value);
}

/**
 * A logger for pool options that keeps every line it is given (inspected
 * deeply, as a real logger would serialise them), so a test can assert
 * that no canary reached a log.
 */
export function recordingLogger(lines: string[] = []): {
  lines: string[];
  logger: Record<'info' | 'warn' | 'error' | 'debug', (...args: unknown[]) => void>;
} {
  const record = (...args: unknown[]) => void lines.push(inspect(args, { depth: 6 }));
  return { lines, logger: { info: record, warn: record, error: record, debug: record } };
}
