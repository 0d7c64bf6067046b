// Format versions and codecs on a real cluster: a version-1 backup written
// by pgwarden 0.1 (a committed fixture) still verifies and restores; version
// 2's frames restore identically whatever the number of workers on either
// side; zstd-frames is the default exactly where node:zlib has zstd, and a
// runtime without it refuses such a backup up front, naming the Node that
// reads it, without touching the target or the manifest. Progress names its
// phases, with a percentage held below 100 until each is done.
//
// The cross-runtime tests need a Node with zstd and one without. The test's
// own Node is one; set PGWARDEN_TEST_NODES to a colon-separated list of
// other Node binaries (e.g. a Node 22 when the tests run on Node 20) to run
// them; without the other kind they are skipped with that reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool } from '../../src/pool/pool.js';
import {
  createBackup,
  generateKeyFile,
  restoreBackup,
  verifyBackup,
  type BackupProgress,
} from '../../src/backup/index.js';
import { ZSTD_MIN_NODE, zstdAvailable } from '../../src/backup/frames/codecs.js';
import { readHeaderFromFile } from '../../src/backup/reader.js';
import { readManifest } from '../../src/backup/manifest.js';
import {
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const FIXTURE = fileURLToPath(new URL('../support/fixtures/backup-v1', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
let cluster: Cluster;
let work: string;
let keyFile: string;

function url(database: string): string {
  return cluster.url({ user: 'owner_app', password, database });
}

async function query<T>(database: string, sql: string): Promise<T[]> {
  const pool = await createPool({ url: url(database), env: {}, environment: 'test', checkRole: false });
  try {
    return (await pool.query(sql)).rows as T[];
  } finally {
    await pool.close();
  }
}

/** Per table, row count and an order-independent checksum. */
async function fingerprint(database: string): Promise<Record<string, string>> {
  const tables = await query<{ t: string }>(
    database,
    `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [row] = await query<{ n: string; sum: string }>(
      database,
      `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS sum FROM ${t} x`,
    );
    out[t] = `${row!.n}:${row!.sum}`;
  }
  return out;
}

/** Node binaries to run the CLI with: this one and those in PGWARDEN_TEST_NODES, by whether they have zstd. */
function runtimes(): { withZstd?: string; withoutZstd?: string } {
  const found: { withZstd?: string; withoutZstd?: string } = {};
  const candidates = [
    process.execPath,
    ...(process.env.PGWARDEN_TEST_NODES ?? '').split(':').filter(Boolean),
  ];
  for (const node of candidates) {
    const probe = spawnSync(node, ['-p', "typeof require('node:zlib').zstdCompressSync"], {
      encoding: 'utf8',
    });
    if (probe.status !== 0) continue;
    if (probe.stdout.trim() === 'function') found.withZstd ??= node;
    else found.withoutZstd ??= node;
  }
  return found;
}
const RUNTIMES = runtimes();
const NEEDS_BOTH =
  RUNTIMES.withZstd && RUNTIMES.withoutZstd
    ? false
    : `needs a Node with zstd and one without; found only ${RUNTIMES.withZstd ? 'one with' : 'one without'} zstd (set PGWARDEN_TEST_NODES to another Node binary)`;

function cli(node: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const env = withoutConnectionVariables();
  const result = spawnSync(node, [...CLI, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  assertNoCanary(result.stdout + result.stderr, password);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-bkfmt-'));
  cluster = await startCluster();
  await cluster.createRole('owner_app', { password, attributes: 'LOGIN CREATEDB' });
  await cluster.createDatabase('app', 'owner_app');
  // About 2.5 MiB of dump: 40 frames of 64 KiB, so frames spread over every worker.
  await query(
    'app',
    `CREATE TABLE rows_a (id int PRIMARY KEY, body text);
     INSERT INTO rows_a SELECT g, repeat(md5(g::text), 1 + g % 8) FROM generate_series(1, 20000) g;
     CREATE TABLE rows_b (id int, noise text);
     INSERT INTO rows_b SELECT g, encode(sha256(g::text::bytea), 'base64') FROM generate_series(1, 5000) g;
     -- Large objects: a data block of their own the row counter must step over.
     SELECT lo_from_bytea(0, convert_to(repeat(E'large\nobject\n', 5000), 'UTF8')) FROM generate_series(1, 3);`,
  );
  mkdirSync(join(work, 'keys'), { mode: 0o700 });
  keyFile = join(work, 'keys', 'backup.key');
  generateKeyFile(keyFile);
});

after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('format version 1', () => {
  test('a backup written by pgwarden 0.1 verifies at levels 2 and 3 and restores', async () => {
    // The fixture's throwaway key, derived from a fixed text: it protects nothing else.
    const fixtureKey = join(work, 'keys', 'fixture.key');
    writeFileSync(
      fixtureKey,
      `${createHash('sha256').update('pgwarden format-1 test fixture key (not a secret)').digest('base64')}\n`,
      { mode: 0o600 },
    );
    const dir = join(work, 'v1');
    mkdirSync(dir, { mode: 0o700 });
    for (const name of readdirSync(FIXTURE).filter((n) => /\.(pgwb|json)$/.test(n)))
      copyFileSync(join(FIXTURE, name), join(dir, name));
    const file = readdirSync(dir).find((n) => n.endsWith('.pgwb'))!;
    const header = readHeaderFromFile(join(dir, file));
    assert.equal(header.version, 1);
    assert.equal(header.header.compression, 'brotli');

    const level2 = await verifyBackup({ target: join(dir, file), level: 2, keys: { keyFile: fixtureKey } });
    assert.equal(level2.ok, true, JSON.stringify(level2));
    assert.match(
      level2.checks.find((c) => c.name === 'chunks')!.detail,
      /1 chunks authenticated, \d+ bytes decrypted, 5327 bytes of dump/,
    );

    await cluster.createDatabase('restored_v1', 'owner_app');
    await restoreBackup({
      target: join(dir, file),
      connection: { url: url('restored_v1') },
      env: {},
      keys: { keyFile: fixtureKey },
      noOwner: true,
    });
    const rows = await query<{ n: string; notes: string }>(
      'restored_v1',
      `SELECT (SELECT count(*) FROM items) AS n, (SELECT string_agg(body, ' / ' ORDER BY id) FROM notes) AS notes`,
    );
    assert.deepEqual(rows, [{ n: '120', notes: 'written by pgwarden 0.1, format version 1 / second note' }]);

    const level3 = await verifyBackup({
      target: join(dir, file),
      level: 3,
      keys: { keyFile: fixtureKey },
      connection: { url: url('postgres') },
      env: {},
    });
    assert.equal(level3.ok, true, JSON.stringify(level3));
    assert.match(level3.checks.at(-1)!.detail, /2 tables, 122 rows, all equal to the manifest/);
  });
});

describe('format version 2', () => {
  test('frames written by 3 workers verify with 1 and restore with 2: identical tables, every frame checked', async () => {
    const scans = () =>
      query<{ n: string }>(
        'app',
        `SELECT seq_scan AS n FROM pg_stat_user_tables WHERE relname = 'rows_a'`,
      ).then((r) => Number(r[0]!.n));
    const scansBefore = await scans();
    const created = await createBackup({
      dir: join(work, 'frames'),
      connection: { url: url('app') },
      env: {},
      keys: { keyFile },
      compression: 'gzip', // every runtime has it
      frameSize: 64 * 1024,
      workers: 3,
    });
    assert.equal(created.workers, 3);
    assert.equal(created.formatVersion, 2);
    const header = readHeaderFromFile(created.file);
    assert.equal(header.version, 2);
    assert.equal(header.header.frameSize, 64 * 1024);
    assert.ok(created.manifest.sizes.dump > 20 * 64 * 1024, `${created.manifest.sizes.dump} bytes of dump`);
    // Counted from the COPY stream, past the large objects' block: pg_dump's COPY is the only scan.
    assert.equal(created.rowCounts, 'stream');
    let scansAfter = await scans();
    for (let i = 0; i < 40 && scansAfter === scansBefore; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      scansAfter = await scans();
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // a second scan would show by now
    assert.equal((await scans()) - scansBefore, 1, 'one sequential scan of rows_a (pg_dump), no count(*)');
    assert.deepEqual(created.manifest.tables, [
      { schema: 'public', name: 'rows_a', rows: 20000 },
      { schema: 'public', name: 'rows_b', rows: 5000 },
    ]);

    const verified = await verifyBackup({ target: created.file, level: 2, keys: { keyFile }, workers: 1 });
    assert.equal(verified.ok, true, JSON.stringify(verified));
    await cluster.createDatabase('restored_frames', 'owner_app');
    await restoreBackup({
      target: created.file,
      connection: { url: url('restored_frames') },
      env: {},
      keys: { keyFile },
      workers: 2,
    });
    assert.deepEqual(await fingerprint('restored_frames'), await fingerprint('app'));
    const [objects] = await query<{ n: string }>(
      'restored_frames',
      'SELECT count(*) AS n FROM pg_largeobject_metadata',
    );
    assert.equal(objects!.n, '3');
  });

  test('--workers and the option are validated', async () => {
    for (const workers of [0, 65, 1.5]) {
      await assert.rejects(
        createBackup({
          dir: join(work, 'bad'),
          connection: { url: url('app') },
          env: {},
          keys: { keyFile },
          workers,
        }),
        { code: 'PGW_CONFIG_INVALID', option: '--workers' },
      );
    }
    const bad = cli(process.execPath, [
      'backup',
      'create',
      '--dir',
      join(work, 'bad'),
      '--key-file',
      keyFile,
      '--workers',
      '0',
    ]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--workers must be an integer from 1 to 64/);
  });

  test('the default codec: zstd-frames where this Node has zstd, brotli where it does not', async () => {
    const created = await createBackup({
      dir: join(work, 'default'),
      connection: { url: url('app') },
      env: {},
      keys: { keyFile },
    });
    assert.equal(created.manifest.compression, zstdAvailable() ? 'zstd-frames' : 'brotli');
    assert.equal(created.minNodeToRead, zstdAvailable() ? ZSTD_MIN_NODE : '20.10.0');
  });
});

describe('zstd across runtimes', () => {
  test(
    'created where Node has zstd; where it has not, verify and restore refuse up front naming the Node that reads it',
    { skip: NEEDS_BOTH },
    async () => {
      const dir = join(work, 'zstd');
      const made = cli(RUNTIMES.withZstd!, [
        'backup',
        'create',
        '--url',
        url('app'),
        '--dir',
        dir,
        '--key-file',
        keyFile,
      ]);
      assert.equal(made.status, 0, made.stderr);
      assert.match(
        made.stdout,
        /codec {5}zstd level 1 in \d worker thread\(s\), format version 2; readable with Node 22\.15\.0 or newer/,
      );
      const file = join(
        dir,
        readdirSync(dir).find((n) => n.endsWith('.pgwb'))!,
      );
      const manifestBefore = readFileSync(file.replace(/\.pgwb$/, '.manifest.json'), 'utf8');
      assert.equal(readManifest(file.replace(/\.pgwb$/, '.manifest.json')).compression, 'zstd-frames');

      // The runtime without zstd: the default there is brotli, and --compress zstd-frames is refused.
      const brotli = cli(RUNTIMES.withoutZstd!, [
        'backup',
        'create',
        '--url',
        url('app'),
        '--dir',
        join(work, 'nozstd'),
        '--key-file',
        keyFile,
        '--json',
      ]);
      assert.equal(brotli.status, 0, brotli.stderr);
      assert.equal(lastJson(brotli.stdout).compression, 'brotli');
      assert.equal(lastJson(brotli.stdout).minNodeToRead, '20.10.0');
      const refusedCreate = cli(RUNTIMES.withoutZstd!, [
        'backup',
        'create',
        '--url',
        url('app'),
        '--dir',
        join(work, 'nozstd'),
        '--key-file',
        keyFile,
        '--compress',
        'zstd-frames',
        '--json',
      ]);
      assert.equal(refusedCreate.status, 1);
      const createError = lastJson(refusedCreate.stdout).error as Record<string, string>;
      assert.equal(createError.code, 'PGW_BACKUP_UNSUPPORTED');
      assert.equal(createError.option, '--compress');
      assert.match(createError.message!, /Node 22\.15\.0 or newer/);

      for (const args of [
        ['backup', 'verify', file, '--level', '2', '--key-file', keyFile, '--json'],
        ['backup', 'restore', file, '--url', url('postgres'), '--key-file', keyFile, '--json'],
      ]) {
        const refused = cli(RUNTIMES.withoutZstd!, args);
        assert.equal(refused.status, 1, refused.stderr);
        const error = lastJson(refused.stdout).error as Record<string, string>;
        assert.equal(error.code, 'PGW_BACKUP_UNSUPPORTED', refused.stdout);
        assert.match(
          error.message!,
          /compressed with zstd \(zstd-frames\); Node 20\.\d+\.\d+ has no zstd|has no zstd in node:zlib/,
        );
        assert.match(error.message!, /needs Node 22\.15\.0 or newer/);
      }
      // Not a verification result: the manifest was not rewritten; the target stayed empty.
      assert.equal(readFileSync(file.replace(/\.pgwb$/, '.manifest.json'), 'utf8'), manifestBefore);
      assert.deepEqual(await query('postgres', `SELECT 1 FROM pg_tables WHERE schemaname = 'public'`), []);

      // And the runtime with zstd reads it.
      const ok = cli(RUNTIMES.withZstd!, [
        'backup',
        'verify',
        file,
        '--level',
        '2',
        '--key-file',
        keyFile,
        '--json',
      ]);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    },
  );
});

describe('progress', () => {
  test('create reports the dump phase with a percentage of the pg_table_size estimate, below 100 until done', async () => {
    const reports: BackupProgress[] = [];
    await createBackup({
      dir: join(work, 'progress'),
      connection: { url: url('app') },
      env: {},
      keys: { keyFile },
      compression: 'gzip',
      workers: 1,
      progressIntervalMs: 1,
      onProgress: (p) => reports.push(p),
    });
    assert.ok(reports.length >= 2, `${reports.length} reports`);
    assert.ok(reports.every((p) => p.operation === 'create' && p.phase === 'dump'));
    const last = reports.at(-1)!;
    assert.equal(last.done, true);
    assert.equal(last.percent, 100);
    const before = reports.slice(0, -1);
    assert.ok(before.every((p) => !p.done && (p.percent === undefined || p.percent <= 99)));
    const estimated = before.filter((p) => p.estimatedTotalBytes !== undefined);
    assert.ok(estimated.length > 0, 'the estimate arrived while the dump ran');
    assert.ok(estimated.every((p) => p.estimatedTotalBytes! > 1024 * 1024 && p.percent !== undefined));
  });

  test('verify level 3 names each phase, in order, each with its own progress ending at 100', async () => {
    const created = await createBackup({
      dir: join(work, 'progress3'),
      connection: { url: url('app') },
      env: {},
      keys: { keyFile },
    });
    const reports: BackupProgress[] = [];
    const result = await verifyBackup({
      target: created.file,
      level: 3,
      keys: { keyFile },
      connection: { url: url('postgres') },
      env: {},
      progressIntervalMs: 1,
      onProgress: (p) => reports.push(p),
    });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.ok(reports.every((p) => p.operation === 'verify'));
    const phases = reports.map((p) => p.phase).filter((p, i, all) => all[i - 1] !== p);
    // post-data appears when pg_restore still works after its input ended (it usually does: indexes).
    assert.deepEqual(
      phases.filter((p) => p !== 'post-data'),
      // No 'decrypt': level 2's decryption is the scratch restore's own pass.
      ['sha256', 'restore', 'row-counts'],
    );
    for (const phase of ['sha256', 'row-counts'] as const) {
      const own = reports.filter((p) => p.phase === phase);
      assert.equal(own.at(-1)!.done, true, phase);
      assert.equal(own.at(-1)!.percent, 100, phase);
      assert.ok(
        own.slice(0, -1).every((p) => !p.done && (p.percent ?? 0) < 100),
        phase,
      );
    }
    const counts = reports.filter((p) => p.phase === 'row-counts');
    assert.equal(counts.at(-1)!.totalTables, 2);
    assert.equal(counts.at(-1)!.tables, 2);
    const restore = reports.filter((p) => p.phase === 'restore' || p.phase === 'post-data');
    assert.equal(restore.at(-1)!.done, true);
  });
});
