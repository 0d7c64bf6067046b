/**
 * Reads the server certificate chain over the wire. Normally from the audit's
 * own TLS session; when that session could not be opened (the certificate is
 * expired, untrusted or names another host, which is exactly what the audit
 * must report) a handshake-only probe fetches it: SSLRequest, TLS without
 * verification, then close. The probe sends no credentials and no query.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';

/** The DER chain a TLS socket received, leaf first. */
export function peerChain(stream: unknown): Buffer[] {
  const socket = stream as Partial<TLSSocket> | undefined;
  if (!socket || typeof socket.getPeerCertificate !== 'function') return [];
  const chain: Buffer[] = [];
  let current: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (current && current.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(current.raw);
    current = current.issuerCertificate;
  }
  return chain;
}

export type ProbeResult =
  | { readonly outcome: 'tls'; readonly chain: Buffer[]; readonly protocol: string | null }
  | { readonly outcome: 'no-tls' }
  | { readonly outcome: 'failed'; readonly reason: string };

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export interface ProbeOptions {
  readonly host: string;
  readonly port: number;
  /** SNI and the name a client would verify. */
  readonly serverName: string | undefined;
  /** `direct`: TLS at once with ALPN `postgresql` (PostgreSQL 17+). */
  readonly negotiation: 'postgres' | 'direct';
  readonly timeoutMs: number;
}

/** Fetches the certificate chain without verifying it. Never throws. */
export function probeServerCertificate(options: ProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const raw: Socket = netConnect({ host: options.host, port: options.port });
    let secure: TLSSocket | undefined;
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure?.destroy();
      raw.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ outcome: 'failed', reason: `no answer within ${options.timeoutMs} ms` }),
      options.timeoutMs,
    );
    const name = options.serverName ?? options.host;
    const startTls = (socket: Socket): void => {
      secure = tlsConnect({
        socket,
        rejectUnauthorized: false,
        ...(isIP(name) ? {} : { servername: name }),
        ...(options.negotiation === 'direct' ? { ALPNProtocols: ['postgresql'] } : {}),
      });
      secure.once('secureConnect', () =>
        finish({ outcome: 'tls', chain: peerChain(secure), protocol: secure?.getProtocol() ?? null }),
      );
      secure.once('error', (error) =>
        finish({ outcome: 'failed', reason: `TLS handshake failed: ${error.message}` }),
      );
    };
    raw.once('error', (error) => finish({ outcome: 'failed', reason: `cannot connect: ${error.message}` }));
    raw.once('connect', () => {
      if (options.negotiation === 'direct') return startTls(raw);
      raw.write(SSL_REQUEST);
      raw.once('data', (data) => {
        const answer = String.fromCharCode(data[0] ?? 0);
        if (answer === 'N') return finish({ outcome: 'no-tls' });
        if (answer !== 'S')
          return finish({ outcome: 'failed', reason: 'the server did not answer the SSLRequest' });
        raw.removeAllListeners('error');
        startTls(raw);
      });
    });
  });
}
