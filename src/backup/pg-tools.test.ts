// Locating pg_dump / pg_restore: an explicit directory must hold a usable
// tool, and a version below the server's is never picked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { findPgTool, toolCommand } from './pg-tools.js';
import { findStdbuf, STDIO_BUFFER } from './stdio-buffer.js';

test('--pg-bin without the tool is PGW_BACKUP_TOOL_MISSING naming the flag', () => {
  const empty = mkdtempSync(join(tmpdir(), 'pgw-nobin-'));
  try {
    assert.throws(
      () => findPgTool('pg_dump', { pgBin: empty, env: {} }),
      (error: Error & { code?: string; option?: string }) => {
        return error.code === 'PGW_BACKUP_TOOL_MISSING' && error.option === '--pg-bin';
      },
    );
    assert.throws(() => findPgTool('pg_restore', { env: { PG_BIN: empty } }), {
      code: 'PGW_BACKUP_TOOL_MISSING',
      option: 'PG_BIN',
    });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('a major newer than any installed is refused; an installed one is found with its version', (t) => {
  let found;
  try {
    found = findPgTool('pg_dump', { env: { PATH: process.env.PATH ?? '' } });
  } catch {
    t.skip('no pg_dump installed on this machine');
    return;
  }
  assert.match(found.version, /^\d+(\.\d+)*$/);
  assert.ok(found.major >= 10);
  assert.throws(() => findPgTool('pg_dump', { minMajor: 99, env: { PATH: process.env.PATH ?? '' } }), {
    code: 'PGW_BACKUP_TOOL_MISSING',
  });
});

test('stdbuf gives the archive stream a 1 MiB buffer only after it ran the tool; a broken one is not used', (t) => {
  const env = { PATH: process.env.PATH ?? '' };
  let plain;
  try {
    plain = findPgTool('pg_dump', { env, stdbuf: false });
  } catch {
    t.skip('no pg_dump installed on this machine');
    return;
  }
  assert.equal(plain.stdbuf, undefined);
  assert.deepEqual(toolCommand(plain, ['--version'], 'stdout'), { path: plain.path, args: ['--version'] });

  const stdbuf = findStdbuf();
  const found = findPgTool('pg_dump', { env });
  if (stdbuf) {
    // The system's coreutils stdbuf: used, and the command it builds runs the tool.
    assert.equal(found.stdbuf, stdbuf);
    const command = toolCommand(found, ['--version'], 'stdout');
    assert.deepEqual(command, { path: stdbuf, args: [`-o${STDIO_BUFFER}`, found.path, '--version'] });
    const ran = spawnSync(command.path, command.args, { encoding: 'utf8' });
    assert.equal(ran.status, 0, ran.stderr);
    assert.match(ran.stdout, /\(PostgreSQL\)/);
    assert.deepEqual(toolCommand(found, ['--list'], 'stdin').args.slice(0, 1), [`-i${STDIO_BUFFER}`]);
  } else {
    assert.equal(found.stdbuf, undefined);
  }

  // Not from PATH: a stdbuf planted in a PATH directory is never run.
  const bin = mkdtempSync(join(tmpdir(), 'pgw-stdbuf-'));
  try {
    const planted = join(bin, 'stdbuf');
    writeFileSync(planted, `#!/bin/sh\ntouch ${join(bin, 'ran')}\nexec "$@"\n`, { mode: 0o755 });
    const onPath = findPgTool('pg_dump', { env: { PATH: `${bin}${delimiter}${env.PATH}` } });
    assert.notEqual(onPath.stdbuf, planted);
    assert.equal(existsSync(join(bin, 'ran')), false, 'the planted stdbuf ran');
    // One that fails (exits 125, as stdbuf does when it cannot run the command) is not used.
    writeFileSync(planted, '#!/bin/sh\nexit 125\n', { mode: 0o755 });
    const broken = findPgTool('pg_dump', { env, stdbuf: planted });
    assert.equal(broken.path, plain.path);
    assert.equal(broken.version, plain.version);
    assert.equal(broken.stdbuf, undefined);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
