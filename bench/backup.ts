// `pgwarden backup create`, `restore` and `verify --level 3` against pg_dump / pg_restore, side by
// side in one run, on generated databases mixing pgbench tables and
// incompressible text, at two sizes; with each Node runtime given (zstd where
// it has it, brotli where not) and each number of frame workers. Prints
// medians and ratios; absolute numbers are noise on shared machines. Not part
// of `npm test`.
//
//   node --import tsx bench/backup.ts                      # sizes 550 and 1100 MB, 3 rounds, this Node
//   BENCH_NODES=/path/to/node22,/path/to/node20 BENCH_SIZES_MB=550,1100 BENCH_ROUNDS=3 node --import tsx bench/backup.ts
//
// BENCH_NODES: Node binaries to run the CLI with (default: this one); each
// creates with its default codec. BENCH_WORKERS: worker counts for create
// (default "1,2" and the number of cores when above 2); restore runs with 1
// and the default. BENCH_BASELINE_CLI: the main.js of another pgwarden build
// (e.g. the previous format) to run beside, with the first Node.
//
// The CLI is run from dist/ (built here first with tsconfig.build.json), so
// tsx's transpiling is not part of the measured time.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyFile } from '../src/backup/keys/key-file.js';
import { codecParams } from '../src/backup/frames/codecs.js';
import { DEFAULT_FRAME_SIZE, type FramedCompression } from '../src/backup/format/constants.js';
import { startCluster } from '../src/testing/index.js';

const SIZES_MB = (process.env.BENCH_SIZES_MB ?? '550,1100').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CORES = availableParallelism();
const WORKERS = (process.env.BENCH_WORKERS ?? (CORES > 2 ? `1,2,${CORES}` : '1,2')).split(',').map(Number);
const NODES = (process.env.BENCH_NODES ?? process.execPath).split(',').filter(Boolean);
const BASELINE_CLI = process.env.BENCH_BASELINE_CLI;
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

/** Busy jiffies of all cores since boot, from the first line of /proc/stat. */
function busyJiffies(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return total - (fields[3] ?? 0) - (fields[4] ?? 0); // minus idle and iowait
}
const JIFFIES_PER_S = 100; // USER_HZ on Linux

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Runs a process to completion; polls /proc/<pid>/status for VmHWM (peak RSS). */
async function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdoutTo?: string,
): Promise<Run> {
  const out = stdoutTo ? await open(stdoutTo, 'w') : undefined;
  const cpuBefore = busyJiffies();
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
  const busyCoreS = (busyJiffies() - cpuBefore) / JIFFIES_PER_S;
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
 * `node -e` script: CPU seconds one thread spends compressing a file in
 * pgwarden's frames with pgwarden's settings (argv: file, codec, params
 * JSON, frame size), reading excluded; prints the seconds and the output size.
 */
const FRAME_CODEC_CPU = `const zlib = require('node:zlib'); const fs = require('node:fs');
const [file, codec, json, size] = process.argv.slice(1); const p = JSON.parse(json); const frame = Buffer.alloc(Number(size));
const compress = { brotli: (b) => zlib.brotliCompressSync(b, { params: Object.assign({}, p.brotli, { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length }) }), gzip: (b) => zlib.gzipSync(b, { level: p.gzipLevel }), 'zstd-frames': (b) => zlib.zstdCompressSync(b, { params: p.zstd }) }[codec];
const fd = fs.openSync(file, 'r'); let cpu = 0; let out = 0; let n;
while ((n = fs.readSync(fd, frame, 0, frame.length, null)) > 0) { const t = process.cpuUsage(); out += compress(frame.subarray(0, n)).length + 8; const u = process.cpuUsage(t); cpu += (u.user + u.system) / 1e6; }
console.log(JSON.stringify({ cpu, out }));`;

function build(): void {
  process.stdout.write('building dist/ (tsc -p tsconfig.build.json)…\n');
  spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'ignore' });
  for (const file of ['dist/cli/main.js', 'dist/backup/create.js', 'dist/backup/restore.js']) {
    if (!existsSync(file)) throw new Error(`${file} was not built; run npm run build and look at the errors`);
  }
}

function nodeInfo(node: string): { version: string; zstd: boolean } {
  const probe = spawnSync(
    node,
    ['-p', "process.versions.node + ' ' + typeof require('node:zlib').zstdCompressSync"],
    {
      encoding: 'utf8',
    },
  );
  if (probe.status !== 0) throw new Error(`${node} does not run: ${probe.stderr}`);
  const [version, zstd] = probe.stdout.trim().split(' ');
  return { version: version!, zstd: zstd === 'function' };
}

interface Variant {
  /** e.g. "Node 22.23 zstd-frames, 2 workers". */
  label: string;
  node: string;
  cli: string;
  codec: string;
  workers: number | undefined;
  /** Key of the runtime/codec, shared by the worker variants of one Node. */
  group: string;
}

build();
const CLI = join(process.cwd(), 'dist/cli/main.js');
const runtimes = NODES.map((node) => ({ node, ...nodeInfo(node) }));
const createVariants: Variant[] = [];
for (const r of runtimes) {
  const codec = r.zstd ? 'zstd-frames' : 'brotli';
  const group = `Node ${r.version} ${codec}`;
  for (const workers of WORKERS)
    createVariants.push({
      label: `${group}, ${workers} worker${workers > 1 ? 's' : ''}`,
      node: r.node,
      cli: CLI,
      codec,
      workers,
      group,
    });
}
if (BASELINE_CLI) {
  createVariants.push({
    label: `baseline ${BASELINE_CLI.replace(/\/dist\/cli\/main\.js$/, '')}`,
    node: runtimes[0]!.node,
    cli: BASELINE_CLI,
    codec: 'brotli',
    workers: undefined,
    group: 'baseline',
  });
}
// Restores: each runtime with its default workers, and the first one with 1 worker too.
const restoreVariants: Variant[] = runtimes.map((r) => {
  const codec = r.zstd ? 'zstd-frames' : 'brotli';
  return {
    label: `Node ${r.version} ${codec}, default workers`,
    node: r.node,
    cli: CLI,
    codec,
    workers: undefined,
    group: `Node ${r.version} ${codec}`,
  };
});
restoreVariants.splice(1, 0, {
  ...restoreVariants[0]!,
  label: restoreVariants[0]!.label.replace('default workers', '1 worker'),
  workers: 1,
});
if (BASELINE_CLI) restoreVariants.push({ ...createVariants.at(-1)! });
// verify --level 3 (a restore into a scratch database, the row counts compared): the first
// runtime with its default workers, and the baseline build when given, on the same file.
const verifyVariants: Variant[] = [restoreVariants[0]!];
if (BASELINE_CLI) verifyVariants.push({ ...createVariants.at(-1)! });

const loadBefore = loadavg();
const startedAt = new Date();
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
const passfile = join(work, 'pgpass');
writeFileSync(passfile, `${cluster.host}:${cluster.port}:*:bench:${password}\n`, { mode: 0o600 });
const bin = (tool: string) => join(cluster.binDir, tool);

interface VariantResult {
  ms: number[];
  busy: number[];
  rss: number[];
  bytes: number;
  lastId: string;
}

interface SizeResult {
  mb: number;
  dbBytes: number;
  dumpZ0: number[];
  dumpZ0File: number[];
  /** Machine busy core-seconds while a Node process reads `pg_dump -Z0` from a pipe and discards it. */
  dumpIntoNodeBusy: number[];
  /** CPU seconds one thread needs to compress the `-Z0` dump in frames, per codec, and the output bytes. */
  codecCpu: Map<string, { cpu: number; out: number }>;
  dumpDefault: number[];
  dumpDefaultBytes: number;
  create: Map<string, VariantResult>;
  restorePlain: number[];
  restore: Map<string, number[]>;
  verify: Map<string, number[]>;
}

const results: SizeResult[] = [];
try {
  await cluster.createRole('bench', { password, attributes: 'LOGIN SUPERUSER' });
  const url = (database: string) => cluster.url({ user: 'bench', password, database });
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  const pgEnv = (database: string) => ({
    ...baseEnv,
    PGHOST: cluster.host,
    PGPORT: String(cluster.port),
    PGUSER: 'bench',
    PGDATABASE: database,
    PGPASSFILE: passfile,
  });

  for (const mb of SIZES_MB) {
    const db = `bench_${mb}`;
    await cluster.createDatabase(db, 'bench');
    const env = pgEnv(db);
    // ~60 % pgbench (about 15.6 MB per scale unit with indexes), ~40 % random base64 text.
    const scale = Math.max(1, Math.round((mb * 0.6) / 15.6));
    const noiseRows = Math.round(mb * 0.4 * 1024);
    process.stdout.write(
      `\n[${mb} MB] generating: pgbench -i -s ${scale}, ${noiseRows} rows of random text…\n`,
    );
    await timed(bin('pgbench'), ['-i', '-q', '-s', String(scale)], env);
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
      env,
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
      codecCpu: new Map(),
      dumpDefault: [],
      dumpDefaultBytes: 0,
      create: new Map(
        createVariants.map((v) => [v.label, { ms: [], busy: [], rss: [], bytes: 0, lastId: '' }]),
      ),
      restorePlain: [],
      restore: new Map(restoreVariants.map((v) => [v.label, []])),
      verify: new Map(verifyVariants.map((v) => [v.label, []])),
    };
    const defaultFile = join(work, `${db}.custom`);
    const z0File = join(work, `${db}.z0.custom`);
    const dirOf = (v: Variant) => join(work, `backups-${mb}-${createVariants.indexOf(v)}`);
    const measures: Array<[string, () => Promise<void>]> = [
      [
        'pg_dump -Fc -Z0 > /dev/null',
        async () => {
          result.dumpZ0.push((await timed(bin('pg_dump'), ['-Fc', '-Z0'], env, '/dev/null')).ms);
        },
      ],
      [
        'pg_dump -Fc -Z0 | node (discards)',
        async () => {
          const run = await timed(
            runtimes[0]!.node,
            ['-e', DISCARD_CHILD_OUTPUT, bin('pg_dump'), '-Fc', '-Z0'],
            env,
          );
          result.dumpIntoNodeBusy.push(run.busyCoreS);
        },
      ],
      [
        'pg_dump -Fc -Z0 > file',
        async () => {
          result.dumpZ0File.push((await timed(bin('pg_dump'), ['-Fc', '-Z0'], env, z0File)).ms);
          if (result.codecCpu.size === 0) {
            for (const r of runtimes) {
              const codec: FramedCompression = r.zstd ? 'zstd-frames' : 'brotli';
              if (result.codecCpu.has(codec)) continue;
              const probe = spawnSync(
                r.node,
                [
                  '-e',
                  FRAME_CODEC_CPU,
                  z0File,
                  codec,
                  JSON.stringify(codecParams(codec)),
                  String(DEFAULT_FRAME_SIZE),
                ],
                { encoding: 'utf8' },
              );
              if (probe.status !== 0) throw new Error(`codec CPU: ${probe.stderr}`);
              result.codecCpu.set(codec, JSON.parse(probe.stdout) as { cpu: number; out: number });
            }
          }
          rmSync(z0File, { force: true });
        },
      ],
      [
        'pg_dump -Fc > file',
        async () => {
          result.dumpDefault.push((await timed(bin('pg_dump'), ['-Fc'], env, defaultFile)).ms);
          result.dumpDefaultBytes = statSync(defaultFile).size;
        },
      ],
      ...createVariants.map((v): [string, () => Promise<void>] => [
        `create, ${v.label}`,
        async () => {
          const own = result.create.get(v.label)!;
          const dir = dirOf(v);
          if (own.lastId)
            for (const ext of ['.pgwb', '.manifest.json'])
              rmSync(join(dir, own.lastId + ext), { force: true });
          const run = await timed(
            v.node,
            [
              v.cli,
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
              ...(v.workers !== undefined ? ['--workers', String(v.workers)] : []),
            ],
            baseEnv,
          );
          const json = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
            id: string;
            fileBytes: number;
            compression: string;
          };
          if (v.group !== 'baseline' && json.compression !== v.codec)
            throw new Error(`${v.label}: created with ${json.compression}`);
          own.lastId = json.id;
          own.ms.push(run.ms);
          own.busy.push(run.busyCoreS);
          own.rss.push(run.peakRssKiB);
          own.bytes = json.fileBytes;
        },
      ]),
    ];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? measures : [...measures].reverse();
      for (const [name, measure] of order) {
        await measure();
        process.stdout.write(`[${mb} MB] round ${round + 1}: ${name} done\n`);
      }
    }

    // Restores into fresh databases, order alternating: pg_restore of the
    // unencrypted default custom file, and pgwarden's streamed restore.
    const restores: Array<[string, () => Promise<void>]> = [
      [
        'pg_restore',
        async () => {
          const target = `rp_${mb}`;
          await cluster.createDatabase(target, 'bench');
          const run = await timed(
            bin('pg_restore'),
            ['--single-transaction', '--exit-on-error', '--no-password', `--dbname=${target}`, defaultFile],
            env,
          );
          result.restorePlain.push(run.ms);
          await cluster.adminQuery(`DROP DATABASE ${target}`);
        },
      ],
      ...restoreVariants.map((v): [string, () => Promise<void>] => [
        `restore, ${v.label}`,
        async () => {
          const target = `rw_${mb}`;
          await cluster.createDatabase(target, 'bench');
          // The backup this runtime made with its default codec (the variant with the most workers).
          const made = createVariants.filter((c) => c.group === v.group).at(-1)!;
          const run = await timed(
            v.node,
            [
              v.cli,
              'backup',
              'restore',
              join(dirOf(made), `${result.create.get(made.label)!.lastId}.pgwb`),
              '--url',
              url(target),
              '--key-file',
              keyFile,
              '--json',
              '--pg-bin',
              cluster.binDir,
              ...(v.workers !== undefined ? ['--workers', String(v.workers)] : []),
            ],
            baseEnv,
          );
          result.restore.get(v.label)!.push(run.ms);
          await cluster.adminQuery(`DROP DATABASE ${target}`);
        },
      ]),
      ...verifyVariants.map((v): [string, () => Promise<void>] => [
        `verify --level 3, ${v.label}`,
        async () => {
          // One file for every variant: the first runtime's backup with its default codec.
          const made = createVariants.filter((c) => c.group === restoreVariants[0]!.group).at(-1)!;
          const run = await timed(
            v.node,
            [
              v.cli,
              'backup',
              'verify',
              join(dirOf(made), `${result.create.get(made.label)!.lastId}.pgwb`),
              '--level',
              '3',
              '--url',
              url('postgres'),
              '--key-file',
              keyFile,
              '--json',
              '--pg-bin',
              cluster.binDir,
            ],
            baseEnv,
          );
          const json = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { ok: boolean };
          if (!json.ok) throw new Error(`verify --level 3, ${v.label}: ${run.stdout}`);
          result.verify.get(v.label)!.push(run.ms);
        },
      ]),
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, run] of round % 2 === 0 ? restores : [...restores].reverse()) {
        await run();
        process.stdout.write(`[${mb} MB] restore round ${round + 1}: ${name} done\n`);
      }
    }
    results.push(result);
    rmSync(defaultFile, { force: true });
    for (const v of createVariants) rmSync(dirOf(v), { recursive: true, force: true });
    await cluster.adminQuery(`DROP DATABASE ${db}`);
  }
} finally {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}

const loadAfter = loadavg();
const s = (ms: number) => (ms / 1000).toFixed(2);
const lines = [
  '',
  `Results (${startedAt.toISOString().slice(0, 16)}Z, ${ROUNDS} rounds, medians; ${CORES} cores; bench under Node ${process.versions.node}, PostgreSQL ${cluster.major}; /proc/loadavg before ${loadBefore}, after ${loadAfter}):`,
  '',
  '| DB size | pg_dump -Z0 > /dev/null | -Z0 > file | pg_dump -Fc | -Fc size |',
  '| --- | --- | --- | --- | --- |',
];
for (const r of results) {
  lines.push(
    `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${s(median(r.dumpZ0))} s | ${s(median(r.dumpZ0File))} s | ${s(median(r.dumpDefault))} s | ${(r.dumpDefaultBytes / MiB).toFixed(1)} MiB |`,
  );
}
lines.push(
  '',
  '| DB size | create | time | ÷ -Z0 /dev/null | ÷ -Fc | size | ÷ -Fc size | peak RSS | busy core-s |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
);
for (const r of results) {
  for (const v of createVariants) {
    const c = r.create.get(v.label)!;
    const t = median(c.ms);
    lines.push(
      `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${v.label} | ${s(t)} s | ${(t / median(r.dumpZ0)).toFixed(2)} | ${(t / median(r.dumpDefault)).toFixed(2)} | ${(c.bytes / MiB).toFixed(1)} MiB | ${(c.bytes / r.dumpDefaultBytes).toFixed(3)} | ${(Math.max(...c.rss) / 1024).toFixed(0)} MiB | ${median(c.busy).toFixed(2)} |`,
    );
  }
}
lines.push('', 'Speedup of create from frame workers (time with 1 worker ÷ time with N):', '');
lines.push(
  `| DB size | runtime and codec | ${WORKERS.map((w) => `${w} worker${w > 1 ? 's' : ''}`).join(' | ')} |`,
);
lines.push(`| --- | --- | ${WORKERS.map(() => '---').join(' | ')} |`);
for (const r of results) {
  for (const group of [
    ...new Set(createVariants.filter((v) => v.group !== 'baseline').map((v) => v.group)),
  ]) {
    const own = createVariants.filter((v) => v.group === group);
    const one = median(r.create.get(own.find((v) => v.workers === 1)!.label)!.ms);
    lines.push(
      `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${group} | ${own.map((v) => (one / median(r.create.get(v.label)!.ms)).toFixed(2)).join(' | ')} |`,
    );
  }
}
lines.push('', '| DB size | restore | time | ÷ pg_restore |', '| --- | --- | --- | --- |');
for (const r of results) {
  const plain = median(r.restorePlain);
  lines.push(`| ${(r.dbBytes / MiB).toFixed(0)} MiB | pg_restore of the -Fc file | ${s(plain)} s | 1.00 |`);
  for (const v of restoreVariants) {
    const t = median(r.restore.get(v.label)!);
    lines.push(
      `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${v.label} | ${s(t)} s | ${(t / plain).toFixed(2)} |`,
    );
  }
}
lines.push(
  '',
  'verify --level 3 is a restore into a scratch database plus the SHA-256 pass, the key opened, the row counts and the scratch database created and dropped; pg_restore is the restore alone:',
  '',
  '| DB size | verify --level 3 | time | ÷ pg_restore |',
  '| --- | --- | --- | --- |',
);
for (const r of results) {
  const plain = median(r.restorePlain);
  for (const v of verifyVariants) {
    const t = median(r.verify.get(v.label)!);
    lines.push(
      `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${v.label} | ${s(t)} s | ${(t / plain).toFixed(2)} |`,
    );
  }
}
lines.push(
  '',
  `CPU budget on ${CORES} cores (busy core-seconds of the whole machine, medians; each codec measured alone over the -Z0 dump in 1 MiB frames on one thread):`,
  '',
  '| DB size | pg_dump -Z0 \\| node, busy | codec | codec CPU | codec output ÷ -Fc | floor = max(-Z0, (pg_dump \\| node + codec) ÷ cores) | floor ÷ -Z0 /dev/null |',
  '| --- | --- | --- | --- | --- | --- | --- |',
);
for (const r of results) {
  const dumpBusy = median(r.dumpIntoNodeBusy);
  const z0 = median(r.dumpZ0) / 1000;
  for (const [codec, { cpu, out }] of r.codecCpu) {
    const floor = Math.max(z0, (dumpBusy + cpu) / CORES);
    lines.push(
      `| ${(r.dbBytes / MiB).toFixed(0)} MiB | ${dumpBusy.toFixed(2)} | ${codec} | ${cpu.toFixed(2)} | ${(out / r.dumpDefaultBytes).toFixed(3)} | ${floor.toFixed(2)} s | ${(floor / z0).toFixed(2)} |`,
    );
  }
}
lines.push(
  '',
  'The floor counts only dumping into a Node process and compressing; it leaves out what else create must do (start Node and connect before pg_dump starts, encrypt, hash, write the file, count rows).',
  '',
  'Targets (issue 14): create ≤ 1.5 × pg_dump -Z0 > /dev/null (goal 1.3), ≤ 0.4 × pg_dump -Fc; size ≤ pg_dump -Fc; restore ≤ 1.1 × pg_restore; peak RSS ≤ 160 MiB and flat across sizes with the default workers.',
);
process.stdout.write(`${lines.join('\n')}\n`);
