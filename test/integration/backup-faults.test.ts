// Faults: a fuzz of random damage to a real backup and its manifest (every
// mutation detected), and runs that must leave nothing behind: pg_dump
// failing, SIGINT mid-dump, a full disk, an overlapping run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
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
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createPool, type WardenPool } from '../../src/pool/pool.js';
import {
  BackupError,
  createBackup,
  generateKeyFile,
  verifyBackup,
  type CreateBackupResult,
} from '../../src/backup/index.js';
import { payloadDecoder } from '../../src/backup/payload.js';
import { ChunkDecryptor } from '../../src/backup/format/chunk-decryptor.js';
import { PRELUDE_LENGTH, TAG_LENGTH } from '../../src/backup/format/constants.js';
import { KeyFileSource } from '../../src/backup/keys/key-file.js';
import { readHeaderFromFile } from '../../src/backup/reader.js';
import { findStdbuf, STDIO_BUFFER } from '../../src/backup/stdio-buffer.js';
import {
  assertNoCanary,
  canary,
  isProcessAlive,
  startCluster,
  until,
  waitForProcessExit,
  withoutConnectionVariables,
  type Cluster,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
let cluster: Cluster;
let work: string;
let keyFile: string;
let keyText: string;
let fuzzed: CreateBackupResult;

function url(database: string, user = 'app'): string {
  return cluster.url({ user, password, database });
}

async function withDb<T>(database: string, user: string, run: (pool: WardenPool) => Promise<T>): Promise<T> {
  const pool = await createPool({ url: url(database, user), env: {}, environment: 'test', checkRole: false });
  try {
    return await run(pool);
  } finally {
    await pool.close();
  }
}

/** Runs `run` while another session holds table t in ACCESS EXCLUSIVE mode. */
async function whileTableLocked<T>(run: () => Promise<T>): Promise<T> {
  return withDb('app', 'boss', async (pool) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
      return await run();
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  });
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...withoutConnectionVariables(), ...extra };
}

function runCli(
  args: string[],
  env: Record<string, string> = {},
): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: cleanEnv(env),
    encoding: 'utf8',
    timeout: 120_000,
  });
  const all = result.stdout + result.stderr;
  assertNoCanary(all, password);
  assertNoCanary(all, keyText);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The only JSON line on stdout. */
function jsonLine(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  assert.equal(lines.length, 1, `exactly one JSON line expected on stdout, got: ${stdout}`);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** `backup create` of `database` into `dir` with the test key, one JSON line out. */
function createArgs(database: string, dir: string, ...extra: string[]): string[] {
  return [
    'backup',
    'create',
    '--url',
    url(database),
    '--dir',
    dir,
    '--key-file',
    keyFile,
    ...extra,
    '--json',
  ];
}

/** The error code of a failed run's JSON line. */
function errorCode(stdout: string): string | undefined {
  return (jsonLine(stdout).error as Record<string, string> | undefined)?.code;
}

/** Children of `pid` whose command name is `name`, from /proc. */
function childrenNamed(pid: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && comm === name) found.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-bkfault-'));
  cluster = await startCluster();
  await cluster.createRole('app', { password, attributes: 'LOGIN' });
  await cluster.createRole('boss', { password, attributes: 'LOGIN SUPERUSER' });
  await cluster.createDatabase('app', 'app');
  await withDb('app', 'app', (pool) =>
    pool.query(`
      CREATE TABLE t (id int PRIMARY KEY, v text);
      INSERT INTO t SELECT g, md5(g::text) || repeat(chr(65 + g % 26), g % 40) FROM generate_series(1, 4000) g;
      CREATE TABLE u (x int);
      INSERT INTO u SELECT generate_series(1, 100);
    `),
  );
  mkdirSync(join(work, 'keys'), { mode: 0o700 });
  keyFile = join(work, 'keys', 'k');
  generateKeyFile(keyFile);
  keyText = readFileSync(keyFile, 'utf8').trim();
  // Small chunks: a small dump still has dozens of chunks to swap, drop and cut between.
  fuzzed = await createBackup({
    dir: join(work, 'fuzz'),
    connection: { url: url('app') },
    env: {},
    keys: { keyFile },
    chunkSize: 1024,
  });
});

after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('tamper fuzz', () => {
  const seed = Number(process.env.PGWARDEN_FUZZ_SEED ?? randomBytes(4).readUInt32BE(0));
  const MUTATIONS = 320;

  test(`${MUTATIONS} random mutations of file or manifest are all detected (seed ${seed})`, async () => {
    const random = prng(seed);
    const pick = (n: number) => Math.floor(random() * n);
    const file = readFileSync(fuzzed.file);
    const manifestText = readFileSync(fuzzed.manifestPath, 'utf8');
    const headerLength = readHeaderFromFile(fuzzed.file).bytes.length;
    const record = 1024 + TAG_LENGTH;
    const chunks: Buffer[] = [];
    for (let at = headerLength; at < file.length; at += record) chunks.push(file.subarray(at, at + record));
    assert.equal(chunks.length, fuzzed.manifest.chunks);
    assert.ok(chunks.length >= 20, `only ${chunks.length} chunks`);
    const head = file.subarray(0, headerLength);
    const join_ = (parts: Buffer[]) => Buffer.concat([head, ...parts]);

    type Mutation = { kind: string; file?: Buffer; manifest?: string };
    const KIND_NAMES = [
      'flip file byte',
      'flip manifest byte',
      'swap chunks',
      'duplicate chunk',
      'remove chunk',
      'truncate at offset',
      'truncate at chunk boundary',
      'header edit',
    ];
    const kinds: Array<() => Mutation> = [
      () => {
        const copy = Buffer.from(file);
        const at = pick(copy.length);
        copy[at] = copy[at]! ^ (1 + pick(255));
        return { kind: `flip file byte ${at}`, file: copy };
      },
      () => {
        const bytes = Buffer.from(manifestText);
        const at = pick(bytes.length);
        bytes[at] = bytes[at]! ^ (1 + pick(255));
        return { kind: `flip manifest byte ${at}`, manifest: bytes.toString('latin1') };
      },
      () => {
        const i = pick(chunks.length - 1);
        const j = i + 1 + pick(chunks.length - 1 - i);
        const swapped = [...chunks];
        [swapped[i], swapped[j]] = [swapped[j]!, swapped[i]!];
        return { kind: `swap chunks ${i} and ${j}`, file: join_(swapped) };
      },
      () => {
        const i = pick(chunks.length);
        const copy = [...chunks];
        copy.splice(i, 0, chunks[i]!);
        return { kind: `duplicate chunk ${i}`, file: join_(copy) };
      },
      () => {
        const i = pick(chunks.length);
        return { kind: `remove chunk ${i}`, file: join_(chunks.filter((_, k) => k !== i)) };
      },
      () => {
        const at = 1 + pick(file.length - 1);
        return { kind: `truncate at ${at}`, file: file.subarray(0, at) };
      },
      () => {
        const i = 1 + pick(chunks.length - 1);
        return { kind: `truncate at chunk boundary ${i}`, file: file.subarray(0, headerLength + i * record) };
      },
      () => {
        // A syntactically valid header edit: change one field, fix the length.
        const json = JSON.parse(head.subarray(PRELUDE_LENGTH).toString('utf8')) as Record<string, unknown>;
        const edits: Array<[string, unknown]> = [
          ['database', 'other'],
          ['compression', 'gzip'],
          ['chunkSize', 2048],
          ['createdAt', '2020-01-01T00:00:00.000Z'],
          ['backupId', `${String(json.backupId).slice(0, -1)}0`],
          ['noncePrefix', randomBytes(7).toString('base64')],
          ['salt', randomBytes(32).toString('base64')],
          ['server', { version: '99.0' }],
        ];
        const [field, value] = edits[pick(edits.length)]!;
        const edited = Buffer.from(JSON.stringify({ ...json, [field]: value }));
        const prelude = Buffer.from(head.subarray(0, PRELUDE_LENGTH));
        prelude.writeUInt32BE(edited.length, 10);
        return {
          kind: `header edit ${field}`,
          file: Buffer.concat([prelude, edited, file.subarray(headerLength)]),
        };
      },
    ];

    const dir = join(work, 'mutants');
    mkdirSync(dir, { mode: 0o700 });
    const name = `${fuzzed.manifest.id}.pgwb`;
    const manifestName = `${fuzzed.manifest.id}.manifest.json`;
    const keySource = new KeyFileSource(keyFile);
    const counts: Record<string, number> = {};
    for (let n = 0; n < MUTATIONS; n++) {
      // Cycle through the kinds so each gets its share, positions random.
      const mutation = kinds[n % kinds.length]!();
      if (mutation.file?.equals(file) || mutation.manifest === manifestText) continue;
      const kind = KIND_NAMES[n % kinds.length]!;
      counts[kind] = (counts[kind] ?? 0) + 1;
      writeFileSync(join(dir, name), mutation.file ?? file);
      writeFileSync(join(dir, manifestName), mutation.manifest ?? manifestText, 'latin1');
      // With the manifest: level 2 must report corruption, exactly.
      let code: string | undefined;
      try {
        const result = await verifyBackup({
          target: join(dir, name),
          level: 2,
          keys: { keyFile },
          record: false,
        });
        code = result.ok ? 'OK' : result.error?.code;
      } catch (error) {
        code = (error as { code?: string }).code ?? String(error);
      }
      assert.equal(code, 'PGW_BACKUP_CORRUPT', `seed ${seed}, mutation ${n}: ${mutation.kind} gave ${code}`);
      // Without the manifest, the format alone must refuse every damaged file.
      if (mutation.file) {
        const decryptor = new ChunkDecryptor({
          openKey: async ({ header }) => keySource.openDataKey(header.key, header.backupId),
        });
        let opened = true;
        try {
          await pipeline(
            Readable.from([mutation.file]),
            decryptor,
            payloadDecoder(readHeaderFromFile(fuzzed.file)),
            new Writable({ write: (_c, _e, cb) => cb() }),
          );
        } catch (error) {
          opened = false;
          // Only the format's own errors: a decompressor error would mean damaged data got through.
          assert.ok(error instanceof BackupError, `seed ${seed}: ${mutation.kind}: ${String(error)}`);
        }
        assert.equal(opened, false, `seed ${seed}: ${mutation.kind} was accepted without the manifest`);
      }
    }
    for (const kind of KIND_NAMES) {
      assert.ok((counts[kind] ?? 0) >= 20, `${kind}: only ${counts[kind] ?? 0} mutations`);
    }
    // The pristine copy still verifies: the harness itself is not what fails.
    writeFileSync(join(dir, name), file);
    writeFileSync(join(dir, manifestName), manifestText);
    const clean = await verifyBackup({ target: join(dir, name), level: 2, keys: { keyFile }, record: false });
    assert.equal(clean.ok, true, JSON.stringify(clean));
  });
});

describe('runs that fail leave nothing behind', () => {
  function assertEmptyDir(dir: string): void {
    const left = existsSync(dir) ? readdirSync(dir) : [];
    assert.deepEqual(left, [], `left behind in ${dir}`);
  }

  test('pg_dump failing: coded error, exit 1, no manifest, no temporary file', async () => {
    await withDb('app', 'boss', (pool) =>
      pool.query(
        `CREATE TABLE IF NOT EXISTS secret_t (x int); ALTER TABLE secret_t OWNER TO boss; REVOKE ALL ON secret_t FROM PUBLIC`,
      ),
    );
    try {
      const dir = join(work, 'dumpfail');
      // Without row counts pg_dump itself meets the unreadable table.
      const failed = runCli(createArgs('app', dir, '--no-row-counts'));
      assert.equal(failed.status, 1, failed.stderr);
      const error = jsonLine(failed.stdout).error as Record<string, string>;
      assert.equal(error.code, 'PGW_BACKUP_DUMP_FAILED');
      assert.match(error.message ?? '', /permission denied for table secret_t/);
      assertEmptyDir(dir);
      // With row counts the count fails first, with the same code.
      const counted = runCli(createArgs('app', dir));
      assert.equal(counted.status, 1);
      assert.equal(errorCode(counted.stdout), 'PGW_BACKUP_DUMP_FAILED');
      assertEmptyDir(dir);
    } finally {
      await withDb('app', 'boss', (pool) => pool.query(`DROP TABLE secret_t`));
    }
  });

  test('a table locked longer than --lock-wait-timeout: PGW_BACKUP_DUMP_FAILED naming the option, nothing left, no endless wait', async () => {
    const dir = join(work, 'locked');
    // Without the timeout pg_dump would wait for the lock until the transaction ends.
    const failed = await whileTableLocked(async () =>
      runCli(createArgs('app', dir, '--no-row-counts', '--lock-wait-timeout', '500')),
    );
    assert.equal(failed.status, 1, failed.stdout);
    const error = jsonLine(failed.stdout).error as Record<string, string>;
    assert.equal(error.code, 'PGW_BACKUP_DUMP_FAILED');
    // pg_dump's own lock wait or the size estimate's, whichever gives up first.
    assert.match(error.message ?? '', /could not obtain lock on relation|lock timeout/);
    assert.match(error.fix ?? '', /--lock-wait-timeout/);
    assertEmptyDir(dir);
  });

  test('SIGINT mid-dump: exit 1, pg_dump stopped, nothing left; an overlapping run is refused; no password in pg_dump argv or environment', async () => {
    const dir = join(work, 'sigint');
    const privateTmp = mkdtempSync(join(work, 'tmp-'));
    // An exclusive lock makes pg_dump wait inside the dump, with its temporary file open.
    await whileTableLocked(async () => {
      const child = spawn(process.execPath, [...CLI, ...createArgs('app', dir)], {
        env: cleanEnv({ TMPDIR: privateTmp }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // (Not the short-lived `pg_dump --version` probe: the one dumping, with --snapshot.)
      const dump = await until('pg_dump to start', () =>
        childrenNamed(child.pid!, 'pg_dump').find((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--snapshot=');
          } catch {
            return false;
          }
        }),
      );
      await until(
        'the temporary file',
        () => existsSync(dir) && readdirSync(dir).some((n) => n.endsWith('.pgwb.tmp')),
      );

      // Secrets reach pg_dump through a 0600 passfile only.
      const argv = readFileSync(`/proc/${dump}/cmdline`, 'utf8').split('\0');
      const environ = readFileSync(`/proc/${dump}/environ`, 'utf8').split('\0');
      assertNoCanary(argv.join(' '), password);
      assertNoCanary(environ.join('\n'), password);
      // A bounded wait for table locks by default (this run is stopped long before it).
      assert.ok(argv.includes('--lock-wait-timeout=60000'), argv.join(' '));
      assert.ok(!environ.some((v) => v.startsWith('PGPASSWORD=')));
      const passfile = environ.find((v) => v.startsWith('PGPASSFILE='))!.slice('PGPASSFILE='.length);
      // On Linux the passfile is an unlinked 0600 file pg_dump holds open (see backup-kill.test.ts).
      const held = passfile.replace(/^\/dev\/fd\//, `/proc/${dump}/fd/`);
      assert.equal(statSync(held).mode & 0o777, 0o600);
      assert.ok(
        process.platform === 'linux' ? /^\/dev\/fd\/\d+$/.test(passfile) : passfile.startsWith(privateTmp),
        passfile,
      );
      assert.ok(
        argv.some((a) => a.startsWith('--snapshot=')),
        argv.join(' '),
      );
      // Where the system has coreutils' stdbuf, pg_dump writes the archive through a 1 MiB buffer.
      assert.equal(
        environ.includes(`_STDBUF_O=${STDIO_BUFFER}`),
        findStdbuf() !== undefined,
        environ.filter((v) => v.startsWith('_STDBUF')).join(' '),
      );

      // A second run on the same directory fails fast on the lock file.
      const second = runCli(createArgs('app', dir));
      assert.equal(second.status, 1);
      assert.equal(errorCode(second.stdout), 'PGW_BACKUP_LOCKED');

      process.kill(child.pid!, 'SIGINT');
      const code = await exited;
      assert.equal(code, 1, stderr);
      assert.equal((jsonLine(stdout).error as Record<string, string>).code, 'PGW_BACKUP_INTERRUPTED');
      assert.ok(await waitForProcessExit(dump, 5_000), 'pg_dump still running');
      assert.equal(isProcessAlive(dump), false);
      assertEmptyDir(dir);
      // tsx keeps a cache there; pgwarden's passfile directory must be gone.
      assert.deepEqual(
        readdirSync(privateTmp).filter((n) => n.startsWith('pgwarden')),
        [],
      );
    });
  });

  test('disk full: PGW_BACKUP_NO_SPACE, exit 1, no manifest, temporary file removed', async (t) => {
    const mountPoint = mkdtempSync(join(work, 'tmpfs-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mountPoint], {
      encoding: 'utf8',
    });
    if (mounted.status !== 0) {
      t.skip(
        `cannot mount a small tmpfs here (${mounted.stderr.trim() || 'not root'}); disk-full is covered by docs only`,
      );
      return;
    }
    try {
      await cluster.createDatabase('big', 'app');
      // About 1.3 MB of random bytes: brotli cannot shrink them below 256 KiB.
      await withDb('big', 'app', (pool) =>
        pool.query(
          `CREATE TABLE noise AS SELECT decode(md5(random()::text) || md5(random()::text), 'hex') AS b FROM generate_series(1, 40000)`,
        ),
      );
      const dir = join(mountPoint, 'backups');
      const full = runCli(createArgs('big', dir));
      assert.equal(full.status, 1, full.stderr);
      assert.equal(errorCode(full.stdout), 'PGW_BACKUP_NO_SPACE');
      assertEmptyDir(dir);
    } finally {
      spawnSync('umount', [mountPoint]);
    }
  });
});
