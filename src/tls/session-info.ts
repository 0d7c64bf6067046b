import type { PeerCertificate, TLSSocket } from 'node:tls';

/** What `doctor` and audit events report about a live TLS session. */
export interface TlsSessionInfo {
  readonly protocol: string | null;
  readonly cipher: string;
  readonly certificate?: {
    readonly subject: string;
    readonly issuer: string;
    readonly validTo: string;
    readonly daysLeft: number;
    readonly subjectAltName: string | undefined;
  };
}

function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
    .join(', ');
}

/** TLS details of a socket, or undefined when the session is not encrypted. */
export function tlsSessionInfo(stream: unknown): TlsSessionInfo | undefined {
  const socket = stream as Partial<TLSSocket> | undefined;
  if (!socket || typeof socket.getProtocol !== 'function' || typeof socket.getCipher !== 'function')
    return undefined;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  const hasPeer = peer && Object.keys(peer).length > 0;
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher().name,
    ...(hasPeer
      ? {
          certificate: {
            subject: formatName(peer.subject),
            issuer: formatName(peer.issuer),
            validTo: new Date(peer.valid_to).toISOString(),
            daysLeft: Math.floor((Date.parse(peer.valid_to) - Date.now()) / 86_400_000),
            subjectAltName: peer.subjectaltname,
          },
        }
      : {}),
  };
}
