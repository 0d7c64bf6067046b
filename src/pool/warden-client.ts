/**
 * The node-postgres Client that pgwarden's pool creates for each physical
 * connection. It adds what pg cannot do from a static config:
 * - credentials (user AND password) resolved for every new connection, so
 *   rotation and dynamic users work;
 * - libpq's sslmode fallbacks (`allow`, `prefer`) as separate attempts;
 * - `channel_binding=require`, refusing before a password is sent when the
 *   server does not offer SCRAM-SHA-256-PLUS;
 * - a bound on what the server can make the client buffer before the session
 *   is ready, so a hostile server cannot fill memory during the handshake.
 * pg internals are touched here and only here.
 */
import pg from 'pg';
import type { HostPort, ResolvedConfig, TargetSessionAttrs } from '../config/schema.js';
import { ConnectionError, TlsError, type PgwardenError } from '../errors.js';
import { attemptsFor, tlsOptionsFor, type TlsAttempt } from '../tls/ssl-options.js';
import { classifyConnectError, classifyQueryError, type ConnectContext } from './classify-error.js';
import type { ConnectionCredentials, CredentialSource } from './credential-source.js';
import type { PoolDiagnostics } from './diagnostics.js';

export interface ClientContext {
  readonly config: ResolvedConfig;
  /** Asked once per physical connection, and again after an authentication failure. */
  readonly credentials: CredentialSource;
  /** Which host of a list worked last, shared by every connection of the pool. */
  readonly hostState?: { preferred: number; changed?(from: number, to: number): void };
  /** Where each TLS handshake's duration is published (diagnostics_channel). */
  readonly diagnostics?: PoolDiagnostics;
  /** pg Client options given through unchanged (types, keepAlive, client_encoding…). */
  readonly passthrough?: Readonly<Record<string, unknown>>;
  /**
   * Told about an error on the connection at any time: without a listener a
   * checked-out connection's error would be uncaught and end the process.
   */
  readonly onError?: (error: Error, client: pg.PoolClient) => void;
}

/** The parts of pg.Client that pg does not type but this class relies on. */
interface PgClientInternals {
  connection: {
    stream: unknown;
    _ending: boolean;
    removeAllListeners(): void;
    end(): void;
    once(event: string, listener: () => void): void;
    attachListeners(stream: StartupStream): void;
  };
  ssl: unknown;
  connectionParameters: { ssl: unknown; user: string; host: string; port: number };
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  _connecting: boolean;
  _connected: boolean;
  _connectionError: boolean;
  _ending: boolean;
  _ended: boolean;
  _queryable: boolean;
  connectionTimeoutHandle?: NodeJS.Timeout;
  _handleErrorEvent(error: Error): void;
  _handleAuthSASL(msg: { mechanisms: string[] }): void;
  _handleAuthCleartextPassword(msg: unknown): void;
  _handleAuthMD5Password(msg: unknown): void;
}

const PgConnection = (
  pg as unknown as { Connection: new (options: object) => PgClientInternals['connection'] }
).Connection;

type SessionCheck = Exclude<TargetSessionAttrs, 'prefer-standby'>;

/** Host indexes, the preferred one first, then the others in list order. */
function orderedTargets(hosts: readonly HostPort[], preferred: number): number[] {
  const order = hosts.map((_, i) => i);
  return preferred > 0 && preferred < hosts.length
    ? [preferred, ...order.filter((i) => i !== preferred)]
    : order;
}

/** The socket (or TLS stream) pg's parser reads the server's messages from. */
interface StartupStream {
  on(event: 'data', listener: (chunk: Buffer) => void): void;
  off(event: 'data', listener: (chunk: Buffer) => void): void;
  destroy(): void;
}

/**
 * The most a server may send before ReadyForQuery: the authentication
 * exchange, ParameterStatus, BackendKeyData and the odd notice come to a few
 * KiB. pg-protocol buffers a message until all of the length its header
 * claims has arrived, so without a bound a header claiming 1 GiB, and the
 * bytes behind it, grow the client's memory until the connect timeout.
 */
export const MAX_STARTUP_BYTES = 1024 * 1024;

/** pg Connections whose startup is already bounded (one per physical attempt). */
const boundedConnections = new WeakSet<object>();

/** Re-fetch rounds after an authentication failure before it is reported. */
const MAX_AUTH_RECOVERIES = 3;

/** Errors after which libpq moves on to the next sslmode attempt. */
function allowsFallback(error: unknown, attempt: TlsAttempt): boolean {
  const e = error as { code?: string; message?: string };
  const message = e.message ?? '';
  if (attempt === 'plain') {
    // allow: plaintext was refused, most often by a hostssl-only pg_hba.conf.
    return e.code === '28000' || /SSL|encryption/i.test(message);
  }
  // prefer: the server has no TLS, or the handshake failed.
  return (
    /does not support SSL|error establishing an SSL/i.test(message) ||
    /^ERR_(SSL|TLS)/.test(e.code ?? '') ||
    e.code === '28000'
  );
}

function baseClientConfig(
  config: ResolvedConfig,
  attempt: TlsAttempt,
  passthrough: Readonly<Record<string, unknown>>,
): pg.ClientConfig {
  const { session } = config;
  return {
    ...passthrough,
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    ssl: tlsOptionsFor(config.tls, attempt, config.host),
    application_name: config.applicationName,
    // Startup parameters, so they hold for every statement. A pooler refuses
    // (or, told to ignore them, silently drops) them: then none is sent, and
    // the pool verifies the role-level settings instead (session-settings.ts).
    ...(config.pooler === 'none' ? sessionStartupParameters(session) : {}),
    connectionTimeoutMillis: config.pool.connectionTimeoutMs,
    ...(config.pool.queryTimeoutMs !== undefined ? { query_timeout: config.pool.queryTimeoutMs } : {}),
    keepAlive: (passthrough.keepAlive as boolean | undefined) ?? true,
    enableChannelBinding: config.tls.channelBinding !== 'disable',
    ...({ sslnegotiation: config.tls.negotiation } as object),
  };
}

/** The session timeouts as pg startup parameters. */
function sessionStartupParameters(session: ResolvedConfig['session']): pg.ClientConfig {
  return {
    ...(session.statementTimeoutMs !== undefined ? { statement_timeout: session.statementTimeoutMs } : {}),
    ...(session.lockTimeoutMs !== undefined ? { lock_timeout: session.lockTimeoutMs } : {}),
    ...(session.idleInTransactionSessionTimeoutMs !== undefined
      ? { idle_in_transaction_session_timeout: session.idleInTransactionSessionTimeoutMs }
      : {}),
  };
}

/**
 * Behind a pooler a named prepared statement may land on a server connection
 * that never saw it (PgBouncer before 1.21 in transaction mode) or pin the
 * session (RDS Proxy): the statement is sent unnamed instead, which every
 * pooler passes (Parse, Bind, Execute and Sync travel together).
 */
function withoutStatementName(input: unknown): unknown {
  if (input === null || typeof input !== 'object' || !('name' in input)) return input;
  const { name: _name, ...unnamed } = input as { name?: unknown };
  return unnamed;
}

/** Builds the Client class handed to pg.Pool for this config. */
export function createClientClass(context: ClientContext): typeof pg.Client {
  const { config } = context;
  const attempts = attemptsFor(config.tls);
  const connectContext: ConnectContext = {
    host: config.host,
    port: config.port,
    user: config.user,
    database: config.database,
    sslMode: config.tls.effectiveMode,
    sslNegotiation: config.tls.negotiation,
  };
  const requireBinding = config.tls.channelBinding === 'require';
  const behindPooler = config.pooler !== 'none';

  return class WardenClient extends pg.Client {
    /** The SASL mechanism the server and client agreed on, for channel-binding checks and doctor. */
    authMechanism: string | undefined;
    /** The user this connection logged in as (it may differ between connections). */
    connectedUser: string | undefined;
    /** The credential generation it logged in with; older ones are retired by the pool. */
    credentialGeneration = 0;

    constructor() {
      super(baseClientConfig(config, attempts[0]!, context.passthrough ?? {}));
      const onError = context.onError;
      if (onError) this.on('error', (error: Error) => onError(error, this as unknown as pg.PoolClient));
    }

    /**
     * pg's query, with errors in pgwarden's vocabulary: a server error keeps
     * its SQLSTATE as `code` and all of pg's fields, redacted. Submittables
     * (cursors, streams) report their errors themselves, unchanged.
     */
    override query(...args: unknown[]): never {
      const [input, values, callback] = args;
      const raw = super.query as (...a: unknown[]) => unknown;
      if (input !== null && typeof (input as { submit?: unknown })?.submit === 'function') {
        return raw.apply(this, args) as never;
      }
      if (behindPooler) args[0] = withoutStatementName(input);
      const cb = typeof values === 'function' ? values : callback;
      const params = typeof values === 'function' ? undefined : values;
      if (typeof cb === 'function') {
        raw.call(this, args[0], params, (error: Error | null, result: unknown) =>
          (cb as (e: Error | null, r: unknown) => void)(error ? classifyQueryError(error) : error, result),
        );
        return undefined as never;
      }
      return (raw.call(this, args[0], params) as Promise<unknown>).catch((error: unknown) => {
        throw classifyQueryError(error);
      }) as never;
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | void {
      const done = this.#connectAll().then(() => this as pg.Client);
      if (!callback) return done;
      done.then(
        () => (callback as (err: Error | null, client: pg.Client) => void)(null, this),
        (error: Error) => callback(error),
      );
    }

    /**
     * Tries each host of the list (the last good one first), as libpq does,
     * until one accepts and has the wanted session attributes.
     */
    async #connectAll(): Promise<void> {
      const credentials = { current: await context.credentials.get() };
      const order = orderedTargets(config.hosts, context.hostState?.preferred ?? 0);
      const passes: SessionCheck[] =
        config.targetSessionAttrs === 'prefer-standby' ? ['standby', 'any'] : [config.targetSessionAttrs];
      let lastError: PgwardenError | undefined;
      let first = true;
      for (const wanted of passes) {
        for (const index of order) {
          const target = config.hosts[index]!;
          if (!first) this.#resetFor(attempts[0]!, target);
          first = false;
          try {
            await this.#connectTarget(target, credentials);
          } catch (error) {
            lastError = error as PgwardenError;
            if (config.hosts.length === 1) throw error;
            continue;
          }
          if (await this.#hasSessionAttrs(wanted)) {
            const state = context.hostState;
            if (state && state.preferred !== index) {
              const from = state.preferred;
              state.preferred = index;
              state.changed?.(from, index);
            }
            return;
          }
          await this.end().catch(() => undefined);
          lastError = new ConnectionError(
            'PGW_CONN_NO_TARGET_HOST',
            `No host of ${config.hosts.map((h) => `${h.host}:${h.port}`).join(', ')} is ${config.targetSessionAttrs} (${target.host}:${target.port} is not).`,
            {
              option: 'targetSessionAttrs',
              fix: 'Wait for the failover to finish (see failoverTimeoutMs), or check the host list and target_session_attrs.',
            },
          );
        }
      }
      throw lastError!;
    }

    /** One host: the sslmode attempts in order, with credential recovery after an authentication failure. */
    async #connectTarget(target: HostPort, credentials: { current: ConnectionCredentials }): Promise<void> {
      let recoveries = 0;
      this.#retarget(target);
      for (let index = 0; index < attempts.length; index++) {
        this.#use(credentials.current);
        this.#timeHandshake();
        this.#boundStartup(target);
        try {
          await new Promise<void>((resolve, reject) =>
            super.connect((error: Error | null) => (error ? reject(error) : resolve())),
          );
          this.#checkChannelBinding();
          context.credentials.accepted(credentials.current);
          return;
        } catch (error) {
          const coded = classifyConnectError(error, {
            ...connectContext,
            host: target.host,
            port: target.port,
            user: credentials.current.user,
          });
          // A rejected password may just be stale: ask the source for others
          // (one recovery shared by the pool: re-fetched, or the backend's
          // previous version) and retry this same attempt. More than one
          // round, because a rotation can land between two attempts.
          if (coded.code === 'PGW_CONN_AUTH_FAILED' && recoveries < MAX_AUTH_RECOVERIES) {
            recoveries += 1;
            const fresh = await context.credentials.recover(credentials.current);
            if (fresh) {
              credentials.current = fresh;
              this.#resetFor(attempts[index]!, target);
              index--;
              continue;
            }
          }
          const next = attempts[index + 1];
          if (!next || !allowsFallback(error, attempts[index]!)) throw coded;
          this.#resetFor(next, target);
        }
      }
    }

    /** libpq's target_session_attrs, judged with one query on the new session. */
    async #hasSessionAttrs(wanted: SessionCheck): Promise<boolean> {
      if (wanted === 'any') return true;
      const { rows } = await super.query<{ standby: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro",
      );
      const { standby, ro } = rows[0]!;
      switch (wanted) {
        case 'read-write':
          return ro === 'off';
        case 'read-only':
          return ro === 'on';
        case 'primary':
          return !standby;
        case 'standby':
          return standby;
      }
    }

    /** Points the client at another host of the list. */
    #retarget(target: HostPort): void {
      const internals = this as unknown as PgClientInternals;
      internals.host = target.host;
      internals.port = target.port;
      internals.connectionParameters.host = target.host;
      internals.connectionParameters.port = target.port;
    }

    /**
     * Counts the bytes the server sends until ReadyForQuery and aborts past
     * {@link MAX_STARTUP_BYTES}. Counting bytes on the stream pg's parser
     * reads (the TLS stream once upgraded) is the least invasive reliable
     * bound: it needs no second parser of message headers, holds for a huge
     * header as for an endless run of small messages, and leaves pg's parsing
     * untouched. It is installed through `attachListeners`, which pg calls
     * with whichever stream carries the messages (plain, or TLS after the
     * upgrade, or direct TLS), so our listener runs just before pg's.
     */
    #boundStartup(target: HostPort): void {
      const internals = this as unknown as PgClientInternals;
      const connection = internals.connection;
      if (boundedConnections.has(connection)) return;
      boundedConnections.add(connection);
      // The TCP socket, before any TLS upgrade replaces connection.stream.
      const socket = connection.stream as StartupStream;
      const attach = connection.attachListeners.bind(connection);
      connection.attachListeners = (stream: StartupStream) => {
        let received = 0;
        const count = (chunk: Buffer): void => {
          received += chunk.length;
          if (received <= MAX_STARTUP_BYTES) return;
          stream.off('data', count);
          internals._handleErrorEvent(
            new ConnectionError(
              'PGW_CONN_PROTOCOL',
              `The server at ${target.host}:${target.port} sent more than ${MAX_STARTUP_BYTES / 1024 / 1024} MiB before the session was ready; no PostgreSQL server does, so the connection was closed.`,
              {
                option: 'host',
                fix: 'Check that host and port point at PostgreSQL (or a pooler in front of it) and not at another service, and what sits in the network path.',
              },
            ),
          );
          // Destroyed, not ended: a hostile server would keep streaming into a half-closed socket.
          connection._ending = true;
          stream.destroy();
          socket.destroy();
        };
        stream.on('data', count);
        connection.once('readyForQuery', () => stream.off('data', count));
        attach(stream);
      };
    }

    /** Times the TLS handshake: from pg's upgrade of the socket to Node's secureConnect. */
    #timeHandshake(): void {
      const diagnostics = context.diagnostics;
      if (!diagnostics) return;
      const internals = this as unknown as PgClientInternals;
      internals.connection.once('sslconnect', () => {
        const started = diagnostics.start('tlsHandshake');
        if (started === undefined) return;
        const stream = internals.connection.stream as { once?(event: string, listener: () => void): void };
        stream.once?.('secureConnect', () => diagnostics.timed('tlsHandshake', started));
      });
    }

    #use(credentials: ConnectionCredentials): void {
      const internals = this as unknown as PgClientInternals;
      // pg sends connectionParameters.user at startup and uses this.user for md5.
      internals.user = credentials.user;
      internals.connectionParameters.user = credentials.user;
      internals.password = credentials.password?.reveal();
      this.connectedUser = credentials.user;
      this.credentialGeneration = credentials.generation;
    }

    /** Prepares a fresh wire connection for the next attempt (another sslmode or host). */
    #resetFor(attempt: TlsAttempt, target: HostPort): void {
      const internals = this as unknown as PgClientInternals;
      clearTimeout(internals.connectionTimeoutHandle);
      internals.connection.removeAllListeners();
      const ssl = tlsOptionsFor(config.tls, attempt, target.host);
      internals.ssl = ssl;
      internals.connectionParameters.ssl = ssl;
      internals.connection = new PgConnection({
        ssl,
        sslNegotiation: config.tls.negotiation,
        keepAlive: true,
        encoding: 'utf8',
      });
      internals._connecting = false;
      internals._connected = false;
      internals._connectionError = false;
      internals._ending = false;
      internals._ended = false;
      internals._queryable = true;
    }

    #bindingError(reason: string): TlsError {
      return new TlsError('PGW_TLS_CHANNEL_BINDING', `channel_binding=require, but ${reason}.`, {
        option: 'channelBinding',
        fix: 'Use SCRAM-SHA-256 password authentication over TLS on the server (password_encryption = scram-sha-256, a hostssl scram-sha-256 rule), or set channelBinding to prefer.',
      });
    }

    #refuse(error: Error): void {
      const internals = this as unknown as PgClientInternals;
      internals._handleErrorEvent(error);
      internals.connection.end();
    }

    #checkChannelBinding(): void {
      if (requireBinding && this.authMechanism !== 'SCRAM-SHA-256-PLUS') {
        void this.end().catch(() => undefined);
        throw this.#bindingError('the server authenticated the client without channel binding');
      }
    }

    /**
     * The server asks for a password and none was configured: fail at once
     * and close the socket, instead of pg's "client password must be a
     * string" and a socket left open until the server's authentication_timeout.
     */
    #refuseWithoutPassword(): boolean {
      const internals = this as unknown as PgClientInternals;
      if (typeof internals.password === 'string') return false;
      this.#refuse(
        new ConnectionError(
          'PGW_CONN_PASSWORD_MISSING',
          `The server asks user "${internals.user}" for a password, and none is configured.`,
          {
            option: 'password',
            fix: 'Give one: a secrets backend (SECRETS_BACKEND), DB_PASSWORD or PGPASSWORD, the URL, or a ~/.pgpass (PGPASSFILE) line for this host, port, database and user.',
          },
        ),
      );
      return true;
    }

    // Overrides of pg's authentication handlers: refuse before a password is sent.
    _handleAuthSASL(msg: { mechanisms: string[] }): void {
      if (this.#refuseWithoutPassword()) return;
      if (requireBinding && !msg.mechanisms.includes('SCRAM-SHA-256-PLUS')) {
        return this.#refuse(this.#bindingError('the server does not offer SCRAM-SHA-256-PLUS'));
      }
      this.authMechanism =
        msg.mechanisms.includes('SCRAM-SHA-256-PLUS') &&
        config.tls.channelBinding !== 'disable' &&
        isTls(this)
          ? 'SCRAM-SHA-256-PLUS'
          : 'SCRAM-SHA-256';
      (pg.Client.prototype as unknown as PgClientInternals)._handleAuthSASL.call(this, msg);
    }

    _handleAuthCleartextPassword(msg: unknown): void {
      this.authMechanism = 'password';
      if (this.#refuseWithoutPassword()) return;
      if (requireBinding)
        return this.#refuse(this.#bindingError('the server asked for a cleartext password'));
      (pg.Client.prototype as unknown as PgClientInternals)._handleAuthCleartextPassword.call(this, msg);
    }

    _handleAuthMD5Password(msg: unknown): void {
      this.authMechanism = 'md5';
      if (this.#refuseWithoutPassword()) return;
      if (requireBinding) return this.#refuse(this.#bindingError('the server asked for an md5 password'));
      (pg.Client.prototype as unknown as PgClientInternals)._handleAuthMD5Password.call(this, msg);
    }
  };
}

function isTls(client: pg.Client): boolean {
  const stream = (client as unknown as PgClientInternals).connection.stream as { encrypted?: boolean };
  return stream?.encrypted === true;
}

/** The socket of a connected client, for TLS details. */
export function clientStream(client: pg.ClientBase): unknown {
  return (client as unknown as PgClientInternals).connection?.stream;
}
