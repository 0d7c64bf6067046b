// Clusters for the audit tests: an "insecure" one that fails every check it
// can, and a "hardened" reference that passes them. Shared by the audit test
// files; each file starts its own pair.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AuditOptions } from '../../src/audit/runner.js';
import type { ServerVersionTable } from '../../src/audit/server-versions.js';
import {
  createPki,
  findPgBinaries,
  resolveServerUser,
  startCluster,
  type Cluster,
  type Pki,
} from '../support/index.js';

export const INSECURE_PASSWORD = 'app12345';

/** Whether pgaudit can be preloaded by these server binaries. */
export function pgauditAvailable(binDir: string): boolean {
  return existsSync(join(binDir, '..', 'lib', 'pgaudit.so'));
}

/** Runs SQL as the superuser in `database`, over the cluster's private socket. */
export async function sqlIn(
  cluster: Cluster,
  database: string,
  statements: string,
): Promise<pg.QueryResult[]> {
  const client = new pg.Client({ host: cluster.socketDir, port: cluster.port, user: 'postgres', database });
  await client.connect();
  try {
    const result = await client.query(statements);
    return Array.isArray(result) ? result : [result];
  } finally {
    await client.end();
  }
}

/** A release table that says the running server is current (or, with `bump`, one minor behind). */
export async function versionTableFor(cluster: Cluster, bump = 0): Promise<ServerVersionTable> {
  const [row] = await cluster.adminQuery<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  const num = Number(row!.v);
  return {
    asOf: new Date().toISOString().slice(0, 10),
    majors: [{ major: Math.floor(num / 10000), latestMinor: (num % 10000) + bump, endOfLife: '2099-12-31' }],
  };
}

export interface Fixtures {
  readonly pki: Pki;
  readonly insecure: Cluster;
  readonly hardened: Cluster;
  readonly dir: string;
  readonly appPassword: string;
  readonly pgaudit: boolean;
  readonly archiveCommand: string;
  /** The application's config against each cluster. */
  readonly insecureApp: AuditOptions;
  readonly hardenedApp: AuditOptions;
  /** The bootstrap superuser over the hardened cluster's socket (sees pg_authid). */
  readonly hardenedAdmin: AuditOptions;
  readonly hardenedRole: (user: 'monitor' | 'plain') => AuditOptions;
  stop(): Promise<void>;
}

export async function startFixtures(appPassword: string): Promise<Fixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-audit-'));
  const owner = resolveServerUser();
  const archiveDir = join(dir, 'archive');
  const archiveCommand = `test ! -f ${archiveDir}/%f && cp %p ${archiveDir}/%f`;
  writeFileSync(join(dir, 'pgpass-open'), 'localhost:*:*:app:x\n', { mode: 0o644 });
  chmodSync(join(dir, 'pgpass-open'), 0o644);
  writeFileSync(join(dir, 'pgpass-private'), 'localhost:*:*:app:x\n', { mode: 0o600 });
  mkdirSync(archiveDir, { mode: 0o700 });
  if (owner) chownSync(archiveDir, owner.uid, owner.gid);

  const pki = await createPki({ validityDays: 400 });
  const pgaudit = pgauditAvailable(findPgBinaries({ allowEmbedded: true }).binDir);

  const [insecure, hardened] = await Promise.all([
    startCluster({
      dataChecksums: false,
      conf: {
        max_connections: 20,
        password_encryption: 'md5',
        ssl_min_protocol_version: 'TLSv1',
        ssl_ciphers: 'ALL',
        log_file_mode: '0644',
        authentication_timeout: '5min',
      },
      hba: [
        'local all all trust',
        'host all all 0.0.0.0/0 trust',
        'host all all 127.0.0.1/32 md5',
        'host all all 127.0.0.1/32 password',
        'host all all 127.0.0.1/32 ident',
      ],
    }),
    startCluster({
      tls: { pki },
      conf: {
        ssl_min_protocol_version: 'TLSv1.2',
        // AEAD suites with forward secrecy only: the probe finds HIGH's CBC suites (tls.ciphers, low).
        ssl_ciphers: 'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL',
        password_encryption: 'scram-sha-256',
        unix_socket_permissions: '0700',
        authentication_timeout: '30s',
        log_connections: true,
        log_disconnections: true,
        log_statement: 'ddl',
        log_min_duration_statement: '1s',
        log_line_prefix: '%m [%p] %q%u@%d %r ',
        logging_collector: true,
        log_file_mode: '0600',
        log_replication_commands: true,
        shared_preload_libraries: pgaudit ? 'passwordcheck,pgaudit' : 'passwordcheck',
        archive_mode: 'on',
        archive_command: archiveCommand,
      },
      hba: [
        'hostssl appdb app 127.0.0.1/32 scram-sha-256',
        'hostssl appdb monitor 127.0.0.1/32 scram-sha-256',
        'hostssl appdb plain 127.0.0.1/32 scram-sha-256',
      ],
    }),
  ]);

  const validUntil = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
  const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
  const md5 = `md5${createHash('md5').update(`some-password-md5user`).digest('hex')}`;

  // The insecure cluster: a superuser application role and everything else a
  // careless setup accumulates.
  await insecure.createRole('app', {
    password: INSECURE_PASSWORD,
    attributes: 'LOGIN SUPERUSER CREATEDB CREATEROLE',
  });
  await sqlIn(
    insecure,
    'postgres',
    `
    CREATE ROLE rls_bypass LOGIN BYPASSRLS;
    CREATE ROLE repl LOGIN REPLICATION;
    CREATE ROLE sneaky LOGIN IN ROLE app;
    CREATE ROLE filer LOGIN IN ROLE pg_read_server_files;
    CREATE ROLE expiring LOGIN VALID UNTIL '${soon}';
    CREATE ROLE md5user LOGIN PASSWORD '${md5}';
    CREATE ROLE nopw LOGIN;
    GRANT SELECT ON pg_catalog.pg_authid TO filer;
    GRANT CREATE ON SCHEMA public TO PUBLIC;
    CREATE TABLE public.open_t (id int);
    GRANT SELECT ON public.open_t TO PUBLIC;
    GRANT SELECT ON public.open_t TO filer WITH GRANT OPTION;
    ALTER TABLE public.open_t OWNER TO app;
    ALTER DEFAULT PRIVILEGES FOR ROLE app GRANT SELECT ON TABLES TO PUBLIC;
    CREATE TABLE public.pol_t (id int);
    CREATE POLICY p ON public.pol_t USING (true);
    CREATE TABLE public.rls_t (id int);
    ALTER TABLE public.rls_t ENABLE ROW LEVEL SECURITY;
    CREATE VIEW public.v_t AS SELECT * FROM public.pol_t;
    ALTER VIEW public.v_t OWNER TO app;
    CREATE EXTENSION dblink;
    CREATE EXTENSION pg_trgm VERSION '1.3';
    CREATE LANGUAGE plpgsql_u HANDLER plpgsql_call_handler;
    CREATE FUNCTION public.definer() RETURNS int SECURITY DEFINER LANGUAGE sql AS 'SELECT 1';
  `,
  );
  // A password in the weak role too, so role.no-password-expiry has one to report.
  await sqlIn(insecure, 'postgres', `ALTER ROLE sneaky PASSWORD '${md5}'`);

  // The hardened reference.
  await hardened.createRole('owner', { attributes: 'NOLOGIN' });
  await hardened.createRole('app', {
    password: appPassword,
    attributes: 'LOGIN CONNECTION LIMIT 20',
    inRoles: ['pg_monitor'],
  });
  await hardened.createRole('monitor', {
    password: appPassword,
    attributes: 'LOGIN CONNECTION LIMIT 5',
    inRoles: ['pg_monitor'],
  });
  await hardened.createRole('plain', { password: appPassword, attributes: 'LOGIN CONNECTION LIMIT 5' });
  await hardened.createDatabase('appdb', 'owner');
  await sqlIn(
    hardened,
    'postgres',
    `
    ALTER ROLE app VALID UNTIL '${validUntil}';
    ALTER ROLE monitor VALID UNTIL '${validUntil}';
    ALTER ROLE plain VALID UNTIL '${validUntil}';
    REVOKE ALL ON DATABASE postgres FROM PUBLIC;
    REVOKE ALL ON DATABASE appdb FROM PUBLIC;
    GRANT CONNECT ON DATABASE appdb TO app, monitor, plain;
    ALTER DATABASE postgres CONNECTION LIMIT 20;
    ALTER DATABASE appdb CONNECTION LIMIT 50;
    ALTER ROLE app IN DATABASE appdb SET statement_timeout = '30s';
    ALTER ROLE app IN DATABASE appdb SET idle_in_transaction_session_timeout = '60s';
    ALTER ROLE app IN DATABASE appdb SET lock_timeout = '10s';
  `,
  );
  await sqlIn(
    hardened,
    'appdb',
    `
    GRANT SELECT ON pg_catalog.pg_hba_file_rules TO app;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO app;
    GRANT SELECT ON pg_catalog.pg_file_settings TO app;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO app;
    CREATE SCHEMA app AUTHORIZATION owner;
    CREATE SCHEMA extensions;
    CREATE EXTENSION pgcrypto SCHEMA extensions;
    CREATE TABLE app.accounts (id int, tenant int);
    ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant ON app.accounts USING (tenant = current_setting('app.tenant', true)::int);
    CREATE VIEW app.accounts_v WITH (security_invoker = true) AS SELECT id FROM app.accounts;
    CREATE FUNCTION app.definer() RETURNS int SECURITY DEFINER SET search_path = pg_catalog, pg_temp LANGUAGE sql AS 'SELECT 1';
    REVOKE EXECUTE ON FUNCTION app.definer() FROM PUBLIC;
    ALTER TABLE app.accounts OWNER TO owner;
    ALTER VIEW app.accounts_v OWNER TO owner;
    ALTER FUNCTION app.definer() OWNER TO owner;
    GRANT USAGE ON SCHEMA app TO app;
    GRANT SELECT ON app.accounts, app.accounts_v TO app;
  `,
  );

  const hardenedBase = {
    host: 'localhost',
    port: hardened.port,
    database: 'appdb',
    sslMode: 'verify-full' as const,
    sslRootCert: pki.ca.certPem,
    channelBinding: 'require' as const,
  };
  return {
    pki,
    insecure,
    hardened,
    dir,
    appPassword,
    pgaudit,
    archiveCommand,
    insecureApp: {
      env: {
        DATABASE_URL: `postgresql://app:${INSECURE_PASSWORD}@127.0.0.1:${insecure.port}/postgres`,
        PGPASSFILE: join(dir, 'pgpass-open'),
        PGSSLMINPROTOCOLVERSION: 'TLSv1',
      },
      environment: 'development',
    },
    hardenedApp: {
      ...hardenedBase,
      env: { PGPASSFILE: join(dir, 'pgpass-private') },
      environment: 'production',
      user: 'app',
      password: appPassword,
    },
    hardenedAdmin: {
      env: { PGPASSFILE: join(dir, 'pgpass-private') },
      environment: 'development',
      host: hardened.socketDir,
      port: hardened.port,
      user: 'postgres',
      database: 'appdb',
    },
    hardenedRole: (user) => ({
      ...hardenedBase,
      env: { PGPASSFILE: join(dir, 'pgpass-private') },
      environment: 'production',
      user,
      password: appPassword,
    }),
    async stop() {
      await Promise.all([insecure.stop(), hardened.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
