/**
 * The listening part every protocol server in test/support shares: HTTP (or
 * HTTPS) on 127.0.0.1 and a free port, and a stop that also ends open
 * keep-alive connections, so a test's server never outlives it.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export class LoopbackHttpServer {
  readonly port: number;
  readonly #server: Server;
  readonly #sockets: Set<Socket>;

  private constructor(server: Server, sockets: Set<Socket>) {
    this.#server = server;
    this.#sockets = sockets;
    this.port = (server.address() as AddressInfo).port;
  }

  /**
   * Listens on 127.0.0.1 (or another loopback address of 127.0.0.0/8, given
   * as `host`) and a free port; with `tls`, speaks HTTPS.
   */
  static async start(
    handler: RequestHandler,
    tls?: { key: string | Buffer; cert: string | Buffer },
    host = '127.0.0.1',
  ): Promise<LoopbackHttpServer> {
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new Error(`not a loopback address: ${host}`);
    const server = tls
      ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler)
      : createHttpServer(handler);
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return new LoopbackHttpServer(server, sockets);
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  /** Stops listening and destroys open connections; the port then refuses connections. */
  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
