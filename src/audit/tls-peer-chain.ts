/** The certificate chain a TLS socket received, as DER, leaf first. */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/** The DER chain a TLS socket received, leaf first; empty for anything that is not a TLS socket. */
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
