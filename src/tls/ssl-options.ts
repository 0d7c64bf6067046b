/**
 * libpq-exact sslmode, translated into what node-postgres needs for each
 * connection attempt. pg's own mapping is not used: pg 8 treats `require` as
 * verify-full and overwrites `servername`, so verification is done here with
 * `checkServerIdentity`.
 */
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { ResolvedTls } from '../config/schema.js';

/** How one attempt uses TLS: not at all, encrypted only, chain only, chain and host. */
export type TlsAttempt = 'plain' | 'no-verify' | 'verify-ca' | 'verify-full';

/**
 * The attempts libpq makes for a mode, in order. `allow` tries plaintext
 * first and TLS when the server insists; `prefer` the reverse. Every other
 * mode makes exactly one attempt and never falls back.
 */
export function attemptsFor(tls: ResolvedTls): readonly TlsAttempt[] {
  switch (tls.effectiveMode) {
    case 'disable':
      return ['plain'];
    case 'allow':
      return ['plain', 'no-verify'];
    case 'prefer':
      return ['no-verify', 'plain'];
    case 'require':
      return ['no-verify'];
    case 'verify-ca':
      return ['verify-ca'];
    case 'verify-full':
      return ['verify-full'];
  }
}

/**
 * Node TLS options for one attempt. A fresh object every time: pg mutates the
 * object it is given (it redefines `key` as non-enumerable).
 */
export function tlsOptionsFor(
  tls: ResolvedTls,
  attempt: TlsAttempt,
  host: string,
): ConnectionOptions | false {
  if (attempt === 'plain') return false;
  const options: ConnectionOptions = { minVersion: tls.minVersion };
  // `system` and "no root cert" both leave `ca` unset: Node then uses its CA store.
  if (tls.rootCert && tls.rootCert.origin !== 'system') options.ca = tls.rootCert.pem;
  if (tls.cert && tls.cert.origin !== 'system') options.cert = tls.cert.pem;
  if (tls.key) options.key = tls.key.reveal();
  if (tls.keyPassphrase) options.passphrase = tls.keyPassphrase.reveal();

  if (attempt === 'no-verify') {
    options.rejectUnauthorized = false;
  } else {
    options.rejectUnauthorized = true;
    const expectedName = tls.serverName ?? host;
    options.checkServerIdentity =
      attempt === 'verify-ca'
        ? () => undefined
        : (_servername: string, cert: PeerCertificate) => checkServerIdentity(expectedName, cert);
  }
  return options;
}
