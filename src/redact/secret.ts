import { inspect } from 'node:util';
import { REDACTED, trackSecretValue, type SecretTracking } from './redactor.js';

/**
 * Holds a secret value (password, token, passphrase) so that it cannot leak by
 * accident: `String()`, template literals, `JSON.stringify` and `console.log`
 * all print `[redacted]`. Only {@link Secret.reveal} returns the value, which
 * makes every place that needs the plaintext easy to find.
 */
export class Secret {
  readonly #value: string;
  readonly #tracking: SecretTracking;

  constructor(value: string) {
    this.#value = value;
    this.#tracking = trackSecretValue(value);
  }

  /**
   * Stops matching this value in redacted output once no other Secret holds
   * it: call it when the value is superseded (a rotated password, a replaced
   * token), so redaction stays bounded by the secrets in use. The value can
   * still be revealed.
   */
  retire(): void {
    this.#tracking.release();
  }

  /** {@link retire} at `at`: for a token or lease no server accepts after that. */
  retireAt(at: Date): void {
    this.#tracking.releaseAt(at);
  }

  /** The plaintext. Call it only at the point of use (the driver, a hash). */
  reveal(): string {
    return this.#value;
  }

  /** True when both hold the same value, compared in constant time per length. */
  equals(other: Secret | undefined): boolean {
    if (!other) return false;
    const a = Buffer.from(this.#value);
    const b = Buffer.from(other.reveal());
    return a.length === b.length && a.compare(b) === 0;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

export function isSecret(value: unknown): value is Secret {
  return value instanceof Secret;
}
