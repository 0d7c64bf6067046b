/**
 * Loads CAs, certificates and keys given as a file path or inline PEM, when
 * the config is resolved: a missing file or a wrong passphrase is reported at
 * startup, naming the option, rather than at the first connection.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, TlsError } from '../errors.js';
import { Secret } from '../redact/secret.js';
import type { PemSource } from './schema.js';

function isInlinePem(value: string): boolean {
  return value.trimStart().startsWith('-----BEGIN ');
}

function readFile(path: string, option: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new ConfigError(
      'PGW_CONFIG_FILE_UNREADABLE',
      `The ${what} file ${path} given by ${option} ${reason}.`,
      {
        option,
        fix: `Point ${option} at a readable PEM file, or pass the PEM inline.`,
        cause: error,
      },
    );
  }
}

/** Loads a CA bundle or certificate; `allowSystem` accepts the word `system` (CA only). */
export function loadCertificate(value: string, option: string, allowSystem: boolean): PemSource {
  if (allowSystem && value === 'system') return { origin: 'system' };
  const source: PemSource = isInlinePem(value)
    ? { origin: 'inline', pem: value }
    : { origin: 'file', path: value, pem: readFile(value, option, 'certificate') };
  try {
    new X509Certificate(source.pem);
  } catch (error) {
    throw new TlsError('PGW_TLS_INVALID_PEM', `${option} does not hold a valid PEM certificate.`, {
      option,
      fix: `Give ${option} a file or string starting with -----BEGIN CERTIFICATE-----.`,
      cause: error,
    });
  }
  return source;
}

/**
 * Loads a client key and proves it can be decrypted. Like libpq, a key file
 * that group or others can read is refused.
 */
export function loadPrivateKey(
  value: string | Secret,
  option: string,
  passphrase: Secret | undefined,
  passphraseOption: string,
): { key: Secret; path: string | undefined } {
  const text = typeof value === 'string' ? value : value.reveal();
  let pem: string;
  let path: string | undefined;
  if (isInlinePem(text)) {
    pem = text;
  } else {
    path = text;
    pem = readFile(path, option, 'private key');
    const stat = statSync(path);
    const ownedByUs = typeof process.getuid === 'function' && stat.uid === process.getuid();
    // libpq: u=rw (0600) or less when we own it; 0640 allowed when root owns it.
    const tooOpen = ownedByUs ? (stat.mode & 0o077) !== 0 : (stat.mode & 0o037) !== 0;
    if (tooOpen) {
      throw new TlsError(
        'PGW_TLS_KEY_PERMISSIONS',
        `The private key file ${path} (${option}) has group or world access (mode ${(stat.mode & 0o777).toString(8)}).`,
        { option, fix: `chmod 600 ${path}` },
      );
    }
  }
  const key = new Secret(pem);
  try {
    createPrivateKey({ key: pem, format: 'pem', passphrase: passphrase?.reveal() });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const message = (error as Error).message ?? '';
    // Node reports a missing passphrase as an interrupted prompt. Any failure on an encrypted
    // key is the passphrase's: a wrong one passes the CBC padding check about once in 256 tries,
    // and what it decrypted to then fails as malformed key data instead of as "bad decrypt".
    const encrypted = /ENCRYPTED/.test(pem);
    if (encrypted || /PASSPHRASE|BAD_DECRYPT|bad decrypt|INTERRUPTED_OR_CANCELLED/i.test(code + message)) {
      throw new TlsError(
        'PGW_TLS_KEY_PASSPHRASE',
        passphrase
          ? `The passphrase in ${passphraseOption} does not decrypt the key given by ${option}.`
          : `The key given by ${option} is encrypted and no passphrase was given.`,
        { option: passphraseOption, fix: `Set ${passphraseOption} to the key's passphrase.` },
      );
    }
    throw new TlsError('PGW_TLS_INVALID_PEM', `${option} does not hold a valid PEM private key.`, {
      option,
      fix: `Give ${option} a file or string starting with -----BEGIN PRIVATE KEY-----.`,
    });
  }
  return { key, path };
}
