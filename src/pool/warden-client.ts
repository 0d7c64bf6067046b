/**
 * The node-postgres Client that pgwarden's pool creates for each physical
 * connection. It adds what pg cannot do from a static config:
 * - credentials (user AND password) resolved for every new connection, so
 *   rotation and dynamic users work;
 * - libpq's sslmode fallbacks (`allow`, `prefer`) as separate attempts;
 * - `channel_binding=require`, refusing before a password is sent when the
 *   server does not offer SCRAM-SHA-256-PLUS.
 * pg internals are touched here and only here.
 */
import pg from 'pg';
import type { ResolvedConfig } from '../config/schema.js';
import { TlsError } from '../errors.js';
import { attemptsFor, tlsOptionsFor, type TlsAttempt } from '../tls/ssl-options.js';
import { classifyConnectError, type ConnectContext } from './classify-error.js';
import type { ConnectionCredentials, CredentialSource } from './credential-source.js';

export interface ClientContext {
  readonly config: ResolvedConfig;
  /** Asked once per physical connection, and again after an authentication failure. */
  readonly credentials: CredentialSource;
  /** Told how long each TLS handshake took (metrics). */
  readonly instruments?: { current: { tlsHandshake?(seconds: number): void } | undefined };
}

/** The parts of pg.Client that pg does not type but this class relies on. */
interface PgClientInternals {
  connection: {
    stream: unknown;
    removeAllListeners(): void;
    end(): void;
    once(event: string, listener: () => void): void;
  };
  ssl: unknown;
  connectionParameters: { ssl: unknown; user: string };
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

function baseClientConfig(config: ResolvedConfig, attempt: TlsAttempt): pg.ClientConfig {
  const { session } = config;
  return {
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    ssl: tlsOptionsFor(config.tls, attempt, config.host),
    // Sent as startup parameters, so they hold for every statement and behind PgBouncer.
    application_name: config.applicationName,
    ...(session.statementTimeoutMs !== undefined ? { statement_timeout: session.statementTimeoutMs } : {}),
    ...(session.lockTimeoutMs !== undefined ? { lock_timeout: session.lockTimeoutMs } : {}),
    ...(session.idleInTransactionSessionTimeoutMs !== undefined
      ? { idle_in_transaction_session_timeout: session.idleInTransactionSessionTimeoutMs }
      : {}),
    connectionTimeoutMillis: config.pool.connectionTimeoutMs,
    keepAlive: true,
    enableChannelBinding: config.tls.channelBinding !== 'disable',
    ...({ sslnegotiation: config.tls.negotiation } as object),
  };
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

  return class WardenClient extends pg.Client {
    /** The SASL mechanism the server and client agreed on, for channel-binding checks and doctor. */
    authMechanism: string | undefined;
    /** The user this connection logged in as (it may differ between connections). */
    connectedUser: string | undefined;
    /** The credential generation it logged in with; older ones are retired by the pool. */
    credentialGeneration = 0;

    constructor() {
      super(baseClientConfig(config, attempts[0]!));
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

    async #connectAll(): Promise<void> {
      let credentials = await context.credentials.get();
      let recoveries = 0;
      for (let index = 0; index < attempts.length; index++) {
        this.#use(credentials);
        this.#timeHandshake();
        try {
          await new Promise<void>((resolve, reject) =>
            super.connect((error: Error | null) => (error ? reject(error) : resolve())),
          );
          this.#checkChannelBinding();
          return;
        } catch (error) {
          const coded = classifyConnectError(error, { ...connectContext, user: credentials.user });
          // A rejected password may just be stale: re-fetch (or try the
          // backend's previous version) and retry this same attempt. More than
          // one round, because a rotation can land between two attempts.
          if (coded.code === 'PGW_CONN_AUTH_FAILED' && recoveries < MAX_AUTH_RECOVERIES) {
            recoveries += 1;
            const fresh = await context.credentials.recover(credentials);
            if (fresh) {
              credentials = fresh;
              this.#resetFor(attempts[index]!);
              index--;
              continue;
            }
          }
          const next = attempts[index + 1];
          if (!next || !allowsFallback(error, attempts[index]!)) throw coded;
          this.#resetFor(next);
        }
      }
    }

    /** Times the TLS handshake: from pg's upgrade of the socket to Node's secureConnect. */
    #timeHandshake(): void {
      const observer = context.instruments;
      if (!observer?.current?.tlsHandshake) return;
      const internals = this as unknown as PgClientInternals;
      internals.connection.once('sslconnect', () => {
        const started = performance.now();
        const stream = internals.connection.stream as { once?(event: string, listener: () => void): void };
        stream.once?.('secureConnect', () =>
          observer.current?.tlsHandshake?.((performance.now() - started) / 1000),
        );
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

    /** Prepares a fresh wire connection for the next sslmode attempt. */
    #resetFor(attempt: TlsAttempt): void {
      const internals = this as unknown as PgClientInternals;
      clearTimeout(internals.connectionTimeoutHandle);
      internals.connection.removeAllListeners();
      const ssl = tlsOptionsFor(config.tls, attempt, config.host);
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

    // Overrides of pg's authentication handlers: refuse before a password is sent.
    _handleAuthSASL(msg: { mechanisms: string[] }): void {
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
      if (requireBinding)
        return this.#refuse(this.#bindingError('the server asked for a cleartext password'));
      (pg.Client.prototype as unknown as PgClientInternals)._handleAuthCleartextPassword.call(this, msg);
    }

    _handleAuthMD5Password(msg: unknown): void {
      this.authMechanism = 'md5';
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
