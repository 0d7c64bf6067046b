/**
 * A listener that must never be reached: it stands in for a remote host in
 * tests of the secure-endpoint rule (plain http is accepted on 127.0.0.1, ::1
 * and localhost only). It listens on 127.0.0.2, which is loopback, so nothing
 * leaves the machine, yet outside the rule's list, so a client that obeys the
 * rule refuses it before connecting. Every request that arrives anyway is
 * recorded (method, path, and whether it carried an Authorization header)
 * and answered with HTTP 500.
 */
import { LoopbackHttpServer } from './loopback-http.js';

export interface TrippedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorized: boolean;
}

export class TripwireServer {
  readonly requests: TrippedRequest[] = [];
  #http!: LoopbackHttpServer;

  static async start(): Promise<TripwireServer> {
    const server = new TripwireServer();
    server.#http = await LoopbackHttpServer.start(
      (req, res) => {
        server.requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          authorized: req.headers.authorization !== undefined,
        });
        req.resume();
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"tripwire"}');
      },
      undefined,
      '127.0.0.2',
    );
    return server;
  }

  /** `http://127.0.0.2:<port>`: a plain-http address the rule refuses. */
  get url(): string {
    return `http://127.0.0.2:${this.#http.port}`;
  }

  stop(): Promise<void> {
    return this.#http.stop();
  }
}
