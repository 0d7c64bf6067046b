// Import cost: whole-process wall time of `node -e "await import(X)"`, the
// built package (dist/, as users get it) against `import('pg')`, run after
// run in alternating order, medians and the median of the per-pair ratios.
// Also each subpath an application might load, and the CLI's start.
//
//   npm run build && node --import tsx bench/import.ts      # BENCH_RUNS=21 by default
//   BENCH_NODES=/path/to/node22,/path/to/node20 node --import tsx bench/import.ts   (comma-separated, as in bench/backup.ts)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const runs = Number(process.env.BENCH_RUNS ?? 21);
const nodes = (process.env.BENCH_NODES ?? process.execPath).split(',').filter(Boolean);
const TARGETS = ['pgwarden', 'pgwarden/metrics', 'pgwarden/secrets/aws', 'pgwarden/audit', 'pgwarden/backup'];

if (!existsSync(join(repo, 'dist', 'index.js'))) {
  console.error('bench/import: build first (npm run build)');
  process.exit(1);
}

interface Sample {
  wall: number;
  /** CPU (user + system) the process reports after the import: steadier than wall time on a busy machine. */
  cpu: number;
}

function sample(node: string, args: string[]): Sample {
  const started = process.hrtime.bigint();
  const result = spawnSync(node, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.toString()}`);
  const cpu = Number(/cpu=(\d+)/.exec(result.stdout.toString())?.[1] ?? NaN) / 1000;
  return { wall, cpu };
}

const REPORT_CPU = 'const u = process.cpuUsage(); console.log(`cpu=${u.user + u.system}`);';
const importOf = (specifier: string) => [
  '--input-type=module',
  '-e',
  `await import(${JSON.stringify(specifier)}); ${REPORT_CPU}`,
];
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Pair {
  a: number;
  b: number;
  ratio: number;
  cpuA: number;
  cpuB: number;
  cpuRatio: number;
}

/** `runs` pairs, the order inside each pair alternating; medians and the medians of the per-pair ratios. */
function pair(node: string, a: string[], b: string[]): Pair {
  const as: Sample[] = [];
  const bs: Sample[] = [];
  sample(node, a); // warm the file cache for both before measuring
  sample(node, b);
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      as.push(sample(node, a));
      bs.push(sample(node, b));
    } else {
      bs.push(sample(node, b));
      as.push(sample(node, a));
    }
  }
  return {
    a: median(as.map((s) => s.wall)),
    b: median(bs.map((s) => s.wall)),
    ratio: median(as.map((s, i) => s.wall / bs[i]!.wall)),
    cpuA: median(as.map((s) => s.cpu)),
    cpuB: median(bs.map((s) => s.cpu)),
    cpuRatio: median(as.map((s, i) => s.cpu / bs[i]!.cpu)),
  };
}

for (const node of nodes) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\nNode ${version}, ${runs} alternating pairs, medians`);
  console.log('| import | wall ms | `pg` wall ms | wall ratio | CPU ms | `pg` CPU ms | CPU ratio |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const target of TARGETS) {
    const r = pair(node, importOf(target), importOf('pg'));
    console.log(
      `| \`${target}\` | ${r.a.toFixed(0)} | ${r.b.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.cpuA.toFixed(0)} | ${r.cpuB.toFixed(0)} | ${r.cpuRatio.toFixed(2)} |`,
    );
  }
  const cli = pair(node, [join(repo, 'dist', 'cli', 'main.js'), '--version'], ['-e', '0']); // wall time only
  console.log(
    `\nCLI start: \`pgwarden --version\` ${cli.a.toFixed(0)} ms, \`node -e 0\` ${cli.b.toFixed(0)} ms (ratio ${cli.ratio.toFixed(2)})`,
  );
}
