// `pgwarden backup create` and `restore` against pg_dump / pg_restore, side by
// side in one run, on generated databases mixing pgbench tables and
// incompressible text, at two sizes. Prints medians and ratios; absolute
// numbers are noise on shared machines. Not part of `npm test`.
//
//   node --import tsx bench/backup.ts              # sizes 250 and 550 MB, 3 rounds
//   BENCH_SIZES_MB=550 BENCH_ROUNDS=3 node --import tsx bench/backup.ts
//
// The CLI is run from dist/ (built here first with tsconfig.build.json), so
// tsx's transpiling is not part of the measured time.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCompressor } from '../src/backup/compression.js';
import { resolveConfig } from '../src/config/resolve.js';
import { libpqEnvironment } from '../src/backup/libpq-env.js';
import { generateKeyFile } from '../src/backup/keys/key-file.js';
import { startCluster } from '../src/testing/index.js';

const SIZES_MB = (process.env.BENCH_SIZES_MB ?? '250,550').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MiB = 1024 * 1024;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Run {
  ms: number;
  /** Core-seconds the whole machine was busy during the run (/proc/stat): the tool, the server, everything. */
  busyCoreS: number;
  peakRssKiB: number;
  stdout: string;
}

/** Busy and total jiffies of all cores since boot, from the first line of /proc/stat. */
function cpuJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}
const JIFFIES_PER_S = 100; // USER_HZ on Linux

/** Runs a process to completion; polls /proc/<pid>/status for VmHWM (peak RSS). */
async function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdoutTo?: string,
): Promise<Run> {
  const out = stdoutTo ? await open(stdoutTo, 'w') : undefined;
  const cpuBefore = cpuJiffies();
  const started = performance.now();
  const child = spawn(command, args, { env, stdio: ['ignore', out ? out.fd : 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
      if (kb) peak = Math.max(peak, Number(kb));
    } catch {
      // exited
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const ms = performance.now() - started;
  const busyCoreS = (cpuJiffies().busy - cpuBefore.busy) / JIFFIES_PER_S;
  clearInterval(poll);
  await out?.close();
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  return { ms, busyCoreS, peakRssKiB: peak, stdout };
}

/** `node -e` script: runs argv[1..] with stdout piped into this process, which drops it. */
const DISCARD_CHILD_OUTPUT = `const c = require('node:child_process').spawn(process.argv[1], process.argv.slice(2), { stdio: ['ignore', 'pipe', 'inherit'] });
c.stdout.on('data', () => {});
c.on('close', (code) => process.exit(code ?? 1));`;

/**
 * CPU seconds (all threads of this process) that pgwarden's brotli settings
 * need for a file: together with pg_dump's own CPU it bounds from below what
 * any pipeline that dumps and compresses can take on this machine's cores.
 * Reading the file is measured alone first (which also brings it into the page
 * cache) and subtracted.
 */
async function compressionCpuSeconds(file: string): Promise<number> {
  const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  const read = () => createReadStream(file, { highWaterMark: 1024 * 1024 });
  const cpu = async (run: () => Promise<void>) => {
    const before = process.cpuUsage();
    await run();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1e6;
  };
  const reading = await cpu(() => pipeline(read(), discard()));
  const compressing = await cpu(() => pipeline(read(), createCompressor('brotli'), discard()));
  return compressing - reading;
}

function build(): void {
  process.stdout.write('building dist/ (tsc -p tsconfig.build.json)…\n');
  spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'ignore' });
  for (const file of ['dist/cli/main.js', 'dist/backup/create.js', 'dist/backup/restore.js']) {
    if (!existsSync(file)) throw new Error(`${file} was not built; run npm run build and look at the errors`);
  }
}

build();
const work = mkdtempSync(join(tmpdir(), 'pgw-bench-backup-'));
const cluster = await startCluster({
  conf: {
    shared_buffers: '256MB',
    maintenance_work_mem: '256MB',
    max_wal_size: '8GB',
    checkpoint_timeout: '30min',
    wal_level: 'minimal',
    max_wal_senders: 0,
  },
});
const password = randomBytes(24).toString('base64url');
const keyFile = join(work, 'backup.key');
generateKeyFile(keyFile);
const bin = (tool: string) => join(cluster.binDir, tool);
const CLI = [join(process.cwd(), 'dist/cli/main.js')];

interface SizeResult {
  mb: number;
  dbBytes: number;
  dumpZ0: number[];
  dumpZ0File: number[];
  /** Machine busy core-seconds while a Node process reads `pg_dump -Z0` from a pipe and discards it. */
  dumpIntoNodeBusy: number[];
  /** CPU seconds brotli (pgwarden's settings) takes over the `-Z0` dump, alone in this process. */
  brotliCpuS: number;
  createBusy: number[];
  dumpDefault: number[];
  dumpDefaultBytes: number;
  create: number[];
  createBytes: number;
  createRss: number[];
  restorePlain: number[];
  restorePgw: number[];
}

const results: SizeResult[] = [];
try {
  await cluster.createRole('bench', { password, attributes: 'LOGIN SUPERUSER' });
  const url = (database: string) => cluster.url({ user: 'bench', password, database });
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));

  for (const mb of SIZES_MB) {
    const db = `bench_${mb}`;
    await cluster.createDatabase(db, 'bench');
    const libpq = libpqEnvironment(resolveConfig({ url: url(db), env: {} }).config, {
      secretFiles: 'files',
    });
    const session = { env: { ...baseEnv, ...libpq.env }, dispose: () => libpq.dispose() };
    try {
      // ~60 % pgbench (about 15.6 MB per scale unit with indexes), ~40 % random base64 text.
      const scale = Math.max(1, Math.round((mb * 0.6) / 15.6));
      const noiseRows = Math.round(mb * 0.4 * 1024);
      process.stdout.write(
        `\n[${mb} MB] generating: pgbench -i -s ${scale}, ${noiseRows} rows of random text…\n`,
      );
      await timed(bin('pgbench'), ['-i', '-q', '-s', String(scale)], session.env);
      await timed(
        bin('psql'),
        [
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '-c',
          `CREATE EXTENSION IF NOT EXISTS pgcrypto;
           CREATE TABLE noise (id int PRIMARY KEY, body text);
           INSERT INTO noise SELECT g, encode(gen_random_bytes(750), 'base64') FROM generate_series(1, ${noiseRows}) g;`,
          '-c',
          'VACUUM ANALYZE',
          // The generated data's dirty buffers written now, not during the first measurements.
          '-c',
          'CHECKPOINT',
        ],
        session.env,
      );
      const dbBytes = Number(
        (await cluster.adminQuery<{ size: string }>(`SELECT pg_database_size($1) AS size`, [db]))[0]!.size,
      );
      process.stdout.write(`[${mb} MB] database size ${(dbBytes / MiB).toFixed(0)} MiB\n`);

      const result: SizeResult = {
        mb,
        dbBytes,
        dumpZ0: [],
        dumpZ0File: [],
        dumpIntoNodeBusy: [],
        brotliCpuS: 0,
        createBusy: [],
        dumpDefault: [],
        dumpDefaultBytes: 0,
        create: [],
        createBytes: 0,
        createRss: [],
        restorePlain: [],
        restorePgw: [],
      };
      const defaultFile = join(work, `${db}.custom`);
      const z0File = join(work, `${db}.z0.custom`);
      const dir = join(work, `backups-${mb}`);
      let lastBackup = '';
      const measures: Array<[string, () => Promise<void>]> = [
        [
          'pg_dump -Fc -Z0 > /dev/null',
          async () => {
            result.dumpZ0.push((await timed(bin('pg_dump'), ['-Fc', '-Z0'], session.env, '/dev/null')).ms);
          },
        ],
        [
          'pg_dump -Fc -Z0 | node (discards)',
          async () => {
            const run = await timed(
              process.execPath,
              ['-e', DISCARD_CHILD_OUTPUT, bin('pg_dump'), '-Fc', '-Z0'],
              session.env,
            );
            result.dumpIntoNodeBusy.push(run.busyCoreS);
          },
        ],
        [
          'pg_dump -Fc -Z0 > file',
          async () => {
            result.dumpZ0File.push((await timed(bin('pg_dump'), ['-Fc', '-Z0'], session.env, z0File)).ms);
            if (result.brotliCpuS === 0) result.brotliCpuS = await compressionCpuSeconds(z0File);
            rmSync(z0File, { force: true });
          },
        ],
        [
          'pg_dump -Fc > file',
          async () => {
            result.dumpDefault.push((await timed(bin('pg_dump'), ['-Fc'], session.env, defaultFile)).ms);
            result.dumpDefaultBytes = statSync(defaultFile).size;
          },
        ],
        [
          'pgwarden backup create',
          async () => {
            if (lastBackup)
              for (const ext of ['.pgwb', '.manifest.json'])
                rmSync(join(dir, lastBackup + ext), { force: true });
            const run = await timed(
              process.execPath,
              [
                ...CLI,
                'backup',
                'create',
                '--url',
                url(db),
                '--dir',
                dir,
                '--key-file',
                keyFile,
                '--json',
                '--pg-bin',
                cluster.binDir,
              ],
              baseEnv,
            );
            const json = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
              id: string;
              fileBytes: number;
            };
            lastBackup = json.id;
            result.create.push(run.ms);
            result.createBusy.push(run.busyCoreS);
            result.createBytes = json.fileBytes;
            result.createRss.push(run.peakRssKiB);
          },
        ],
      ];
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? measures : [...measures].reverse();
        for (const [name, measure] of order) {
          await measure();
          process.stdout.write(`[${mb} MB] round ${round + 1}: ${name} done\n`);
        }
      }

      // Restores into fresh databases, alternating: pg_restore of the unencrypted
      // default custom file, and pgwarden's streamed restore of its backup.
      for (let round = 0; round < ROUNDS; round++) {
        const plain = async () => {
          const target = `rp_${mb}_${round}`;
          await cluster.createDatabase(target, 'bench');
          result.restorePlain.push(
            (
              await timed(
                bin('pg_restore'),
                [
                  '--single-transaction',
                  '--exit-on-error',
                  '--no-password',
                  `--dbname=${target}`,
                  defaultFile,
                ],
                session.env,
              )
            ).ms,
          );
          await cluster.adminQuery(`DROP DATABASE ${target}`);
        };
        const pgw = async () => {
          const target = `rw_${mb}_${round}`;
          await cluster.createDatabase(target, 'bench');
          result.restorePgw.push(
            (
              await timed(
                process.execPath,
                [
                  ...CLI,
                  'backup',
                  'restore',
                  join(dir, `${lastBackup}.pgwb`),
                  '--url',
                  url(target),
                  '--key-file',
                  keyFile,
                  '--json',
                  '--pg-bin',
                  cluster.binDir,
                ],
                baseEnv,
              )
            ).ms,
          );
          await cluster.adminQuery(`DROP DATABASE ${target}`);
        };
        for (const run of round % 2 === 0 ? [plain, pgw] : [pgw, plain]) await run();
        process.stdout.write(`[${mb} MB] restore round ${round + 1} done\n`);
      }
      results.push(result);
      rmSync(defaultFile, { force: true });
      rmSync(dir, { recursive: true, force: true });
      await cluster.adminQuery(`DROP DATABASE ${db}`);
    } finally {
      session.dispose();
    }
  }
} finally {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}

const s = (ms: number) => (ms / 1000).toFixed(2);
const lines = [
  '',
  `Results (${new Date().toISOString().slice(0, 10)}, ${ROUNDS} rounds, medians; Node ${process.versions.node}, PostgreSQL ${cluster.major}):`,
  '',
  '| DB size | pg_dump -Z0 > /dev/null s | pg_dump -Z0 > file s | pg_dump -Fc s | create s | create ÷ -Z0 /dev/null | create ÷ -Z0 file | create ÷ -Fc | -Fc size | create size | size ratio | create peak RSS | pg_restore s | restore s | restore ratio |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const r of results) {
  const z0 = median(r.dumpZ0);
  const z0f = median(r.dumpZ0File);
  const fc = median(r.dumpDefault);
  const cr = median(r.create);
  const rp = median(r.restorePlain);
  const rw = median(r.restorePgw);
  lines.push(
    `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${s(z0)} | ${s(z0f)} | ${s(fc)} | ${s(cr)} | ${(cr / z0).toFixed(2)} | ${(cr / z0f).toFixed(2)} | ${(cr / fc).toFixed(2)} | ${(r.dumpDefaultBytes / MiB).toFixed(1)} MiB | ${(r.createBytes / MiB).toFixed(1)} MiB | ${(r.createBytes / r.dumpDefaultBytes).toFixed(2)} | ${(Math.max(...r.createRss) / 1024).toFixed(0)} MiB | ${s(rp)} | ${s(rw)} | ${(rw / rp).toFixed(2)} |`,
  );
}
const cores = availableParallelism();
lines.push(
  '',
  `CPU budget on ${cores} cores (core-seconds the whole machine was busy, medians; brotli measured alone over the -Z0 dump):`,
  '',
  '| DB size | pg_dump -Z0 \\| node, busy | brotli CPU | create, busy | floor = (pg_dump \\| node + brotli) ÷ cores | floor ÷ -Z0 /dev/null |',
  '| --- | --- | --- | --- | --- | --- |',
);
for (const r of results) {
  const dumpBusy = median(r.dumpIntoNodeBusy);
  const floor = Math.max(median(r.dumpZ0) / 1000, (dumpBusy + r.brotliCpuS) / cores);
  lines.push(
    `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${dumpBusy.toFixed(2)} | ${r.brotliCpuS.toFixed(2)} | ${median(r.createBusy).toFixed(2)} | ${floor.toFixed(2)} s | ${(floor / (median(r.dumpZ0) / 1000)).toFixed(2)} |`,
  );
}
lines.push(
  '',
  'The floor counts only dumping into a Node process and compressing; it leaves out what else create must do (start Node and connect before pg_dump starts, encrypt, hash, write the file, count rows): no Node pipeline that compresses with brotli can be faster on this machine.',
  '',
  'Targets (issue 6): create ≤ 1.1 × pg_dump -Z0 and ≤ 0.7 × pg_dump -Fc; size ≤ pg_dump -Fc; peak RSS ≤ 128 MiB and flat across sizes; restore ≤ 1.05 × pg_restore.',
);
process.stdout.write(`${lines.join('\n')}\n`);
