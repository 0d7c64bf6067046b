#!/usr/bin/env node
// `npm test`'s last step. Runs every *.test.ts under src/ and test/ with
// Node's own test runner on Node 22, the LTS users run, and the unit tests
// plus one integration file per area on Node 20 (exactly the oldest version
// `engines` allows) and Node 24. The runtimes this process is not come from the npm
// registry's per-platform `node-<os>-<arch>` packages (the `node` package
// minus its install script), cached under node_modules/.cache.
//
//   node scripts/run-tests.mjs                    the three runs above
//   node scripts/run-tests.mjs FILE|DIR ...       those, on this runtime only
//   PGWARDEN_TEST_RUNTIMES=22 npm test            only the Node 22 run
//   PGWARDEN_TEST_CONCURRENCY=1                   files at a time (default 3)
//
// Output: one character per test, then the failures in full, the skipped
// tests with their reasons and the counts; the full TAP of each run is
// written to test-results/node<version>.tap.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const reporter = join(repo, 'scripts', 'test-reporter.mjs');
const ENGINES_MIN = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).engines.node.replace(
  /^>=\s*/,
  '',
);

/**
 * One integration file per area for the runs on the other runtimes: where a
 * runtime can differ (native addons, the AWS SDK, zlib's codecs, require of
 * ES modules, TLS and sockets), each area meets it at least once.
 */
const AREA_FILES = [
  'test/packaging.test.ts',
  'test/integration/pool-pg-compat.test.ts',
  'test/integration/pool-tls.test.ts',
  'test/integration/secrets-aws.test.ts',
  'test/integration/secrets-keychain.test.ts',
  'test/integration/backup.test.ts',
  'test/integration/audit-checks.test.ts',
  'test/integration/creds.test.ts',
  'test/integration/roles.test.ts',
  'test/integration/incident.test.ts',
  'test/integration/monitor.test.ts',
  'test/integration/alerts.test.ts',
  'test/integration/health-metrics.test.ts',
  'test/integration/cli.test.ts',
  'test/integration/pgbouncer.test.ts',
  'test/integration/integrations-kysely.test.ts',
];

function testFiles(roots) {
  const files = [];
  for (const root of roots) {
    if (root.endsWith('.ts')) {
      files.push(root);
      continue;
    }
    for (const entry of readdirSync(root, { recursive: true })) {
      const path = join(root, String(entry));
      if (path.endsWith('.test.ts') && !path.includes('node_modules')) files.push(path);
    }
  }
  return files.sort();
}

/** A node binary matching `spec` (a major, or an exact version): this one, or one from the registry (cached). */
function runtime(spec) {
  const current = process.versions.node;
  if (spec.includes('.') ? current === spec : current.split('.')[0] === spec) return process.execPath;
  const name = `node-${process.platform}-${process.arch}`;
  const prefix = join(repo, 'node_modules', '.cache', 'pgwarden-runtimes', spec);
  const binary = join(prefix, 'node_modules', name, 'bin', 'node');
  if (!existsSync(binary)) {
    console.log(`run-tests: fetching Node ${spec} (${name}@${spec}) from the npm registry`);
    mkdirSync(prefix, { recursive: true });
    const install = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        `${name}@${spec}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (install.status !== 0 || !existsSync(binary)) {
      console.error(`run-tests: could not install ${name}@${spec}; the Node ${spec} run cannot happen.`);
      process.exit(1);
    }
  }
  return binary;
}

function run(label, node, files, others = []) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const results = join(repo, 'test-results');
  mkdirSync(results, { recursive: true });
  const tap = join(results, `${label.replace(/\W+/g, '').toLowerCase()}.tap`);
  console.log(`\n== ${label} (${version}): ${files.length} test files ==`);
  const started = Date.now();
  const concurrency = process.env.PGWARDEN_TEST_CONCURRENCY ?? '3';
  const result = spawnSync(
    node,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-timeout=180000',
      `--test-reporter=${reporter}`,
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ],
    {
      cwd: repo,
      stdio: 'inherit',
      // Tools the tests spawn by name (npm, node) run on the runtime under test.
      env: {
        ...process.env,
        PATH: `${dirname(node)}:${process.env.PATH ?? ''}`,
        // Tests that need two runtimes (a backup written by one, read by another) get the others.
        PGWARDEN_TEST_NODES: [process.env.PGWARDEN_TEST_NODES, ...others].filter(Boolean).join(':'),
      },
    },
  );
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(
    `== ${label}: ${result.status === 0 ? 'passed' : 'FAILED'} in ${seconds} s (full TAP: ${tap}) ==`,
  );
  return { label, ok: result.status === 0, seconds };
}

const args = process.argv.slice(2);
let outcomes;
if (args.length > 0) {
  const files = testFiles(args);
  if (files.length === 0) {
    console.error('run-tests: no test files found');
    process.exit(1);
  }
  outcomes = [run(`Node ${process.versions.node.split('.')[0]}`, process.execPath, files)];
} else {
  const all = testFiles(['src', 'test']);
  const units = all.filter((file) => file.startsWith('src/'));
  for (const file of AREA_FILES) {
    if (!all.includes(file)) {
      console.error(`run-tests: ${file} (an area file) does not exist`);
      process.exit(1);
    }
  }
  // Node 20 at exactly the oldest version `engines` allows (require of ES modules needs 20.19).
  const plan = [
    { spec: '22', files: all },
    { spec: ENGINES_MIN, files: [...units, ...AREA_FILES] },
    { spec: '24', files: [...units, ...AREA_FILES] },
  ];
  const only = process.env.PGWARDEN_TEST_RUNTIMES?.split(',');
  const steps = plan
    .filter((step) => !only || only.some((o) => step.spec === o || step.spec.startsWith(`${o}.`)))
    .map((step) => ({ ...step, node: runtime(step.spec) }));
  outcomes = steps.map((step) =>
    run(
      `Node ${step.spec}`,
      step.node,
      step.files,
      steps.filter((other) => other !== step).map((other) => other.node),
    ),
  );
}
if (outcomes.length > 1) {
  console.log(
    `\n${outcomes.map((o) => `${o.label}: ${o.ok ? 'passed' : 'FAILED'} (${o.seconds} s)`).join('; ')}`,
  );
}
process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
