/**
 * Redaction of secrets in strings, errors and objects.
 *
 * Two layers, both compiled once (as pino does) and not per call:
 * - patterns that recognise the *shape* of a secret: credentials in URLs,
 *   `password=` pairs, bearer and Vault tokens, AWS secret keys, PEM private keys;
 * - the exact values of every {@link Secret} this process created, so a
 *   password that appears bare in a driver message is caught as well.
 */

export const REDACTED = '[redacted]';

const SHAPE_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // scheme://user:password@host  →  scheme://user:[redacted]@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi, `$1:${REDACTED}@`],
  // password=... / passwd: ... / secret="..." in conninfo strings, logs or JSON
  [
    /\b((?:[a-z_]*password|passwd|pwd|passphrase|secret(?:_?access)?_?key|secret|client_secret|token|api_?key)["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&}'"]+)/gi,
    `$1${REDACTED}`,
  ],
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

const MIN_TRACKED_SECRET_LENGTH = 4;

/** Values registered by Secret instances; kept sorted longest first. */
const trackedSecrets = new Set<string>();
let trackedPattern: RegExp | undefined;

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Registers an exact secret value so {@link redact} removes it wherever it appears. */
export function trackSecretValue(value: string): void {
  if (value.length < MIN_TRACKED_SECRET_LENGTH || trackedSecrets.has(value)) return;
  trackedSecrets.add(value);
  // Also catch the URL-encoded form, as drivers sometimes echo connection strings.
  const encoded = encodeURIComponent(value);
  if (encoded !== value) trackedSecrets.add(encoded);
  trackedPattern = undefined;
}

function compiledTrackedPattern(): RegExp | undefined {
  if (trackedSecrets.size === 0) return undefined;
  if (!trackedPattern) {
    const alternatives = [...trackedSecrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    trackedPattern = new RegExp(alternatives.join('|'), 'g');
  }
  return trackedPattern;
}

/** Returns `text` with every recognisable secret replaced by `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  const tracked = compiledTrackedPattern();
  if (tracked) out = out.replace(tracked, REDACTED);
  for (const [pattern, replacement] of SHAPE_PATTERNS) out = out.replace(pattern, replacement);
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
