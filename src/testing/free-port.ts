import { createServer } from 'node:net';

/**
 * Asks the kernel for a TCP port that is free on `host` right now.
 *
 * Another process may take it before PostgreSQL binds it; the cluster start
 * detects that ("Address already in use") and retries with a new port.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no port was assigned')) : resolve(port)));
    });
  });
}
