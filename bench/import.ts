// Import cost: whole-process wall time of `node -e "await import(X)"`, the
// built package (dist/, as users get it) against `import('pg')`, run after
// run in alternating order, medians and the median of the per-pair ratios.
// Also each subpath an application might load, and the CLI's start.
//
//   npm run build && node --import tsx bench/import.ts      # BENCH_RUNS=21 by default
//   BENCH_NODES=/path/to/node22:/path/to/node20 node --import tsx bench/import.ts
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const runs = Number(process.env.BENCH_RUNS ?? 21);
const nodes = (process.env.BENCH_NODES ?? process.execPath).split(':').filter(Boolean);
const TARGETS = ['pgwarden', 'pgwarden/metrics', 'pgwarden/secrets/aws', 'pgwarden/audit', 'pgwarden/backup'];

if (!existsSync(join(repo, 'dist', 'index.js'))) {
  console.error('bench/import: build first (npm run build)');
  process.exit(1);
}

function wallMs(node: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(node, args, { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.toString()}`);
  return ms;
}

const importOf = (specifier: string) => [
  '--input-type=module',
  '-e',
  `await import(${JSON.stringify(specifier)})`,
];
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** `runs` pairs, the order inside each pair alternating; medians and the median ratio. */
function pair(node: string, a: string[], b: string[]): { a: number; b: number; ratio: number } {
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  wallMs(node, a); // warm the file cache for both before measuring
  wallMs(node, b);
  for (let i = 0; i < runs; i++) {
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = wallMs(node, a);
      tb = wallMs(node, b);
    } else {
      tb = wallMs(node, b);
      ta = wallMs(node, a);
    }
    as.push(ta);
    bs.push(tb);
    ratios.push(ta / tb);
  }
  return { a: median(as), b: median(bs), ratio: median(ratios) };
}

for (const node of nodes) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\nNode ${version}, ${runs} alternating pairs, medians`);
  console.log('| import | ms | `pg` ms | ratio |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const target of TARGETS) {
    const r = pair(node, importOf(target), importOf('pg'));
    console.log(`| \`${target}\` | ${r.a.toFixed(0)} | ${r.b.toFixed(0)} | ${r.ratio.toFixed(2)} |`);
  }
  const cli = pair(node, [join(repo, 'dist', 'cli', 'main.js'), '--version'], ['-e', '0']);
  console.log(
    `\nCLI start: \`pgwarden --version\` ${cli.a.toFixed(0)} ms, \`node -e 0\` ${cli.b.toFixed(0)} ms (ratio ${cli.ratio.toFixed(2)})`,
  );
}
