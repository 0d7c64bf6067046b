/**
 * HTTP health endpoints over node:http, with the paths our users' guidelines
 * use: /health, /health/live, /health/ready, /health/database,
 * /health/detailed (prefix configurable, e.g. /api/health).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WardenPool } from '../pool/pool.js';
import { Secret } from '../redact/secret.js';
import { checkDatabase, checkReady, type HealthStatus } from '../pool/readiness.js';

export interface HealthHandlerOptions {
  /** Path prefix of the routes. Default `/health`. */
  prefix?: string;
  /**
   * Bearer token for /detailed. Without it (or with a wrong one) the detailed
   * report leaves out hosts, users and backend settings; with a token
   * configured, a wrong token gets 401.
   */
  token?: string | Secret;
  /** Per-check timeout. Default 2000 ms. */
  timeoutMs?: number;
  /** When the newest verified backup was taken, for /detailed. */
  lastBackupAt?: () => Promise<Date | undefined>;
  /** Or: the `pgwarden backup` directory, read for the newest backup whose file matches its manifest. */
  backupDir?: string;
}

/** The newest intact backup in `dir` (the backup module is loaded only when used). */
async function newestBackup(dir: string): Promise<Date | undefined> {
  const { listBackups } = await import('../backup/list.js');
  const newest = listBackups(dir).backups.find((b) => b.status === 'ok' && b.verified?.ok !== false);
  return newest ? new Date(newest.createdAt) : undefined;
}

/** `(req, res, next?)`: answers health routes, passes everything else to `next` (or 404). */
export type HealthHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

function send(res: ServerResponse, status: HealthStatus | 'unauthorized', body: unknown): void {
  const code = status === 'ok' ? 200 : status === 'unauthorized' ? 401 : 503;
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function bearerMatches(req: IncomingMessage, token: Secret): boolean {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  const expected = Buffer.from(token.reveal());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function healthHandler(pool: WardenPool, options: HealthHandlerOptions = {}): HealthHandler {
  const prefix = (options.prefix ?? '/health').replace(/\/+$/, '');
  const token =
    options.token === undefined
      ? undefined
      : typeof options.token === 'string'
        ? new Secret(options.token)
        : options.token;
  const check = { timeoutMs: options.timeoutMs ?? 2000 };
  const startedAt = Date.now();

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    '': async (_req, res) => {
      const ready = await checkReady(pool, check);
      send(res, ready.status, { status: ready.status, reason: ready.reason });
    },
    '/live': async (_req, res) =>
      send(res, 'ok', { status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }),
    '/ready': async (_req, res) => {
      const ready = await checkReady(pool, check);
      send(res, ready.status, ready);
    },
    '/database': async (_req, res) => {
      const database = await checkDatabase(pool, check);
      send(res, database.status, database);
    },
    '/detailed': async (req, res) => {
      const authorized = token !== undefined && bearerMatches(req, token);
      if (token !== undefined && req.headers.authorization !== undefined && !authorized) {
        send(res, 'unauthorized', { status: 'fail', reason: 'unauthorized' });
        return;
      }
      const [ready, database, lastBackup] = await Promise.all([
        checkReady(pool, check),
        checkDatabase(pool, check),
        (
          options.lastBackupAt ?? (options.backupDir ? () => newestBackup(options.backupDir!) : undefined)
        )?.().catch(() => undefined),
      ]);
      const credentials = pool.credentialsInfo();
      const status: HealthStatus = ready.status === 'ok' && database.status === 'ok' ? 'ok' : 'fail';
      send(res, status, {
        status,
        ready,
        database,
        credentials: {
          backend: credentials.backend,
          generation: credentials.generation,
          cache: credentials.cache,
          expiresAt: credentials.expiresAt?.toISOString(),
          ...(authorized ? { settings: credentials.description } : {}),
        },
        replicas: pool.read
          .status()
          .map(({ host, port, ...state }) => (authorized ? { host, port, ...state } : state)),
        backup: lastBackup
          ? {
              newestAt: lastBackup.toISOString(),
              ageHours: Math.round((Date.now() - lastBackup.getTime()) / 360_000) / 10,
            }
          : null,
        // Identifying details only for an authorized caller.
        ...(authorized
          ? {
              target: {
                host: pool.config.host,
                port: pool.config.port,
                database: pool.config.database,
                user: pool.config.user,
              },
            }
          : {}),
      });
    },
  };

  return (req, res, next) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
    const route = path.startsWith(prefix) ? routes[path.slice(prefix.length)] : undefined;
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      if (next) return next();
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"status":"fail","reason":"not-found"}');
      return;
    }
    route(req, res).catch(() => {
      if (!res.headersSent) send(res, 'fail', { status: 'fail', reason: 'error' });
    });
  };
}

/** Express: `app.use(expressHealth(pool))`. Express passes node:http objects and a `next`. */
export function expressHealth(pool: WardenPool, options: HealthHandlerOptions = {}): HealthHandler {
  return healthHandler(pool, options);
}

/** Fastify: `app.register(fastifyHealth(pool))`; routes answer through the raw node:http objects. */
export function fastifyHealth(pool: WardenPool, options: HealthHandlerOptions = {}) {
  const handler = healthHandler(pool, options);
  const prefix = (options.prefix ?? '/health').replace(/\/+$/, '');
  return async function pgwardenHealth(fastify: {
    get(
      path: string,
      handler: (request: { raw: IncomingMessage }, reply: { hijack(): void; raw: ServerResponse }) => void,
    ): unknown;
  }): Promise<void> {
    for (const suffix of ['', '/live', '/ready', '/database', '/detailed']) {
      fastify.get(`${prefix}${suffix}`, (request, reply) => {
        reply.hijack();
        handler(request.raw, reply.raw);
      });
    }
  };
}
