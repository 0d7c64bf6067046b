// `pgwarden demo` as a user runs it: every step passes, the text says what the
// reports say, both HTML reports stay and nothing else does; with --keep the
// clusters keep running, the printed URL connects (verify-full against the
// kept CA) and the printed stop command stops them.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { findPgBinaries, hasTool, isProcessAlive, withoutConnectionVariables } from '../support/index.js';

function demo(args: string[] = []): { status: number; stdout: string } {
  const clean = withoutConnectionVariables();
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', ...args], {
    env: clean,
    encoding: 'utf8',
    timeout: 170_000,
  });
  return { status: result.status ?? -1, stdout: result.stdout + result.stderr };
}

/** The report files the summary names. */
function reports(stdout: string): { before: string; after: string } {
  const before = /^ {2}before hardening: (\S+)$/m.exec(stdout)?.[1];
  const afterPath = /^ {2}after hardening: +(\S+)$/m.exec(stdout)?.[1];
  assert.ok(before && afterPath, stdout);
  return { before, after: afterPath };
}

/** `<title>pgwarden audit — host:port/db</title>` and the header's user@host:port/db. */
function reportTarget(html: string): string {
  const meta = /<p class="meta">([^<\s]+)/.exec(html)?.[1];
  assert.ok(meta, 'the report names its target');
  return meta.replace(/&#39;/g, "'");
}

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

describe('pgwarden demo', () => {
  test('every step passes; the text names the reports and says what they say; only the reports stay', () => {
    const { status, stdout } = demo();
    assert.equal(status, 0, stdout);
    const { before, after: afterPath } = reports(stdout);
    const dir = join(before, '..');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    assert.match(
      stdout,
      /✓ demo complete: every step behaved as expected; both clusters were stopped and removed\./,
    );
    assert.match(stdout, /PGW_POLICY_TLS_DISABLED/);

    // The audit lines name the database the reports are about.
    const beforeLine = /^✓ pgwarden audit of (\S+) on a second throwaway cluster/m.exec(stdout)?.[1];
    const afterLine =
      /^✓ pgwarden audit of (\S+) again, as the application role over verify-full: (.*)$/m.exec(stdout);
    assert.ok(beforeLine && afterLine, stdout);
    assert.equal(reportTarget(readFileSync(before, 'utf8')), beforeLine);
    assert.equal(reportTarget(readFileSync(afterPath, 'utf8')), afterLine[1]);
    assert.match(beforeLine, /^shop@127\.0\.0\.1:\d+\/shop$/);

    // "clean" only next to 0 failed, and the counts are the report's.
    const afterDetail = stdout.slice(stdout.indexOf(afterLine[0]) + afterLine[0].length).split('\n')[1]!;
    const failed = Number(/(\d+) failed/.exec(afterDetail)?.[1]);
    assert.equal(afterLine[2] === 'clean', failed === 0, `${afterLine[0]}\n${afterDetail}`);
    const afterHtml = readFileSync(afterPath, 'utf8');
    assert.equal(Number(/data-count="fail">(\d+)</.exec(afterHtml)?.[1]), failed);
    const beforeHtml = readFileSync(before, 'utf8');
    assert.ok(Number(/data-count="fail">(\d+)</.exec(beforeHtml)?.[1]) > 0, 'the insecure cluster fails');
    // No spurious redaction (a refused weak password once rewrote every
    // postgresql.org link of the report into "www.[redacted]ql.org").
    for (const text of [stdout, beforeHtml, afterHtml]) assert.doesNotMatch(text, /\[redacted\]/);
    assert.match(afterHtml, /https:\/\/www\.postgresql\.org\//);

    // Both servers are gone; the demo directory holds the two reports and nothing else.
    for (const pid of [...stdout.matchAll(/\(PID (\d+)\)/g)].map((m) => Number(m[1]))) {
      assert.equal(isProcessAlive(pid), false, `PID ${pid} still runs`);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['audit-after.html', 'audit-before.html']);
    assert.equal(statSync(before).mode & 0o777, 0o600);
  });

  test('--keep leaves both clusters running, says how to connect (verify-full) and how to stop them', async (t) => {
    const { status, stdout } = demo(['--keep']);
    const kept = [
      ...stdout.matchAll(
        /^ {2}(.+): PID (\d+), files in (\S+)\n {4}connect: PGPASSFILE=(\S+) psql '(\S+)'$/gm,
      ),
    ];
    const pids = kept.map((m) => Number(m[2]));
    const stop = /^ {2}stop: +kill -INT ([\d ]+?) {3}/m.exec(stdout)?.[1];
    const remove = /^ {2}then: +rm -rf (.+)$/m.exec(stdout)?.[1]?.split(' ') ?? [];
    cleanups.push(() => {
      for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, 'SIGQUIT');
      for (const path of remove) rmSync(path, { recursive: true, force: true });
    });
    assert.equal(status, 0, stdout);
    assert.match(stdout, /the 2 clusters are still running \(below\)/);
    assert.equal(kept.length, 2, stdout);
    assert.deepEqual(stop?.split(' ').map(Number), pids);
    const { before, after: afterPath } = reports(stdout);
    assert.ok(existsSync(before) && existsSync(afterPath));

    for (const [, name, pid, dir, pgpass, url] of kept) {
      assert.ok(isProcessAlive(Number(pid)), `${name} (PID ${pid}) runs after the demo exited`);
      assert.ok(existsSync(join(dir!, 'data')), `${name}: its data directory is kept`);
      assert.match(url!, /^postgresql:\/\/\w+@localhost:\d+\/\w+\?sslmode=verify-full&sslrootcert=\//);
      const ca = decodeURIComponent(/sslrootcert=([^&]+)/.exec(url!)![1]!);
      assert.ok(existsSync(ca), `${name}: the CA ${ca} is kept`);
      assert.equal(statSync(pgpass!).mode & 0o777, 0o600);
      assert.ok(
        !stdout.includes(readFileSync(pgpass!, 'utf8').split('\n')[0]!.split(':').at(-1)!),
        'no password printed',
      );
    }

    const binaries = findPgBinaries();
    if (!hasTool(binaries, 'psql')) {
      t.diagnostic('psql is not installed: the printed URLs were not connected to');
    } else {
      for (const [, name, , , pgpass, url] of kept) {
        const psql = spawnSync(
          join(binaries.binDir, 'psql'),
          [url!, '-Atc', 'SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'],
          { env: { PATH: process.env.PATH ?? '', PGPASSFILE: pgpass! }, encoding: 'utf8', timeout: 30_000 },
        );
        assert.equal(psql.status, 0, `${name}: ${psql.stderr}`);
        assert.match(psql.stdout, /^\w+\|t$/m, `${name}: connected over TLS`);
      }
    }

    // The printed stop command stops them.
    for (const pid of pids) process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while (pids.some(isProcessAlive) && Date.now() < deadline) await delay(100);
    assert.deepEqual(pids.filter(isProcessAlive), [], 'kill -INT stopped every kept server');
  });
});
