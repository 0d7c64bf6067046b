// Backups end to end on a real cluster over verify-full TLS: create, verify
// at levels 1 to 3, restore with identical row counts and table contents,
// the refusals (non-empty target, wrong key), and a restore that fails part
// way leaving nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, type WardenPool } from '../../src/pool/pool.js';
import {
  createBackup,
  generateKeyFile,
  restoreBackup,
  verifyBackup,
  type CreateBackupResult,
} from '../../src/backup/index.js';
import { TAG_LENGTH } from '../../src/backup/format/constants.js';
import { readHeaderFromFile } from '../../src/backup/reader.js';
import { defaultCompression } from '../../src/backup/frames/codecs.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  type PkiFiles,
} from '../support/index.js';

let cluster: Cluster;
let files: PkiFiles;
let work: string;
let keyFile: string;
let backupDir: string;
let created: CreateBackupResult;
let keyText: string;
const password = canary();
const messages: string[] = [];

function url(database: string, user = 'owner_app'): string {
  return cluster
    .url({ user, password, database, params: { sslmode: 'verify-full', sslrootcert: files.caCertPath } })
    .replace('127.0.0.1', 'localhost');
}

async function withDb<T>(database: string, run: (pool: WardenPool) => Promise<T>): Promise<T> {
  const pool = await createPool({ url: url(database), env: {}, environment: 'test', checkRole: false });
  try {
    return await run(pool);
  } finally {
    await pool.close();
  }
}

/** Per table: row count and an order-independent checksum of every row's text form. */
async function fingerprint(database: string): Promise<Record<string, string>> {
  return withDb(database, async (pool) => {
    const tables = await pool.query<{ t: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_' ORDER BY 1`,
    );
    const out: Record<string, string> = {};
    for (const { t } of tables.rows) {
      const row = await pool.query<{ n: string; sum: string | null }>(
        `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS sum FROM ${t} x`,
      );
      out[t] = `${row.rows[0]!.n}:${row.rows[0]!.sum}`;
    }
    const seq = await pool.query<{ last_value: string }>(`SELECT last_value FROM public.accounts_id_seq`);
    out['public.accounts_id_seq'] = seq.rows[0]!.last_value;
    return out;
  });
}

async function objectCount(database: string): Promise<number> {
  const { USER_OBJECTS_SQL } = await import('../../src/backup/restore.js');
  return withDb(database, async (pool) =>
    Number((await pool.query<{ objects: string }>(USER_OBJECTS_SQL)).rows[0]!.objects),
  );
}

function errorText(error: unknown): string {
  const e = error as Error & { fix?: string };
  return `${e.message} ${e.fix ?? ''} ${e.stack ?? ''} ${JSON.stringify(e)}`;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-backup-'));
  const pki = await createPki();
  files = pki.writeFiles(join(work, 'pki'));
  cluster = await startCluster({ tls: { pki }, hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'] });
  await cluster.createRole('owner_app', { password, attributes: 'LOGIN CREATEDB' });
  await cluster.createRole('restorer', { password, attributes: 'LOGIN' });
  await cluster.createDatabase('app', 'owner_app');
  await withDb('app', (pool) =>
    pool.query(`
      CREATE SCHEMA audit;
      CREATE TYPE mood AS ENUM ('ok', 'meh');
      CREATE TABLE accounts (id serial PRIMARY KEY, email text UNIQUE NOT NULL, balance numeric(12,2), mood mood, created timestamptz);
      INSERT INTO accounts (email, balance, mood, created)
        SELECT 'user' || g || '@example.com', g * 1.25, CASE WHEN g % 2 = 0 THEN 'ok'::mood ELSE 'meh' END, timestamptz '2026-01-01' + g * interval '1 minute'
        FROM generate_series(1, 3000) g;
      CREATE TABLE events (id bigserial PRIMARY KEY, account int REFERENCES accounts, payload jsonb, blob bytea);
      INSERT INTO events (account, payload, blob)
        SELECT 1 + g % 3000, jsonb_build_object('n', g, 'tag', md5(g::text)), decode(md5(g::text) || md5((g * 7)::text), 'hex')
        FROM generate_series(1, 6000) g;
      CREATE TABLE measurements (at date NOT NULL, value int) PARTITION BY RANGE (at);
      CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      INSERT INTO measurements SELECT date '2025-06-01' + g, g FROM generate_series(0, 400) g;
      CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text);
      INSERT INTO cache SELECT g::text, repeat('x', g % 50) FROM generate_series(1, 500) g;
      CREATE TABLE audit.log (id int, line text);
      INSERT INTO audit.log SELECT g, 'line ' || g FROM generate_series(1, 250) g;
      CREATE TABLE empty_table (id int);
      CREATE VIEW rich AS SELECT email FROM accounts WHERE balance > 1000;
      CREATE FUNCTION add_one(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
    `),
  );
  const keys = join(work, 'keys');
  mkdirSync(keys, { mode: 0o700 });
  keyFile = join(keys, 'backup.key');
  generateKeyFile(keyFile);
  keyText = readFileSync(keyFile, 'utf8').trim();
  backupDir = join(work, 'backups');
  created = await createBackup({
    dir: backupDir,
    connection: { url: url('app') },
    env: {},
    keys: { keyFile },
  });
});

after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
  assertNoCanary(messages.join('\n'), password);
  assertNoCanary(messages.join('\n'), keyText);
});

describe('create', () => {
  test('writes a 0600 backup and manifest in a 0700 directory, with row counts from the dump snapshot', () => {
    const m = created.manifest;
    assert.equal(statSync(backupDir).mode & 0o777, 0o700);
    assert.equal(statSync(created.file).mode & 0o777, 0o600);
    assert.equal(statSync(created.manifestPath).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(backupDir).sort(), [`${m.id}.manifest.json`, `${m.id}.pgwb`]);
    assert.equal(m.database, 'app');
    // zstd where this Node has it, brotli otherwise (frames/codecs.ts).
    assert.equal(m.compression, defaultCompression());
    assert.equal(created.formatVersion, 2);
    assert.equal(m.sizes.file, statSync(created.file).size);
    assert.ok(m.sizes.file < m.sizes.dump, 'compressed');
    assert.match(m.key.id, /^key-file:[0-9a-f]{16}$/);
    const header = readHeaderFromFile(created.file).header;
    assert.equal(
      m.chunks,
      Math.max(
        1,
        Math.ceil((m.sizes.file - readHeaderFromFile(created.file).bytes.length) / (65536 + TAG_LENGTH)),
      ),
    );
    assert.equal(header.server.version.split(' ')[0], m.server.version.split(' ')[0]);
    const rows = Object.fromEntries((m.tables ?? []).map((t) => [`${t.schema}.${t.name}`, t.rows]));
    assert.deepEqual(rows, {
      'audit.log': 250,
      'public.accounts': 3000,
      'public.cache': 500,
      'public.empty_table': 0,
      'public.events': 6000,
      'public.measurements_2025': 214,
      'public.measurements_2026': 187,
    });
    // The dump holds no readable row data: it is compressed and encrypted.
    const raw = readFileSync(created.file);
    assert.equal(raw.indexOf('user1@example.com'), -1);
    assert.equal(raw.indexOf('PGDMP'), -1);
  });
});

describe('verify', () => {
  test('level 1 without a key records an unauthenticated result; with the key, an authenticated one', async () => {
    const keyless = await verifyBackup({ target: created.manifest.id, dir: backupDir, level: 1 });
    assert.equal(keyless.ok, true, JSON.stringify(keyless));
    assert.deepEqual(
      keyless.checks.map((c) => c.name),
      ['file-sha256'],
    );
    assert.equal(keyless.recorded, 'unauthenticated');
    const keyed = await verifyBackup({ target: created.file, level: 1, keys: { keyFile } });
    assert.equal(keyed.recorded, 'authenticated');
    assert.deepEqual(
      keyed.checks.map((c) => c.name),
      ['file-sha256', 'manifest-hmac'],
    );
  });

  test('level 2 authenticates every chunk and runs pg_restore --list', async () => {
    const result = await verifyBackup({
      target: created.manifest.id,
      dir: backupDir,
      level: 2,
      keys: { keyFile },
    });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      result.checks.map((c) => c.name),
      ['file-sha256', 'manifest-hmac', 'chunks', 'pg_restore-list'],
    );
    assert.match(
      result.checks[2]!.detail,
      new RegExp(
        `^${created.manifest.chunks} chunks authenticated, \\d+ bytes decrypted, ${created.manifest.sizes.dump} bytes of dump$`,
      ),
    );
    assert.match(result.checks[3]!.detail, /listed \d+ archive entries/);
  });

  test('level 3 restores into a scratch database, compares row counts, drops it; the result is in the manifest', async () => {
    const result = await verifyBackup({
      target: created.manifest.id,
      dir: backupDir,
      level: 3,
      keys: { keyFile },
      connection: { url: url('postgres') },
      env: {},
    });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.match(result.checks.at(-1)!.detail, /7 tables, 10151 rows, all equal/);
    const scratch = await cluster.adminQuery<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'pgwarden_verify_%'`,
    );
    assert.deepEqual(scratch, []);
    const manifest = JSON.parse(readFileSync(created.manifestPath, 'utf8'));
    assert.equal(manifest.verification.level, 3);
    assert.equal(manifest.verification.ok, true);
    assert.match(manifest.verification.hmac, /^[0-9a-f]{64}$/);
  });

  test('without row counts, level 3 restores but reports the comparison as skipped, not passed', async () => {
    const uncounted = await createBackup({
      dir: join(work, 'uncounted'),
      connection: { url: url('app') },
      env: {},
      keys: { keyFile },
      rowCounts: false,
    });
    assert.equal(uncounted.manifest.tables, null);
    const result = await verifyBackup({
      target: uncounted.file,
      level: 3,
      keys: { keyFile },
      connection: { url: url('postgres') },
      env: {},
    });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      result.checks.map((c) => `${c.name}:${c.status}`),
      [
        'file-sha256:passed',
        'manifest-hmac:passed',
        'scratch-restore:passed',
        'chunks:passed',
        'row-counts:skipped',
      ],
    );
    // Level 2's checks came from the restore's own pass, not a pass before it.
    assert.match(
      result.checks[2]!.detail,
      /^pg_restore \d+\.\d+.* restored \d+ bytes of dump into scratch database/,
    );
    assert.match(
      result.checks[3]!.detail,
      new RegExp(
        `^${uncounted.manifest.chunks} chunks authenticated, ${uncounted.manifest.sizes.dump} bytes of dump$`,
      ),
    );
  });

  test('a wrong key file is PGW_BACKUP_WRONG_KEY, a missing one PGW_BACKUP_KEY_REQUIRED; nothing is recorded as verified', async () => {
    const other = join(work, 'keys', 'other.key');
    generateKeyFile(other);
    const wrong = await verifyBackup({
      target: created.file,
      level: 2,
      keys: { keyFile: other },
      record: false,
    });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.error?.code, 'PGW_BACKUP_WRONG_KEY');
    messages.push(JSON.stringify(wrong));
    await assert.rejects(verifyBackup({ target: created.file, level: 2 }), {
      code: 'PGW_BACKUP_KEY_REQUIRED',
    });
    const manifest = JSON.parse(readFileSync(created.manifestPath, 'utf8'));
    assert.equal(manifest.verification.level, 3, 'the failed attempts were not recorded');
  });
});

describe('restore', () => {
  test('into a new database: identical row counts and table contents', async () => {
    await cluster.createDatabase('restored', 'owner_app');
    const result = await restoreBackup({
      target: created.file,
      connection: { url: url('restored') },
      env: {},
      keys: { keyFile },
    });
    assert.equal(result.singleTransaction, true);
    assert.equal(result.bytes, created.manifest.sizes.file);
    assert.equal(result.chunks, created.manifest.chunks);
    assert.equal(result.dumpBytes, created.manifest.sizes.dump);
    assert.match(result.pgRestore, /^pg_restore \d+\.\d+/);
    assert.deepEqual(await fingerprint('restored'), await fingerprint('app'));
  });

  test('a non-empty target is refused without --clean; --clean replaces it', async () => {
    await assert.rejects(
      restoreBackup({
        target: created.file,
        connection: { url: url('restored') },
        env: {},
        keys: { keyFile },
      }),
      (error: unknown) => {
        messages.push(errorText(error));
        return (error as { code?: string }).code === 'PGW_BACKUP_TARGET_NOT_EMPTY';
      },
    );
    await withDb('restored', (pool) => pool.query(`DELETE FROM audit.log WHERE id > 10`));
    await restoreBackup({
      target: created.file,
      clean: true,
      connection: { url: url('restored') },
      env: {},
      keys: { keyFile },
    });
    assert.deepEqual(await fingerprint('restored'), await fingerprint('app'));
  });

  test('-j 2 decrypts to a private temporary file, restores in parallel, and removes it', async () => {
    await cluster.createDatabase('restored_j', 'owner_app');
    const temp = mkdtempSync(join(work, 'tmp-'));
    const result = await restoreBackup({
      target: created.manifest.id,
      dir: backupDir,
      jobs: 2,
      tempDir: temp,
      connection: { url: url('restored_j') },
      env: {},
      keys: { keyFile },
    });
    assert.equal(result.jobs, 2);
    assert.equal(result.singleTransaction, false);
    assert.equal(result.dumpBytes, created.manifest.sizes.dump, 'counted on the way to the file too');
    assert.deepEqual(readdirSync(temp), []);
    assert.deepEqual(await fingerprint('restored_j'), await fingerprint('app'));
  });

  test('damage in the last chunk is found mid-restore: pg_restore is killed and the target stays empty', async () => {
    const copy = mkdtempSync(join(work, 'damaged-'));
    const name = `${created.manifest.id}.pgwb`;
    copyFileSync(created.file, join(copy, name));
    copyFileSync(created.manifestPath, join(copy, `${created.manifest.id}.manifest.json`));
    const bytes = readFileSync(join(copy, name));
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0x40;
    writeFileSync(join(copy, name), bytes);
    await cluster.createDatabase('restored_damaged', 'owner_app');
    await assert.rejects(
      restoreBackup({
        target: join(copy, name),
        connection: { url: url('restored_damaged') },
        env: {},
        keys: { keyFile },
      }),
      { code: 'PGW_BACKUP_CORRUPT' },
    );
    assert.equal(await objectCount('restored_damaged'), 0);
  });

  test('a restore failing on the server rolls back: nothing is left', async () => {
    // "restorer" cannot give objects to owner_app, so the first ALTER ... OWNER fails.
    await cluster.createDatabase('restored_fail', 'restorer');
    await assert.rejects(
      restoreBackup({
        target: created.file,
        connection: { url: url('restored_fail', 'restorer') },
        env: {},
        keys: { keyFile },
      }),
      (error: unknown) => {
        messages.push(errorText(error));
        const e = error as { code?: string; message: string };
        return (
          e.code === 'PGW_BACKUP_RESTORE_FAILED' &&
          /rolled back/.test(e.message) &&
          /owner_app|permission|must be/.test(e.message)
        );
      },
    );
    assert.equal(await objectCount('restored_fail'), 0);
  });
});
