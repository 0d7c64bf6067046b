/**
 * Redaction of secrets in strings, errors and objects.
 *
 * Two layers, both compiled once (as pino does) and not per call:
 * - patterns that recognise the *shape* of a secret: credentials in URLs,
 *   `password=` pairs, bearer and Vault tokens, AWS secret keys, PEM private keys;
 * - the exact values of the {@link Secret}s in use, so a password that
 *   appears bare in a driver message is caught as well.
 *
 * The second layer is bounded: a value is tracked while a Secret holding it
 * is in use, and dropped when the last such Secret is retired (the
 * credentials cache retires superseded passwords, tokens are retired when
 * they expire), so an application that rotates IAM tokens or Vault leases
 * for months matches against the few values alive now, not every value it
 * ever saw. Values that could be ordinary words are not matched bare at all
 * (see ordinary-text.ts).
 */
import { couldBeOrdinaryText } from './ordinary-text.js';

export const REDACTED = '[redacted]';

/** Keys whose value follows them in `key=value`, `key: value` or JSON form. */
const SECRET_PAIR =
  /\b((?:[a-z_]*password|passwd|pwd|passphrase|secret(?:_?access)?_?key|secret|client_secret|token|api_?key)["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&}'"]+)/gi;

/**
 * `password: Invalid input` is prose, not a pair: after `key:` and a space,
 * an unquoted word followed by more words is left alone. `password=…`, quoted
 * values and a value ending its line are still redacted.
 */
function redactPair(match: string, key: string, value: string, offset: number, text: string): string {
  if (/:\s+$/.test(key) && /^[A-Za-z]+$/.test(value)) {
    const after = text.slice(offset + match.length, offset + match.length + 2);
    if (/^ [A-Za-z]/.test(after)) return match;
  }
  return `${key}${REDACTED}`;
}

const SHAPE_PATTERNS: ReadonlyArray<readonly [RegExp, string | ((...args: never[]) => string)]> = [
  // scheme://user:password@host  →  scheme://user:[redacted]@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi, `$1:${REDACTED}@`],
  // password=... / passwd: ... / secret="..." in conninfo strings, logs or JSON
  [SECRET_PAIR, redactPair as (...args: never[]) => string],
  // HTTP authorization headers
  [/\b(authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token)\s+)[^\s"',}]+/gi, `$1${REDACTED}`],
  [/\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`],
  // Vault tokens (hvs., hvb., s. legacy) and AWS secret-like 40-char base64
  [/\b(?:hv[sbr]|s|b|r)\.[A-Za-z0-9_-]{20,}/g, REDACTED],
  [/\bX-Vault-Token["']?\s*[:=]\s*["']?[^\s"',}]+/gi, `X-Vault-Token: ${REDACTED}`],
  // PEM private keys (any flavour)
  [
    /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g,
    `[redacted private key]`,
  ],
];

/** One tracked value: how many live Secrets hold it, and the forms it is matched in. */
interface TrackedValue {
  holders: number;
  /** The value and, when different, its URL-encoded form (drivers echo connection strings). */
  forms: readonly string[];
}

const tracked = new Map<string, TrackedValue>();
let trackedPattern: RegExp | undefined;
/** Handles with an expiry, checked when {@link redact} runs. */
const expiring = new Set<SecretTracking>();
const expiryOf = new WeakMap<SecretTracking, number>();
let nextExpiry = Number.POSITIVE_INFINITY;

/** A Secret's hold on its value; releasing the last hold stops matching the value. */
export interface SecretTracking {
  /** Stops tracking (idempotent). */
  release(): void;
  /** Releases automatically at `at` (an IAM token or lease that no server accepts afterwards). */
  releaseAt(at: Date): void;
}

const NOT_TRACKED: SecretTracking = Object.freeze({ release: () => undefined, releaseAt: () => undefined });

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Tracks an exact secret value so {@link redact} removes it wherever it
 * appears, until the returned handle is released. Values that could be
 * ordinary text are not tracked (the shape patterns still apply to them).
 */
export function trackSecretValue(value: string): SecretTracking {
  if (couldBeOrdinaryText(value)) return NOT_TRACKED;
  const entry = tracked.get(value);
  if (entry) entry.holders += 1;
  else {
    const encoded = encodeURIComponent(value);
    tracked.set(value, { holders: 1, forms: encoded === value ? [value] : [value, encoded] });
    trackedPattern = undefined;
  }
  let released = false;
  const handle: SecretTracking = {
    release() {
      if (released) return;
      released = true;
      expiring.delete(handle);
      const current = tracked.get(value);
      if (!current) return;
      current.holders -= 1;
      if (current.holders <= 0) {
        tracked.delete(value);
        trackedPattern = undefined;
      }
    },
    releaseAt(at: Date) {
      if (released) return;
      const time = at.getTime();
      if (Number.isNaN(time)) return;
      expiryOf.set(handle, time);
      expiring.add(handle);
      nextExpiry = Math.min(nextExpiry, time);
    },
  };
  return handle;
}

function releaseExpired(now: number): void {
  if (now < nextExpiry) return;
  nextExpiry = Number.POSITIVE_INFINITY;
  for (const handle of [...expiring]) {
    const at = expiryOf.get(handle) ?? Number.POSITIVE_INFINITY;
    if (at <= now) handle.release();
    else nextExpiry = Math.min(nextExpiry, at);
  }
}

/**
 * How many distinct secret values are matched bare right now. Bounded by
 * the Secrets in use, not by the process's uptime; tests and `doctor` read it.
 */
export function trackedSecretCount(): number {
  releaseExpired(Date.now());
  return tracked.size;
}

function compiledTrackedPattern(): RegExp | undefined {
  if (tracked.size === 0) return undefined;
  if (!trackedPattern) {
    const alternatives = [...tracked.values()]
      .flatMap((entry) => entry.forms)
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp);
    trackedPattern = new RegExp(alternatives.join('|'), 'g');
  }
  return trackedPattern;
}

/** Returns `text` with every recognisable secret replaced by `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  releaseExpired(Date.now());
  const exact = compiledTrackedPattern();
  if (exact) out = out.replace(exact, REDACTED);
  for (const [pattern, replacement] of SHAPE_PATTERNS) {
    out = out.replace(pattern, replacement as (substring: string, ...args: unknown[]) => string);
  }
  return out;
}

/** Keys whose value is a secret: `password`, `dbPassword`, `vaultToken`, `apiKey`, `key`… (not `secretId`, `passwordSource`). */
const SECRET_KEY =
  /(pass(word|wd|phrase)?|secret|token|api_?key|private_?key|access_?key)$|^(key|pwd|credentials)$/i;

/**
 * Deep-copies a value for logging or JSON output: keys that name a secret are
 * replaced, strings are passed through {@link redact}, cycles are cut.
 */
export function redactValue(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redact(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, seen));
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return redactValue(toJSON.call(value), seen);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      SECRET_KEY.test(key) && item !== undefined && item !== null ? REDACTED : redactValue(item, seen);
  }
  return out;
}
