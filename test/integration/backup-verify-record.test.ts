// The verification record a manifest carries decides what `cleanup
// --min-verified` keeps. Anyone can run `verify` without the key, or with a
// wrong one: such a result is unauthenticated, so it must never replace an
// authenticated one, and retention must never count it as verified.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupBackups, createBackup, generateKeyFile, listBackups } from '../../src/backup/index.js';
import { createPool } from '../../src/pool/pool.js';
import {
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
let cluster: Cluster;
let work: string;
let keyFile: string;
let wrongKey: string;

function url(database: string): string {
  return cluster.url({ user: 'app', password, database });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

function cli(args: string[]): { status: number; json: Json } {
  const env = withoutConnectionVariables();
  const result = spawnSync(process.execPath, [...CLI, ...args, '--json'], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assertNoCanary(result.stdout + result.stderr, password);
  const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, result.stdout + result.stderr);
  return { status: result.status ?? -1, json: JSON.parse(line) as Json };
}

function manifestOf(dir: string, id: string): Json {
  return JSON.parse(readFileSync(join(dir, `${id}.manifest.json`), 'utf8')) as Json;
}

/** Two backups of one database: `older` first, `newer` a moment later. */
async function twoBackups(dir: string): Promise<{ older: string; newer: string }> {
  const make = async () =>
    (await createBackup({ dir, connection: { url: url('app') }, env: {}, keys: { keyFile } })).id;
  const older = await make();
  await new Promise((resolve) => setTimeout(resolve, 20)); // newest first by createdAt
  const newer = await make();
  return { older, newer };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-vrecord-'));
  cluster = await startCluster();
  await cluster.createRole('app', { password, attributes: 'LOGIN' });
  await cluster.createDatabase('app', 'app');
  const pool = await createPool({ url: url('app'), env: {}, checkRole: false });
  await pool.query('CREATE TABLE t AS SELECT generate_series(1, 50) AS id');
  await pool.close();
  mkdirSync(join(work, 'keys'), { mode: 0o700 });
  keyFile = join(work, 'keys', 'good.key');
  wrongKey = join(work, 'keys', 'wrong.key');
  generateKeyFile(keyFile);
  generateKeyFile(wrongKey);
});

after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('verification records', () => {
  test('verify with a wrong key keeps the authenticated "L2 ok", and cleanup --min-verified 1 keeps that backup', async () => {
    const dir = join(work, 'wrong-key');
    const { older, newer } = await twoBackups(dir);
    const good = cli(['backup', 'verify', older, '--dir', dir, '--level', '2', '--key-file', keyFile]);
    assert.equal(good.status, 0);
    assert.equal(good.json.recorded, 'authenticated');
    const before = manifestOf(dir, older).verification;
    assert.equal(before.ok, true);
    assert.notEqual(before.hmac, null);

    const wrong = cli(['backup', 'verify', older, '--dir', dir, '--level', '2', '--key-file', wrongKey]);
    assert.equal(wrong.status, 1);
    assert.equal(wrong.json.error.code, 'PGW_BACKUP_WRONG_KEY');
    assert.equal(wrong.json.recorded, 'kept-authenticated');
    assert.deepEqual(manifestOf(dir, older).verification, before, 'the authenticated record was replaced');
    const listed = listBackups(dir).backups.find((b) => b.id === older)!;
    assert.deepEqual(
      {
        ok: listed.verified?.ok,
        level: listed.verified?.level,
        authenticated: listed.verified?.authenticated,
      },
      { ok: true, level: 2, authenticated: true },
    );

    // Everything is expired; the newest is kept by --keep-last, the verified one by --min-verified.
    const far = new Date(Date.now() + 400 * 86_400_000);
    const result = cleanupBackups({ dir, keepLast: 1, minVerified: 1, confirm: true, now: far });
    assert.deepEqual(result.deleted, []);
    assert.ok(existsSync(join(dir, `${older}.pgwb`)));
    assert.ok(existsSync(join(dir, `${newer}.pgwb`)));
  });

  test('a keyless "L1 ok" is recorded as unauthenticated and does not count for --min-verified', async () => {
    const dir = join(work, 'keyless');
    const { older, newer } = await twoBackups(dir);
    const keyless = cli(['backup', 'verify', older, '--dir', dir, '--level', '1']);
    assert.equal(keyless.status, 0);
    assert.equal(keyless.json.recorded, 'unauthenticated');
    assert.equal(manifestOf(dir, older).verification.hmac, null);
    const far = new Date(Date.now() + 400 * 86_400_000);
    const plan = cleanupBackups({ dir, keepLast: 1, minVerified: 1, now: far });
    const decision = plan.decisions.find((d) => d.id === older)!;
    assert.equal(decision.action, 'delete', JSON.stringify(decision));
    assert.equal(plan.decisions.find((d) => d.id === newer)!.action, 'keep');
  });

  test('an authenticated result replaces an unauthenticated one', async () => {
    const dir = join(work, 'upgrade');
    const { older } = await twoBackups(dir);
    assert.equal(
      cli(['backup', 'verify', older, '--dir', dir, '--level', '1']).json.recorded,
      'unauthenticated',
    );
    const keyed = cli(['backup', 'verify', older, '--dir', dir, '--level', '2', '--key-file', keyFile]);
    assert.equal(keyed.json.recorded, 'authenticated');
    assert.notEqual(manifestOf(dir, older).verification.hmac, null);
    assert.equal(manifestOf(dir, older).verification.level, 2);
  });
});
