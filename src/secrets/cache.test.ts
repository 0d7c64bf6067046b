import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import { SecretError, type ErrorCode } from '../errors.js';
import type { LogLevel } from '../logger.js';
import { Secret } from '../redact/secret.js';
import { backendError } from './backend-error.js';
import { CachedCredentials } from './cache.js';
import type { SecretLogger } from './logger.js';
import type { Credentials, SecretProvider } from './provider.js';

interface LogLine {
  level: LogLevel;
  event: string;
  message: string;
}

function capture(): { logger: SecretLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, logger: { log: (level, event, message) => lines.push({ level, event, message }) } };
}

/** A provider whose answers the test scripts; counts fetches. */
class ScriptedProvider implements SecretProvider {
  readonly name = 'scripted';
  calls = 0;
  delayMs = 0;
  failWith: ErrorCode | Error | undefined;
  next: () => Credentials;
  invalidated = 0;

  constructor(next: () => Credentials) {
    this.next = next;
  }

  async fetch(signal?: AbortSignal): Promise<Credentials> {
    this.calls += 1;
    if (this.delayMs > 0) await sleep(this.delayMs, undefined, signal ? { signal } : {});
    if (this.failWith instanceof Error) throw this.failWith;
    if (this.failWith) throw backendError(this.failWith, this.name, 'scripted failure.', { fix: 'none' });
    return this.next();
  }

  invalidate(): void {
    this.invalidated += 1;
  }

  describe() {
    return { backend: this.name };
  }
}

function assertNoLeak(secret: string, error: unknown, lines: readonly LogLine[] = []): void {
  const e = error as Error;
  for (const text of [e.message, String(e), e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 })]) {
    assertNoCanary(text, secret);
  }
  for (const line of lines) assertNoCanary(`${line.event} ${line.message}`, secret);
}

describe('CachedCredentials', () => {
  test('50 concurrent get() calls make one backend fetch', async () => {
    const pw = canary();
    const provider = new ScriptedProvider(() => ({ user: 'app', password: new Secret(pw) }));
    provider.delayMs = 30;
    const cache = new CachedCredentials(provider);
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.get()));
    assert.equal(provider.calls, 1);
    assert.ok(results.every((c) => c === results[0]));
    assert.equal(results[0]?.password?.reveal(), pw);
    const stats = cache.stats();
    assert.equal(stats.fetches, 1);
    assert.equal(stats.misses, 50);
    await cache.get();
    assert.equal(cache.stats().hits, 1);
    assert.ok(stats.lastFetchAt instanceof Date);
    await cache.close();
  });

  test('serves from cache within the TTL and fetches again after it', async () => {
    let n = 0;
    const provider = new ScriptedProvider(() => ({ user: `u${++n}`, password: new Secret(canary()) }));
    // refresh window at 100% of the TTL: no background refresh inside it
    const cache = new CachedCredentials(provider, { ttlMs: 80, refreshWindow: [1, 1] });
    assert.equal((await cache.get()).user, 'u1');
    assert.equal((await cache.get()).user, 'u1');
    assert.equal(provider.calls, 1);
    await sleep(100);
    assert.equal((await cache.get()).user, 'u2');
    assert.equal(provider.calls, 2);
    await cache.close();
  });

  test('expiresAt shortens the TTL and keeps a margin before it', async () => {
    const provider = new ScriptedProvider(() => ({
      user: 'u',
      password: new Secret(canary()),
      expiresAt: new Date(Date.now() + 150),
    }));
    const cache = new CachedCredentials(provider, { ttlMs: 60_000, refreshWindow: [1, 1] });
    await cache.get();
    await sleep(60);
    await cache.get();
    assert.equal(provider.calls, 1, 'still fresh at 60 ms of 150');
    // fresh until 150 - 150/3 = 100 ms
    await sleep(60);
    await cache.get();
    assert.equal(provider.calls, 2, 'refetched before expiresAt');
    await cache.close();
  });

  test('refreshes in the background after the jittered point, without making callers wait', async () => {
    let n = 0;
    const provider = new ScriptedProvider(() => ({ user: `u${++n}`, password: new Secret(canary()) }));
    const cache = new CachedCredentials(provider, { ttlMs: 200, refreshWindow: [0.5, 0.5] });
    await cache.get();
    await sleep(120);
    provider.delayMs = 50;
    const started = Date.now();
    assert.equal((await cache.get()).user, 'u1', 'the cached value is served while refreshing');
    assert.ok(Date.now() - started < 40);
    await sleep(80);
    assert.equal((await cache.get()).user, 'u2');
    assert.equal(provider.calls, 2);
    await cache.close();
  });

  test('the refresh point is drawn inside the window', async () => {
    // A window far from the TTL, so scheduling slack on a loaded machine
    // cannot move a draw out of its range: r=0 → 1000 ms, r≈1 → 1200 ms, TTL 2000 ms.
    const points: number[] = [];
    for (const r of [0, 0.999]) {
      const provider = new ScriptedProvider(() => ({ user: 'u', password: new Secret(canary()) }));
      const cache = new CachedCredentials(provider, {
        ttlMs: 2000,
        refreshWindow: [0.5, 0.6],
        random: () => r,
      });
      const start = Date.now();
      await cache.get();
      // Probe: poll until a background fetch starts.
      while (provider.calls < 2 && Date.now() - start < 2000) {
        await sleep(10);
        await cache.get();
      }
      points.push(Date.now() - start);
      await cache.close();
    }
    assert.ok((points[0] as number) >= 1000 && (points[0] as number) < 1190, `r=0 at ${points[0]}`);
    assert.ok((points[1] as number) >= 1198 && (points[1] as number) < 1900, `r=.999 at ${points[1]}`);
  });

  test('stale-if-error within the grace: serves the cache, warns once per outage, counts', async () => {
    const pw = canary();
    const provider = new ScriptedProvider(() => ({ user: 'app', password: new Secret(pw) }));
    const { logger, lines } = capture();
    const cache = new CachedCredentials(provider, {
      ttlMs: 30,
      staleGraceMs: 5_000,
      refreshWindow: [1, 1],
      // Short, so recovery is seen within the polling below (the backoff has its own tests).
      retryBackoffMs: [20, 20],
      logger,
    });
    await cache.get();
    provider.failWith = 'PGW_SECRET_BACKEND_UNAVAILABLE';
    await sleep(40);
    for (let i = 0; i < 3; i += 1) assert.equal((await cache.get()).password?.reveal(), pw);
    const stale = lines.filter((l) => l.event === 'PGW_SECRET_STALE');
    assert.equal(stale.length, 1, 'one warning per outage');
    assert.equal(stale[0]?.level, 'warn');
    assert.match(stale[0]?.message ?? '', /scripted.*PGW_SECRET_BACKEND_UNAVAILABLE/);
    const stats = cache.stats();
    assert.equal(stats.staleServed, 3);
    assert.equal(stats.lastErrorCode, 'PGW_SECRET_BACKEND_UNAVAILABLE');

    // recovery ends the outage (the stale answer came at once; the background
    // refresh that ends the outage lands a moment later); the next outage warns again
    provider.failWith = undefined;
    for (let i = 0; i < 20 && cache.stats().lastErrorCode !== undefined; i += 1) {
      await cache.get();
      await sleep(10);
    }
    assert.equal(cache.stats().lastErrorCode, undefined);
    provider.failWith = 'PGW_SECRET_VAULT_SEALED';
    await sleep(40);
    await cache.get();
    assert.equal(lines.filter((l) => l.event === 'PGW_SECRET_STALE').length, 2);
    for (const line of lines) assertNoCanary(line.message, pw);
    await cache.close();
  });

  test("past the grace, the backend's coded error is thrown", async () => {
    const pw = canary();
    const provider = new ScriptedProvider(() => ({ user: 'app', password: new Secret(pw) }));
    const { logger, lines } = capture();
    // Windows of hundreds of ms, so a loaded CI machine cannot blur them.
    const cache = new CachedCredentials(provider, {
      ttlMs: 200,
      staleGraceMs: 400,
      refreshWindow: [1, 1],
      logger,
    });
    await cache.get();
    provider.failWith = 'PGW_SECRET_ACCESS_DENIED';
    await sleep(300);
    await cache.get(); // stale, inside the grace
    await sleep(500);
    const error = await cache.get().then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SecretError);
    assert.equal(error.code, 'PGW_SECRET_ACCESS_DENIED');
    assert.match(error.message, /scripted/);
    assertNoLeak(pw, error, lines);
    await cache.close();
  });

  test('stale serving never passes the credentials’ own expiresAt', async () => {
    const provider = new ScriptedProvider(() => ({
      user: 'app',
      password: new Secret(canary()),
      expiresAt: new Date(Date.now() + 900),
    }));
    const { logger } = capture();
    const cache = new CachedCredentials(provider, { staleGraceMs: 60_000, refreshWindow: [1, 1], logger });
    await cache.get();
    provider.failWith = 'PGW_SECRET_BACKEND_UNAVAILABLE';
    await sleep(700); // fresh until 600 ms (a third of the lifetime kept as margin), expires at 900 ms
    await cache.get();
    await sleep(400);
    await assert.rejects(cache.get(), { code: 'PGW_SECRET_BACKEND_UNAVAILABLE' });
    await cache.close();
  });

  test('without a cached value a failure is thrown at once', async () => {
    const provider = new ScriptedProvider(() => ({ password: new Secret(canary()) }));
    provider.failWith = 'PGW_SECRET_NOT_FOUND';
    const cache = new CachedCredentials(provider);
    await assert.rejects(cache.get(), { code: 'PGW_SECRET_NOT_FOUND' });
    assert.equal(cache.stats().lastErrorCode, 'PGW_SECRET_NOT_FOUND');
    await cache.close();
  });

  test('a background refresh failure while fresh is logged once and keeps the value', async () => {
    const provider = new ScriptedProvider(() => ({ user: 'u', password: new Secret(canary()) }));
    const { logger, lines } = capture();
    const cache = new CachedCredentials(provider, { ttlMs: 100, refreshWindow: [0.3, 0.3], logger });
    await cache.get();
    provider.failWith = 'PGW_SECRET_BACKEND_UNAVAILABLE';
    await sleep(40);
    await cache.get();
    await sleep(10);
    await cache.get();
    await sleep(10);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    assert.equal(lines[0]?.event, 'PGW_SECRET_BACKEND_UNAVAILABLE');
    await cache.close();
  });

  test('invalidate(): the next get() fetches, and rejected credentials are never served stale', async () => {
    const provider = new ScriptedProvider(() => ({ user: 'u', password: new Secret(canary()) }));
    const cache = new CachedCredentials(provider, { ttlMs: 60_000 });
    await cache.get();
    cache.invalidate();
    assert.equal(provider.invalidated, 1, 'the provider is told too');
    await cache.get();
    assert.equal(provider.calls, 2);
    cache.invalidate();
    provider.failWith = 'PGW_SECRET_BACKEND_UNAVAILABLE';
    await assert.rejects(cache.get(), { code: 'PGW_SECRET_BACKEND_UNAVAILABLE' });
    assert.equal(cache.stats().staleServed, 0);
    await cache.close();
  });

  test('emits rotate when user, password or version change, not when nothing does', async () => {
    let current: Credentials = { user: 'a', password: new Secret(canary()), version: '1' };
    const provider = new ScriptedProvider(() => current);
    const cache = new CachedCredentials(provider, { ttlMs: 0 });
    const events: Array<[string | undefined, string | undefined]> = [];
    cache.on('rotate', (now, before) => events.push([before.user, now.user]));
    await cache.get();
    await cache.get(); // same object: no event
    current = { ...current, password: new Secret(canary()) };
    await cache.get();
    current = { ...current, user: 'b' };
    await cache.get();
    current = { ...current, version: '2' };
    await cache.get();
    assert.deepEqual(events, [
      ['a', 'a'],
      ['a', 'b'],
      ['b', 'b'],
    ]);
    await cache.close();
  });

  test('a new RDS IAM token is not a rotation', async () => {
    const provider = new ScriptedProvider(() => ({
      user: 'a',
      password: new Secret(canary()),
      passwordIsToken: true,
    }));
    const cache = new CachedCredentials(provider, { ttlMs: 0 });
    let events = 0;
    cache.on('rotate', () => (events += 1));
    await cache.get();
    await cache.get();
    assert.equal(events, 0);
    await cache.close();
  });

  test('credentials pushed by the provider (onRotate) replace the cache and emit rotate', async () => {
    let push: ((c: Credentials) => void) | undefined;
    const provider = Object.assign(
      new ScriptedProvider(() => ({ user: 'v-1', password: new Secret(canary()) })),
      {
        onRotate(listener: (c: Credentials) => void) {
          push = listener;
          return () => (push = undefined);
        },
      },
    );
    const cache = new CachedCredentials(provider, { ttlMs: 60_000 });
    const seen: string[] = [];
    cache.on('rotate', (c) => seen.push(c.user ?? ''));
    await cache.get();
    push?.({ user: 'v-2', password: new Secret(canary()) });
    assert.deepEqual(seen, ['v-2']);
    assert.equal((await cache.get()).user, 'v-2');
    assert.equal(provider.calls, 1);
    await cache.close();
    assert.equal(push, undefined, 'close() unsubscribes');
  });

  test('a hanging backend fails with a timeout, and the provider sees the abort', async () => {
    let aborted = false;
    const provider: SecretProvider = {
      name: 'hanging',
      fetch: (signal) =>
        new Promise((_, reject) =>
          signal?.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          }),
        ),
      describe: () => ({}),
    };
    const cache = new CachedCredentials(provider, { fetchTimeoutMs: 30 });
    await assert.rejects(cache.get(), (e: SecretError) => {
      assert.equal(e.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
      assert.match(e.message, /hanging.*timed out/);
      return true;
    });
    assert.ok(aborted);
    await cache.close();
  });

  test("a caller's abort ends only its own wait", async () => {
    const provider = new ScriptedProvider(() => ({ user: 'u', password: new Secret(canary()) }));
    provider.delayMs = 60;
    const cache = new CachedCredentials(provider);
    const controller = new AbortController();
    const first = cache.get(controller.signal);
    const second = cache.get();
    controller.abort();
    // Its own code: a cancellation is not an outage (issue 12, "also known").
    await assert.rejects(first, { code: 'PGW_SECRET_ABORTED', message: /cancelled by its caller/ });
    assert.equal((await second).user, 'u');
    assert.equal(provider.calls, 1);
    // Already aborted, and a caller's own timeout signal: still the caller's decision.
    const gone = new AbortController();
    gone.abort();
    await assert.rejects(cache.get(gone.signal), { code: 'PGW_SECRET_ABORTED' });
    cache.invalidate();
    await assert.rejects(cache.get(AbortSignal.timeout(1)), { code: 'PGW_SECRET_ABORTED' });
    await cache.close();
  });

  test('errors that are not SecretError are wrapped without leaking their text', async () => {
    const pw = canary();
    const provider = new ScriptedProvider(() => ({ password: new Secret(pw) }));
    // Register the canary as a secret first, as a provider would have.
    await new CachedCredentials(provider).get();
    provider.failWith = new Error(`driver said password=${pw}`);
    const cache = new CachedCredentials(provider);
    const error = await cache.get().catch((e: unknown) => e);
    assert.ok(error instanceof SecretError);
    assert.equal(error.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
    assertNoLeak(pw, error);
    await cache.close();
  });

  test('fetchPrevious passes through, and is undefined for providers without it', async () => {
    const previous = { user: 'old', password: new Secret(canary()) };
    const provider = Object.assign(new ScriptedProvider(() => ({ password: new Secret(canary()) })), {
      fetchPrevious: async () => previous,
    });
    assert.equal(await new CachedCredentials(provider).fetchPrevious(), previous);
    const plain = new ScriptedProvider(() => ({ password: new Secret(canary()) }));
    assert.equal(await new CachedCredentials(plain).fetchPrevious(), undefined);
  });

  test('rejects nonsense options with PGW_SECRET_CONFIG', () => {
    const provider = new ScriptedProvider(() => ({}));
    assert.throws(() => new CachedCredentials(provider, { ttlMs: -1 }), { code: 'PGW_SECRET_CONFIG' });
    assert.throws(() => new CachedCredentials(provider, { refreshWindow: [0.9, 0.8] }), {
      code: 'PGW_SECRET_CONFIG',
    });
    assert.throws(() => new CachedCredentials(provider, { fetchTimeoutMs: 0 }), {
      code: 'PGW_SECRET_CONFIG',
    });
  });

  test('get() after close() fails with a coded error and the provider is closed', async () => {
    let closed = false;
    const provider = Object.assign(new ScriptedProvider(() => ({ password: new Secret(canary()) })), {
      close: async () => {
        closed = true;
      },
    });
    const cache = new CachedCredentials(provider);
    await cache.close();
    assert.ok(closed);
    await assert.rejects(cache.get(), { code: 'PGW_SECRET_BACKEND_UNAVAILABLE' });
  });
});

describe('redaction stays bounded by the secrets in use (issue 12, item 9)', () => {
  test('10 000 rotations through the cache: only the current password and the one it replaced stay tracked', async () => {
    const { trackedSecretCount, redact } = await import('../redact/redactor.js');
    const generated: string[] = [];
    const provider = new ScriptedProvider(() => {
      const value = canary();
      generated.push(value);
      return { user: 'app', password: new Secret(value), version: value.slice(7, 23) };
    });
    // ttlMs 0: every get() is a fetch, so every get() rotates.
    const cache = new CachedCredentials(provider, { ttlMs: 0, staleGraceMs: 0 });
    let rotations = 0;
    cache.on('rotate', () => (rotations += 1));
    for (let i = 0; i < 10_000; i++) await cache.get();
    assert.equal(provider.calls, 10_000);
    assert.equal(rotations, 9_999);
    const stillTracked = generated.filter((value) => redact(value) !== value);
    // The current one, and the one before (connections opened with it may still be open).
    assert.deepEqual(stillTracked, generated.slice(-2));
    // The whole process's tracked set is bounded too, not 10 000 entries.
    assert.ok(trackedSecretCount() < 50, `tracked ${trackedSecretCount()} values`);
    await cache.close();
    assert.deepEqual(
      generated.slice(-2).filter((value) => redact(value) !== value),
      [],
    );
  });

  test('the same value fetched again stays tracked until close; a token is dropped once it expires', async () => {
    const { redact } = await import('../redact/redactor.js');
    const fixed = canary();
    const same = new CachedCredentials(new ScriptedProvider(() => ({ password: new Secret(fixed) })), {
      ttlMs: 0,
    });
    for (let i = 0; i < 100; i++) await same.get();
    assert.equal(redact(fixed), '[redacted]');
    await same.close();
    assert.equal(redact(fixed), fixed);

    const tokenValue = canary();
    const token = new CachedCredentials(
      new ScriptedProvider(() => ({
        password: new Secret(tokenValue),
        passwordIsToken: true,
        expiresAt: new Date(Date.now() + 50),
      })),
      { ttlMs: 60_000, expiryMarginMs: 0 },
    );
    await token.get();
    assert.equal(redact(tokenValue), '[redacted]');
    await sleep(80);
    assert.equal(redact(tokenValue), tokenValue);
    await token.close();
  });
});

describe('backoff during an outage (issue 12, "also known")', () => {
  test('however often callers ask, the backend is called with growing gaps while it fails', async () => {
    const times: number[] = [];
    const provider = new ScriptedProvider(() => ({ user: 'app', password: new Secret(canary()) }));
    const fetch = provider.fetch.bind(provider);
    provider.fetch = (signal) => {
      times.push(Date.now());
      return fetch(signal);
    };
    const cache = new CachedCredentials(provider, {
      ttlMs: 20,
      staleGraceMs: 60_000,
      refreshWindow: [1, 1],
      retryBackoffMs: [100, 400],
      random: () => 0, // no jitter: the gaps are exactly 100, 200, 400, 400 ms
      logger: capture().logger,
    });
    await cache.get();
    provider.failWith = 'PGW_SECRET_BACKEND_UNAVAILABLE';
    await sleep(30);
    times.length = 0;
    const until = Date.now() + 1_300;
    let answered = 0;
    while (Date.now() < until) {
      // Stale credentials, at once, every time.
      assert.equal((await cache.get()).user, 'app');
      answered += 1;
      await sleep(5);
    }
    // Without a backoff every call started a fetch (one per call).
    assert.ok(times.length >= 3 && times.length <= 6, `${times.length} backend calls`);
    assert.ok(answered > 4 * times.length, `${answered} calls, ${times.length} backend calls`);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(gaps[0]! >= 95 && gaps[1]! >= 195 && gaps[2]! >= 395, `gaps ${gaps.join(', ')}`);
    const stats = cache.stats();
    assert.equal(stats.consecutiveFailures, times.length);
    assert.ok(stats.retryAt && stats.retryAt.getTime() >= times.at(-1)! + 395);

    // Recovery: the next allowed call succeeds and the backoff is gone.
    provider.failWith = undefined;
    await sleep(450);
    await cache.get();
    await sleep(20);
    assert.equal(cache.stats().consecutiveFailures, 0);
    assert.equal(cache.stats().retryAt, undefined);
    await cache.close();
  });

  test('with nothing cached, a caller during the backoff gets the last error without a backend call', async () => {
    const provider = new ScriptedProvider(() => ({ user: 'app', password: new Secret(canary()) }));
    provider.failWith = 'PGW_SECRET_VAULT_SEALED';
    const cache = new CachedCredentials(provider, { retryBackoffMs: [150, 150], random: () => 0 });
    await assert.rejects(cache.get(), { code: 'PGW_SECRET_VAULT_SEALED' });
    for (let i = 0; i < 20; i++) await assert.rejects(cache.get(), { code: 'PGW_SECRET_VAULT_SEALED' });
    assert.equal(provider.calls, 1);
    await sleep(160);
    provider.failWith = undefined;
    assert.equal((await cache.get()).user, 'app');
    assert.equal(provider.calls, 2);
    await cache.close();
  });
});
