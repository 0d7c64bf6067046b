/**
 * One probe connection: an SSLRequest (or, for `sslnegotiation=direct`, TLS
 * at once with ALPN `postgresql`), one TLS handshake with exactly the offer
 * given, then a clean close (close_notify, FIN) before any StartupMessage.
 * Nothing else is ever sent: no startup packet, no user name, no credential.
 *
 * The handshake does not verify the certificate (reading a bad one is the
 * point) and may run at OpenSSL security level 0 (see tls-offers.ts); both
 * apply to this socket only.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { peerChain } from './tls-peer-chain.js';

export interface HandshakeTarget {
  readonly host: string;
  readonly port: number;
  /** SNI and the name a client would verify. Default: the host (no SNI for an IP). */
  readonly serverName?: string | undefined;
  /** `direct`: TLS at once with ALPN `postgresql` (PostgreSQL 17+). Default `postgres`. */
  readonly negotiation?: 'postgres' | 'direct';
  readonly timeoutMs: number;
}

export interface HandshakeOffer {
  readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** An OpenSSL cipher string (TLS 1.2 and below); undefined keeps Node's default. */
  readonly ciphers?: string;
}

export type HandshakeResult =
  | {
      readonly outcome: 'accepted';
      readonly protocol: string;
      /** OpenSSL's name, e.g. `ECDHE-RSA-AES128-SHA` or `TLS_AES_256_GCM_SHA384`. */
      readonly cipher: string;
      readonly chain: Buffer[];
    }
  /** The server ended the handshake with a TLS alert: it does not accept what was offered. */
  | { readonly outcome: 'refused'; readonly reason: string }
  /** This runtime cannot make the offer (its OpenSSL lacks the version or suites). */
  | { readonly outcome: 'untestable'; readonly reason: string }
  /** The server answered the SSLRequest with `N`. */
  | { readonly outcome: 'no-tls' }
  /** Anything else (cannot connect, timeout, reset): no evidence either way. */
  | { readonly outcome: 'failed'; readonly reason: string };

export interface Handshake {
  readonly result: HandshakeResult;
  /** The probe socket's local port, to find the connection in the server log. Undefined if it never connected. */
  readonly localPort: number | undefined;
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

// Errors raised by our own OpenSSL before anything reached the server.
const LOCAL_REFUSALS = new Set(['ERR_SSL_NO_CIPHERS_AVAILABLE', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE']);

/** `protocol version` from OpenSSL's `…:tlsv1 alert protocol version:…`. */
function alertText(error: Error): string {
  const match = /:(?:\w+ )?alert ([^:]+):/.exec(error.message);
  return match ? match[1]!.trim() : (error.message.split('\n')[0] ?? '');
}

function classify(error: Error & { code?: string }): HandshakeResult {
  const code = error.code ?? '';
  if (LOCAL_REFUSALS.has(code) || /no cipher match/.test(error.message))
    return { outcome: 'untestable', reason: `this runtime cannot offer it (${code || error.message})` };
  if (code === 'ERR_SSL_UNSUPPORTED_PROTOCOL')
    return { outcome: 'refused', reason: 'the server chose a version outside the offer' };
  if (/^ERR_SSL_.*ALERT/.test(code)) return { outcome: 'refused', reason: `alert "${alertText(error)}"` };
  return { outcome: 'failed', reason: `TLS handshake failed: ${error.message.split('\n')[0]}` };
}

/** Runs one probe handshake. Never throws; resolves once the socket is closed (or destroyed). */
export function probeHandshake(target: HandshakeTarget, offer: HandshakeOffer): Promise<Handshake> {
  return new Promise((resolve) => {
    let settled = false;
    let localPort: number | undefined;
    const raw: Socket = netConnect({ host: target.host, port: target.port });
    let secure: TLSSocket | undefined;
    const finish = (result: HandshakeResult, graceful = false): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const done = (): void => resolve({ result, localPort });
      if (graceful && secure) {
        // close_notify then FIN: the server reads a clean end of stream and
        // logs nothing more than "connection received" (a reset would add
        // "could not receive data from client"). Bounded, then destroyed.
        const guard = setTimeout(() => secure?.destroy(), Math.min(1000, target.timeoutMs));
        secure.once('close', () => {
          clearTimeout(guard);
          raw.destroy();
          done();
        });
        secure.on('error', () => undefined);
        secure.end();
        return;
      }
      secure?.destroy();
      raw.destroy();
      done();
    };
    const timer = setTimeout(
      () => finish({ outcome: 'failed', reason: `no answer within ${target.timeoutMs} ms` }),
      target.timeoutMs,
    );
    const name = target.serverName ?? target.host;
    const startTls = (socket: Socket): void => {
      tlsStarted = true;
      try {
        secure = tlsConnect({
          socket,
          rejectUnauthorized: false,
          minVersion: offer.minVersion,
          maxVersion: offer.maxVersion,
          ...(offer.ciphers === undefined ? {} : { ciphers: offer.ciphers }),
          ...(isIP(name) ? {} : { servername: name }),
          ...(target.negotiation === 'direct' ? { ALPNProtocols: ['postgresql'] } : {}),
        });
      } catch (error) {
        // createSecureContext throws synchronously for a cipher string this OpenSSL cannot match.
        return finish(classify(error as Error));
      }
      secure.once('secureConnect', () => {
        const cipher = secure!.getCipher();
        finish(
          {
            outcome: 'accepted',
            protocol: secure!.getProtocol() ?? 'unknown',
            cipher: cipher.name,
            chain: peerChain(secure),
          },
          true,
        );
      });
      secure.once('error', (error) => finish(classify(error)));
    };
    let tlsStarted = false;
    // Once TLS runs over the socket, its errors arrive on the TLS socket (classified there).
    raw.on('error', (error) => {
      if (!tlsStarted) finish({ outcome: 'failed', reason: `cannot connect: ${error.message}` });
    });
    raw.once('connect', () => {
      localPort = raw.localPort;
      if (target.negotiation === 'direct') return startTls(raw);
      raw.write(SSL_REQUEST);
      raw.once('data', (data) => {
        const answer = String.fromCharCode(data[0] ?? 0);
        if (answer === 'N') return finish({ outcome: 'no-tls' });
        if (answer !== 'S')
          return finish({ outcome: 'failed', reason: 'the server did not answer the SSLRequest' });
        // Bytes after the 'S' would be read as part of the TLS stream
        // (the CVE-2021-23222 injection): a server or proxy doing that is not trusted.
        if (data.length > 1)
          return finish({ outcome: 'failed', reason: "the server sent data after its 'S' answer" });
        startTls(raw);
      });
    });
  });
}
