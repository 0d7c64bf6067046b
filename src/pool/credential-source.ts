/**
 * Where a pool gets the user and password of each new physical connection:
 * fixed values from the resolved config, or a secrets backend behind its
 * cache. Rotation bumps `generation`, so the pool can retire connections
 * opened with older credentials.
 */
import type { ResolvedConfig } from '../config/schema.js';
import type { Secret } from '../redact/secret.js';
import type { CachedCredentials } from '../secrets/cache.js';
import type { Credentials, ProviderDescription } from '../secrets/provider.js';

/** The credentials used for one physical connection. */
export interface ConnectionCredentials {
  readonly user: string;
  readonly password: Secret | undefined;
  /** Which rotation these belong to; compared with {@link CredentialSource.generation}. */
  readonly generation: number;
}

export interface RotationEvent {
  readonly backend: string;
  readonly previousUser: string;
  readonly user: string;
  readonly version: string | undefined;
  readonly generation: number;
}

export interface CredentialSource {
  /** The backend's name (`config` for fixed credentials). */
  readonly backend: string;
  /** Increases by one on every rotation the pool picks up. */
  readonly generation: number;
  get(): Promise<ConnectionCredentials>;
  /**
   * After an authentication failure: other credentials to try (fresh ones, or
   * the backend's previous ones), or undefined when there are none. One
   * recovery is shared by every connection rejected at the same time.
   */
  recover(rejected: ConnectionCredentials): Promise<ConnectionCredentials | undefined>;
  /** The server accepted these credentials: recoveries may start again at once. */
  accepted(credentials: ConnectionCredentials): void;
  /** Subscribes to rotations; returns the unsubscribe function. */
  onRotate(listener: (event: RotationEvent) => void): () => void;
  describe(): ProviderDescription;
  stats(): Record<string, unknown> | undefined;
  /** When the credentials last handed out stop working (a lease, a token), if the backend says. */
  expiresAt(): Date | undefined;
  close(): Promise<void>;
}

/** Fixed credentials from the resolved config: no backend, never rotates. */
export function configCredentials(config: ResolvedConfig): CredentialSource {
  const credentials: ConnectionCredentials = { user: config.user, password: config.password, generation: 0 };
  return {
    backend: 'config',
    generation: 0,
    get: async () => credentials,
    recover: async () => undefined,
    accepted: () => undefined,
    onRotate: () => () => undefined,
    describe: () => ({ backend: 'config', passwordSource: config.sources.password ?? 'none' }),
    stats: () => undefined,
    expiresAt: () => undefined,
    close: async () => undefined,
  };
}

function same(
  a: Credentials,
  b: { user: string; password: Secret | undefined },
  fallbackUser: string,
): boolean {
  return (a.user ?? fallbackUser) === b.user && (a.password?.equals(b.password) ?? b.password === undefined);
}

function sameLogin(a: ConnectionCredentials, b: ConnectionCredentials): boolean {
  return a.user === b.user && (a.password?.equals(b.password) ?? b.password === undefined);
}

/**
 * How long a recovery's outcome answers later failures before the backend is
 * asked again, as `[first, max]` ms: doubling with each recovery that no
 * successful login followed, so a role the server keeps rejecting costs one
 * backend call (and, with vault-database, one lease) per period, not one per
 * connection attempt. A login that succeeds resets it.
 */
const RECOVERY_HOLD_MS = [1_000, 15_000] as const;

/** One shared answer to an authentication failure. */
interface Recovery {
  /** Credentials handed out before this recovery began share its outcome. */
  readonly epoch: number;
  readonly startedAt: number;
  readonly holdMs: number;
  /** The source's generation once the recovery re-fetched: a later rotation starts a new one. */
  generation: number;
  /** The fresh credentials, then (when they are the rejected ones) the backend's previous ones. */
  candidates: ConnectionCredentials[];
  done: Promise<void>;
  settled: boolean;
}

/**
 * Credentials from a secrets backend, cached (TTL, single-flight,
 * stale-if-error). The cache is also consulted every `refreshIntervalMs`
 * while the pool lives, so a rotation is noticed (and old connections
 * drained) even when no new connection is being opened.
 */
export function backendCredentials(
  config: ResolvedConfig,
  cache: CachedCredentials,
  refreshIntervalMs: number,
): CredentialSource {
  let generation = 0;
  // get() answers from the cache while fresh: this costs no backend call
  // unless the TTL (or the lease) says it is time.
  const poll = setInterval(() => void cache.get().catch(() => undefined), refreshIntervalMs);
  poll.unref();
  const listeners: Array<(event: RotationEvent) => void> = [];
  let expiresAt: Date | undefined;
  /** Bumped when a recovery starts; each handed-out credential remembers the epoch it was handed out in. */
  let epoch = 0;
  const issued = new WeakMap<ConnectionCredentials, number>();
  let recovery: Recovery | undefined;
  /** Recoveries since the last successful login: the hold doubles with each. */
  let unaccepted = 0;
  /** The backend's previous credentials, fetched once per generation (rotation). */
  let previousOf: { generation: number; credentials: Credentials | undefined } | undefined;
  const toConnection = (c: Credentials, at = epoch): ConnectionCredentials => {
    expiresAt = c.expiresAt;
    return connectionOf(c, at);
  };
  const connectionOf = (c: Credentials, at = epoch): ConnectionCredentials => {
    const connection = { user: c.user ?? config.user, password: c.password ?? config.password, generation };
    issued.set(connection, at);
    return connection;
  };
  const previousCredentials = async (): Promise<Credentials | undefined> => {
    if (previousOf?.generation === generation) return previousOf.credentials;
    const at = generation;
    const credentials = await cache.fetchPrevious();
    previousOf = { generation: at, credentials };
    return credentials;
  };
  const startRecovery = (rejected: ConnectionCredentials, now: number): Recovery => {
    epoch += 1;
    const [first, max] = RECOVERY_HOLD_MS;
    const started: Recovery = {
      epoch,
      startedAt: now,
      holdMs: Math.min(max, first * 2 ** unaccepted),
      generation,
      candidates: [],
      done: Promise.resolve(),
      settled: false,
    };
    unaccepted += 1;
    recovery = started;
    // What a recovery hands out is tagged as older than it: refused too, it
    // joins this recovery's outcome instead of starting another.
    const tag = started.epoch - 1;
    started.done = (async () => {
      try {
        cache.invalidate();
        const fresh = await cache.get();
        const found = [toConnection(fresh, tag)];
        // The backend still hands out the rejected credentials: during a
        // rotation the previous version may be the one the database knows.
        if (same(fresh, rejected, config.user)) {
          const previous = await previousCredentials();
          if (previous) found.push(connectionOf(previous, tag));
        }
        started.generation = generation;
        started.candidates = found.filter(
          (candidate, i) => !found.slice(0, i).some((earlier) => sameLogin(earlier, candidate)),
        );
      } finally {
        started.settled = true;
      }
    })();
    return started;
  };
  cache.on('rotate', (current, previous) => {
    generation += 1;
    const event: RotationEvent = {
      backend: cache.backend,
      previousUser: previous.user ?? config.user,
      user: current.user ?? config.user,
      version: current.version,
      generation,
    };
    for (const listener of listeners) listener(event);
  });
  return {
    backend: cache.backend,
    get generation() {
      return generation;
    },
    get: async () => toConnection(await cache.get()),
    /**
     * After an authentication failure the credentials are re-fetched once,
     * for the whole pool: the first connection rejected starts a recovery
     * (invalidate, one fetch and, when the backend still hands out the
     * rejected credentials, its previous version, fetched at most once per
     * rotation), and every connection rejected while it runs, with
     * credentials handed out before it began, or within its hold, shares its
     * outcome. Each then tries the first candidate that differs from what it
     * was just refused with, so a rotation that lands between two attempts is
     * still followed, with no further backend call.
     */
    async recover(rejected) {
      const now = Date.now();
      const last = recovery;
      const issuedAt = issued.get(rejected) ?? epoch;
      const joins =
        last !== undefined &&
        (!last.settled ||
          issuedAt < last.epoch ||
          (now < last.startedAt + last.holdMs && generation <= last.generation));
      const shared = joins ? last : startRecovery(rejected, now);
      await shared.done;
      return shared.candidates.find((candidate) => !sameLogin(candidate, rejected));
    },
    accepted() {
      unaccepted = 0;
    },
    onRotate: (listener) => {
      listeners.push(listener);
      return () => {
        const index = listeners.indexOf(listener);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
    describe: () => ({ backend: cache.backend, ...cache.describe() }),
    stats: () => ({ ...cache.stats() }),
    expiresAt: () => expiresAt,
    close: () => {
      clearInterval(poll);
      return cache.close();
    },
  };
}
