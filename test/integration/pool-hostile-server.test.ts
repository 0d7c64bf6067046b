// A hostile server (or another service on the port) answering the startup:
// what it can make the client buffer before the session is ready is bounded
// (issue 12, item 13: a header claiming a huge length drove the client to
// 318 MB before the connect timeout). The servers here are tiny TCP (and TLS)
// listeners on 127.0.0.1 that count the bytes they managed to hand to the
// kernel before the client closed, and a spy on the client's socket reads
// how much it took in: structural bounds, not timings.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';
import { createPool, PgwardenError, type CreatePoolOptions } from '../../src/index.js';
import { MAX_STARTUP_BYTES } from '../../src/pool/warden-client.js';
import { assertErrorHasNoSecret, canary, createPki, type Pki } from '../support/index.js';

const password = canary();
const SSL_REQUEST = 80877103;
const CHUNK = Buffer.alloc(64 * 1024, 0x41);
/**
 * What the client may read from the kernel: the bound, plus the one socket
 * read (64 KiB) that crosses it and TLS record overhead.
 */
const CLIENT_READ_BOUND = MAX_STARTUP_BYTES + 256 * 1024;

let pki: Pki;
/** Client sockets by the port they connect to: how much each read from the kernel is the bound that matters. */
const clientSockets = new Map<number, Socket[]>();
const connect = Socket.prototype.connect;

before(async () => {
  pki = await createPki();
  // A spy on every client socket of this process (pg's Connection calls socket.connect(port, host)).
  Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    const port = typeof args[0] === 'number' ? args[0] : undefined;
    if (port !== undefined) clientSockets.set(port, [...(clientSockets.get(port) ?? []), this]);
    return (connect as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof connect;
});

after(() => {
  Socket.prototype.connect = connect;
});

type Answer = 'error-header' | 'sasl-header' | 'endless-notices';

interface Hostile {
  readonly port: number;
  /** Resolves when the client's connection closed, with the bytes sent until then. */
  readonly closed: Promise<{ sent: number }>;
  readonly startups: number;
  stop(): Promise<void>;
}

/** The 5-byte header of a backend message whose length field claims `length` bytes. */
function header(type: string, length: number): Buffer {
  const out = Buffer.alloc(5);
  out.write(type, 0, 'latin1');
  out.writeUInt32BE(length, 1);
  return out;
}

/** One NoticeResponse of about 1 KiB: each one valid, so only a byte count can bound a stream of them. */
function notice(): Buffer {
  const fields = Buffer.concat([
    Buffer.from('SNOTICE\0VNOTICE\0C00000\0M', 'latin1'),
    Buffer.alloc(1000, 0x6e),
    Buffer.from('\0\0', 'latin1'),
  ]);
  return Buffer.concat([header('N', 4 + fields.length), fields]);
}

/** Streams `first`, then `more()` forever, honouring backpressure, until the socket closes. */
function flood(socket: Socket | TLSSocket, first: Buffer, more: () => Buffer): Promise<{ sent: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      resolve({ sent });
    };
    socket.on('close', done);
    socket.on('error', () => undefined);
    const write = (chunk: Buffer): boolean =>
      socket.write(chunk, (error) => {
        if (!error) sent += chunk.length;
      });
    const pump = (): void => {
      while (open && !socket.destroyed) {
        if (!write(more())) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    if (write(first)) setImmediate(pump);
    else socket.once('drain', pump);
  });
}

/** The first answer after the client's StartupMessage, as `answer` says. */
function answerStartup(socket: Socket | TLSSocket, answer: Answer): Promise<{ sent: number }> {
  switch (answer) {
    case 'error-header':
      // An ErrorResponse claiming 1 GiB; pg-protocol waits for all of it.
      return flood(socket, header('E', 1024 ** 3), () => CHUNK);
    case 'sasl-header': {
      // AuthenticationSASL (R, code 10) claiming 1 GiB of mechanism names.
      const first = Buffer.concat([header('R', 1024 ** 3), Buffer.from([0, 0, 0, 10])]);
      return flood(socket, first, () => CHUNK);
    }
    case 'endless-notices': {
      const one = notice();
      const many = Buffer.concat(Array.from({ length: 64 }, () => one));
      return flood(socket, many, () => many);
    }
  }
}

/** Reads one length-prefixed startup packet (SSLRequest or StartupMessage). */
function readPacket(socket: Socket | TLSSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 4 && buffered.length >= buffered.readUInt32BE(0)) {
        // Left flowing without a listener: what the client sends next is dropped.
        socket.off('data', onData);
        resolve(buffered);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function startHostile(answer: Answer, tls: boolean): Promise<Hostile> {
  let resolveClosed!: (value: { sent: number }) => void;
  const closed = new Promise<{ sent: number }>((resolve) => (resolveClosed = resolve));
  const sockets = new Set<Socket>();
  let startups = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void (async () => {
      let packet = await readPacket(socket);
      let stream: Socket | TLSSocket = socket;
      if (packet.length === 8 && packet.readUInt32BE(4) === SSL_REQUEST) {
        if (!tls) {
          socket.write('N');
          packet = await readPacket(socket);
        } else {
          socket.write('S');
          stream = new TLSSocket(socket, {
            isServer: true,
            key: pki.server.keyPem,
            cert: pki.server.certPem,
          });
          stream.on('error', () => undefined);
          packet = await readPacket(stream);
        }
      }
      startups += 1;
      resolveClosed(await answerStartup(stream, answer));
    })().catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    closed,
    get startups() {
      return startups;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function options(port: number, tls: boolean): CreatePoolOptions {
  return {
    env: {},
    environment: 'test',
    host: '127.0.0.1',
    port,
    database: 'postgres',
    user: 'app',
    password,
    ...(tls
      ? { sslMode: 'verify-full' as const, sslRootCert: pki.ca.certPem }
      : { sslMode: 'disable' as const }),
    // Far away: an error before it is the bound, not the timeout.
    connectionTimeoutMs: 120_000,
  };
}

const servers: Hostile[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

describe('what a hostile server can make the client buffer before the session is ready', () => {
  for (const tls of [false, true]) {
    for (const answer of ['error-header', 'sasl-header', 'endless-notices'] as const) {
      test(`${tls ? 'TLS' : 'plain'}, ${answer}: PGW_CONN_PROTOCOL and the socket closed after a bounded number of bytes`, async () => {
        const hostile = await startHostile(answer, tls);
        servers.push(hostile);
        const error = await createPool(options(hostile.port, tls)).then(
          async (pool) => {
            await pool.close();
            assert.fail('the pool started against a hostile server');
          },
          (e: unknown) => e,
        );
        assert.ok(error instanceof PgwardenError, String(error));
        assert.equal(error.pgwardenCode, 'PGW_CONN_PROTOCOL', error.message);
        assert.equal(error.option, 'host');
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${hostile.port}`));
        assertErrorHasNoSecret(error, [password]);
        // The client closed its socket, and the server saw it: its flood ended.
        const { sent } = await hostile.closed;
        const sockets = clientSockets.get(hostile.port) ?? [];
        assert.equal(sockets.length, 1, 'a PGW_CONN_PROTOCOL failure is not retried');
        assert.equal(hostile.startups, 1);
        // The server tried to send more than the bound (it streams until the socket closes)…
        assert.ok(
          sent > MAX_STARTUP_BYTES,
          `the server sent only ${sent} bytes: the bound was not what stopped it`,
        );
        // …and the client took in no more than the bound and one read: without it, all of it until the timeout.
        const read = sockets[0]!.bytesRead;
        assert.ok(read > MAX_STARTUP_BYTES, `the client read ${read} bytes`);
        assert.ok(read <= CLIENT_READ_BOUND, `the client read ${(read / 1024 / 1024).toFixed(2)} MiB`);
      });
    }
  }
});
