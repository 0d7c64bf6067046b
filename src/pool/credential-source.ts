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
  /** After an authentication failure: fresh credentials, or the backend's previous ones; undefined when nothing differs. */
  recover(rejected: ConnectionCredentials): Promise<ConnectionCredentials | undefined>;
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
  const toConnection = (c: Credentials): ConnectionCredentials => {
    expiresAt = c.expiresAt;
    return connectionOf(c);
  };
  const connectionOf = (c: Credentials): ConnectionCredentials => ({
    user: c.user ?? config.user,
    password: c.password ?? config.password,
    generation,
  });
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
    async recover(rejected) {
      cache.invalidate();
      const fresh = await cache.get();
      if (!same(fresh, rejected, config.user)) return toConnection(fresh);
      // The backend still hands out the rejected credentials: during a
      // rotation the previous version may be the one the database knows.
      const previous = await cache.fetchPrevious();
      return previous && !same(previous, rejected, config.user)
        ? { ...toConnection(previous), generation }
        : undefined;
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
