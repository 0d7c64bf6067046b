// `pgwarden creds` against a REAL Secret Service (gnome-keyring on a private
// D-Bus, test/support/keychain.ts) and a real cluster. What only a process
// can show (exit codes, stdin, argv, a missing bus) runs the CLI as a child;
// the rest calls the command module in process, which is the same code minus
// the ~1 s start-up of each child. The keychain secrets provider of
// src/secrets reads what the CLI wrote. A canary password is asserted absent
// from every output that is not an explicit request for it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { credsCommand } from '../../src/cli/commands/creds.js';
import { createKeychainProvider } from '../../src/secrets/keychain.js';
import { keyringSkipReason, startKeyring, type TestKeyring } from '../support/keychain.js';
import {
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const skip = keyringSkipReason();
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
const passphrase = canary();
let keyring: TestKeyring;
let cluster: Cluster;
let dir: string;
let home: string;
const saved = { bus: process.env.DBUS_SESSION_BUS_ADDRESS, home: process.env.PGWARDEN_HOME };

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function noLeak(text: string, secretOk = false): void {
  assertNoCanary(text, passphrase);
  if (!secretOk) assertNoCanary(text, password);
}

/** The CLI as a child process with a clean environment. */
function spawnCli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Run {
  const clean = withoutConnectionVariables(['DBUS_', 'XDG_RUNTIME']);
  const result = spawnSync(process.execPath, [...CLI, 'creds', ...args], {
    env: { ...clean, ...keyring.env, PGWARDEN_HOME: home, ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  noLeak(result.stdout + result.stderr);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The command module in process; an error it throws is returned, as main.ts would print it. */
async function cli(
  args: string[],
  options: { input?: string; secretOk?: boolean } = {},
): Promise<{
  status: number;
  stdout: string;
  stderr: string;
  error?: Error & { code?: string; fix?: string };
}> {
  let stdout = '';
  let stderr = '';
  const stdin = Readable.from(
    options.input === undefined ? [] : [Buffer.from(options.input)],
  ) as unknown as NodeJS.ReadStream;
  try {
    const status = await credsCommand(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), stdin });
    noLeak(stderr);
    noLeak(stdout, options.secretOk);
    return { status, stdout, stderr };
  } catch (error) {
    const e = error as Error & { code?: string };
    noLeak(`${e.message} ${inspect(e)} ${stdout} ${stderr}`);
    return { status: e.code === 'PGW_CLI_USAGE' ? 2 : 1, stdout, stderr, error: e };
  }
}

const json = (r: { stdout: string }): Record<string, unknown> =>
  JSON.parse(r.stdout) as Record<string, unknown>;
const devArgs = (): string[] => [
  '--host',
  '127.0.0.1',
  '--port',
  String(cluster.port),
  '--database',
  'postgres',
  '--user',
  'app',
  '--sslmode',
  'disable',
];

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pgw-creds-'));
  home = join(dir, 'pgwarden');
  [keyring, cluster] = await Promise.all([
    startKeyring(),
    startCluster({ hba: ['host all all 127.0.0.1/32 scram-sha-256'] }),
  ]);
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
  process.env.PGWARDEN_HOME = home;
  await cluster.createRole('app', { password });
});

after(async () => {
  if (skip) return;
  for (const [key, value] of [
    ['DBUS_SESSION_BUS_ADDRESS', saved.bus],
    ['PGWARDEN_HOME', saved.home],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await Promise.all([keyring?.stop(), cluster?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('pgwarden creds (OS keychain: gnome-keyring over D-Bus)', { skip }, () => {
  test('CLI: add --password-stdin, then list, show, test; the keychain provider reads the entry', async () => {
    const added = spawnCli(['add', 'dev', ...devArgs(), '--password-stdin'], { input: `${password}\n` });
    assert.equal(added.status, 0, added.stderr);
    assert.match(
      added.stdout,
      /added dev: app@127\.0\.0\.1:\d+\/postgres, password in the OS keychain, expires \d{4}-/,
    );

    const metadata = readFileSync(join(home, 'credentials.json'), 'utf8');
    noLeak(metadata);
    assert.equal(statSync(join(home, 'credentials.json')).mode & 0o777, 0o600);
    assert.equal(statSync(home).mode & 0o777, 0o700);

    const [entry] = JSON.parse((await cli(['list', '--json'])).stdout) as Array<Record<string, unknown>>;
    assert.equal(entry?.name, 'dev');
    assert.equal(entry?.store, 'keychain');
    assert.equal(entry?.expiresDays, 90);
    assert.ok(Math.abs(Date.parse(String(entry?.expiresAt)) - Date.now() - 90 * 86_400_000) < 120_000);
    assert.match(
      (await cli(['list'])).stdout,
      /^NAME +USER +SERVER .*\ndev +app +127\.0\.0\.1:\d+\/postgres +disable +keychain +\d{4}-\d\d-\d\d \(in 90 day\(s\)\)/,
    );

    assert.match((await cli(['show', 'dev'])).stdout, /password +\(hidden; --password prints it\)/);
    assert.equal(json(await cli(['show', 'dev', '--json'])).password, undefined);
    assert.equal(
      json(await cli(['show', 'dev', '--json', '--password'], { secretOk: true })).password,
      password,
    );

    const tested = await cli(['test', 'dev', '--json']);
    assert.equal(tested.status, 0, tested.stdout);
    assert.equal(json(tested).ok, true);
    assert.match(String(json(tested).serverVersion), /^\d+/);

    // The application side: SECRETS_BACKEND=keychain with DB_CREDENTIALS_ENV=dev.
    const provider = createKeychainProvider({ environment: 'dev', home, logger: { log: () => undefined } });
    const creds = await provider.fetch();
    assert.equal(creds.password?.reveal(), password);
    assert.deepEqual(
      [creds.user, creds.host, creds.port, creds.database],
      ['app', '127.0.0.1', cluster.port, 'postgres'],
    );
  });

  test('CLI: a password as an argument is refused with the fix (exit 2); nothing is stored', async () => {
    for (const args of [['--password', 'hunter2-literal'], ['--password=hunter2-literal']]) {
      const refused = spawnCli(['add', 'leak', '--host', 'h', '--user', 'u', ...args]);
      assert.equal(refused.status, 2);
      assert.match(
        refused.stderr,
        /PGW_CLI_USAGE: A password was given as a command-line argument.*--password-stdin/,
      );
      assert.doesNotMatch(refused.stderr, /hunter2-literal/);
    }
    const url = await cli(['add', 'leak', '--url', `postgresql://u:${encodeURIComponent(password)}@h/db`]);
    assert.equal(url.error?.code, 'PGW_CLI_USAGE');
    assert.match(url.error?.message ?? '', /--url holds a password/);
    const noInput = await cli(['add', 'leak', '--host', 'h', '--user', 'u']);
    assert.equal(noInput.error?.code, 'PGW_CLI_USAGE', 'no terminal and no --password-stdin');
    assert.equal((JSON.parse((await cli(['list', '--json'])).stdout) as unknown[]).length, 1);
  });

  test('test with a wrong stored password: exit 1 and PGW_CONN_AUTH_FAILED', async () => {
    const wrong = canary();
    assert.equal((await cli(['add', 'wrong', ...devArgs(), '--password-stdin'], { input: wrong })).status, 0);
    const tested = await cli(['test', 'wrong', '--json']);
    assertNoCanary(tested.stdout + tested.stderr, wrong);
    assert.equal(tested.status, 1);
    assert.equal((json(tested).error as { code: string }).code, 'PGW_CONN_AUTH_FAILED');
    assert.equal((await cli(['remove', 'wrong'])).status, 0);
  });

  test('check: expired, expiring, healthy, no expiry; CLI exits 1 when any expired', async () => {
    const add = (name: string, days: string) =>
      cli(
        [
          'add',
          name,
          '--host',
          'h',
          '--user',
          'u',
          '--database',
          'd',
          '--expires-days',
          days,
          '--password-stdin',
        ],
        { input: 'x'.repeat(20) },
      );
    assert.equal((await add('soon', '7')).status, 0);
    assert.equal((await add('never', '0')).status, 0);
    const ok = await cli(['check', '--json']);
    assert.equal(ok.status, 0);
    const report = json(ok) as Record<string, Array<{ name: string; daysLeft: number | null }>>;
    assert.deepEqual(
      report.expiring?.map((e) => [e.name, e.daysLeft]),
      [['soon', 7]],
    );
    assert.deepEqual(
      report.healthy?.map((e) => e.name),
      ['dev'],
    );
    assert.deepEqual(
      report.noExpiry?.map((e) => e.name),
      ['never'],
    );
    assert.equal(
      (json(await cli(['check', '--json', '--days', '100'])) as Record<string, unknown[]>).expiring?.length,
      2,
    );
    // Move "soon" into the past by hand (the library tests drive the clock).
    const file = join(home, 'credentials.json');
    const data = JSON.parse(readFileSync(file, 'utf8'));
    data.environments.soon.expires_at = new Date(Date.now() - 3 * 86_400_000 - 60_000).toISOString();
    writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
    const expired = spawnCli(['check']);
    assert.equal(expired.status, 1);
    assert.match(
      expired.stdout,
      /Expired:\n {2}✗ soon: expired 3 day\(s\) ago .* pgwarden creds rotate soon/,
    );
    assert.match(expired.stdout, /✗ 1 environment\(s\) expired/);
    for (const name of ['soon', 'never']) assert.equal((await cli(['remove', name])).status, 0);
  });

  test('generate: length, classes, no ambiguous characters; too short is a usage error', async () => {
    const pw = await cli(['generate', '--length', '40', '--classes', 'lower,digits', '--no-ambiguous'], {
      secretOk: true,
    });
    assert.equal(pw.status, 0);
    assert.match(pw.stdout, /^[a-km-np-z2-9]{40}\n$/);
    const short = spawnCli(['generate', '--length', '8']);
    assert.equal(short.status, 2);
    assert.match(short.stderr, /PGW_CREDS_INVALID.*16 to 1024/);
  });

  test('export uri/env/json, with the password only on request', async () => {
    const uri = await cli(['export', 'dev', '--format', 'uri']);
    assert.equal(uri.stdout, `postgresql://app@127.0.0.1:${cluster.port}/postgres?sslmode=disable\n`);
    assert.match(uri.stderr, /password not included/);
    const env = await cli(['export', 'dev', '--format', 'env', '--password'], { secretOk: true });
    assert.match(env.stdout, /^export PGHOST='127\.0\.0\.1'\n/);
    assert.ok(env.stdout.includes(`PGPASSWORD='${password}'`), env.stdout.replace(password, '…'));
    assert.equal(
      JSON.parse((await cli(['export', 'dev', '--format', 'json', '--password'], { secretOk: true })).stdout)
        .password,
      password,
    );
    assert.equal((await cli(['export', 'dev', '--format', 'yaml'])).status, 2);
  });

  test('production environments need confirmation; unknown names suggest the right one', async () => {
    assert.equal((await cli(['update', 'dev', '--production'])).status, 0);
    const refused = spawnCli(['update', 'dev', '--port', '6543']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /PGW_CREDS_CONFIRMATION_REQUIRED.*--yes/);
    assert.equal(json(await cli(['show', 'dev', '--json'])).port, cluster.port, 'nothing changed');
    assert.equal((await cli(['remove', 'dev'])).error?.code, 'PGW_CREDS_CONFIRMATION_REQUIRED');
    assert.equal((await cli(['update', 'dev', '--no-production', '--yes'])).status, 0);
    const unknown = await cli(['show', 'dve']);
    assert.equal(unknown.error?.code, 'PGW_CREDS_UNKNOWN_ENV');
    assert.match(unknown.error?.fix ?? '', /Did you mean "dev"/);
  });

  test('update --password-stdin replaces the keychain entry; remove deletes it', async () => {
    const next = canary();
    const updated = await cli(['update', 'dev', '--password-stdin'], { input: next });
    assertNoCanary(updated.stdout + updated.stderr, next);
    assert.equal(updated.status, 0);
    assert.match(updated.stdout, /new password stored/);
    const provider = createKeychainProvider({ environment: 'dev', home, logger: { log: () => undefined } });
    assert.equal((await provider.fetch()).password?.reveal(), next);
    assert.equal((await cli(['update', 'dev', '--password-stdin'], { input: password })).status, 0);
    const removed = await cli(['remove', 'dev']);
    assert.match(removed.stdout, /removed dev and its password from the OS keychain/);
    await assert.rejects(provider.fetch(), { code: 'PGW_SECRET_NOT_FOUND' });
  });

  test('CLI: no Secret Service is a coded error; nothing written, no silent fallback to a file', () => {
    const otherHome = join(dir, 'no-bus');
    const result = spawnSync(
      process.execPath,
      [...CLI, 'creds', 'add', 'x', '--host', 'h', '--user', 'u', '--password-stdin'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: dir,
          PGWARDEN_HOME: otherHome,
          DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'no-such-bus')}`,
        },
        input: password,
        encoding: 'utf8',
      },
    );
    noLeak(result.stdout + result.stderr);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /PGW_CREDS_STORE_UNAVAILABLE.*--store file/);
    assert.throws(() => statSync(join(otherHome, 'credentials.json')));
    assert.throws(() => statSync(join(otherHome, 'credentials.enc')));
  });
});

test(
  'CLI: a locked OS keychain is PGW_CREDS_STORE_LOCKED; nothing written',
  { skip: keyringSkipReason() },
  async () => {
    const locked = await startKeyring({ locked: true });
    try {
      const lockedHome = join(dir, 'locked');
      const result = spawnSync(
        process.execPath,
        [...CLI, 'creds', 'add', 'x', '--host', 'h', '--user', 'u', '--password-stdin'],
        {
          env: { PATH: process.env.PATH ?? '', HOME: dir, PGWARDEN_HOME: lockedHome, ...locked.env },
          input: password,
          encoding: 'utf8',
        },
      );
      noLeak(result.stdout + result.stderr);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /PGW_CREDS_STORE_LOCKED/);
      assert.throws(() => statSync(join(lockedHome, 'credentials.json')));
    } finally {
      await locked.stop();
    }
  },
);

/** Runs the CLI on a pseudo-terminal (util-linux `script`), answering each prompt as it appears. */
async function onTerminal(
  args: string[],
  answers: Array<[RegExp, string]>,
): Promise<{ status: number; output: string }> {
  const command = [process.execPath, ...CLI, 'creds', ...args]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, PGWARDEN_HOME: home, ...keyring.env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  let next = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const answer = answers[next];
    if (answer && answer[0].test(output)) {
      next += 1;
      child.stdin.write(`${answer[1]}\r`);
    }
  });
  const status = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { status, output };
}

const noScript =
  spawnSync('sh', ['-c', 'command -v script']).status !== 0
    ? 'needs util-linux script for a pseudo-terminal'
    : false;

describe('pgwarden creds on a terminal', { skip: skip || noScript }, () => {
  test('hidden prompts: the password and a new passphrase (asked twice) are never echoed', async () => {
    const { status, output } = await onTerminal(
      ['add', 'typed', '--store', 'file', ...devArgs()],
      [
        [/Password: $/, password],
        [/New passphrase for the encrypted store: $/, passphrase],
        [/Repeat the passphrase for the encrypted store: $/, passphrase],
      ],
    );
    noLeak(output);
    assert.equal(status, 0, output);
    assert.match(output, /added typed: .*password in the encrypted file/);
    process.env.PGWARDEN_STORE_PASSPHRASE = passphrase;
    try {
      assert.equal(
        json(await cli(['show', 'typed', '--json', '--password'], { secretOk: true })).password,
        password,
      );
      assert.equal((await cli(['remove', 'typed'])).status, 0);
    } finally {
      delete process.env.PGWARDEN_STORE_PASSPHRASE;
    }
  });
});

describe('pgwarden creds --store file (encrypted file)', { skip }, () => {
  test('AES-256-GCM file with a passphrase: 0600, nothing readable, wrong or missing passphrase refused', async () => {
    const env = { PGWARDEN_STORE_PASSPHRASE: passphrase };
    const added = spawnCli(['add', 'filed', '--store', 'file', ...devArgs(), '--password-stdin'], {
      input: password,
      env,
    });
    assert.equal(added.status, 0, added.stderr);
    assert.match(added.stdout, /password in the encrypted file/);
    const file = join(home, 'credentials.enc');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    noLeak(text);
    assert.match(text, /"cipher": "aes-256-gcm"/);
    assert.equal(spawnCli(['test', 'filed'], { env }).status, 0);
    const wrong = spawnCli(['show', 'filed', '--password'], {
      env: { PGWARDEN_STORE_PASSPHRASE: 'not the passphrase' },
    });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /PGW_CREDS_STORE_LOCKED/);
    const missing = await cli(['show', 'filed', '--password']);
    assert.equal(missing.error?.code, 'PGW_CREDS_STORE_LOCKED');
    assert.match(missing.error?.message ?? '', /PGWARDEN_STORE_PASSPHRASE/);
    // Metadata stays readable without the passphrase, so cron can run check.
    assert.equal((await cli(['list'])).status, 0);
    process.env.PGWARDEN_STORE_PASSPHRASE = passphrase;
    try {
      assert.equal(
        json(await cli(['show', 'filed', '--json', '--password'], { secretOk: true })).password,
        password,
      );
      assert.equal((await cli(['remove', 'filed'])).status, 0);
    } finally {
      delete process.env.PGWARDEN_STORE_PASSPHRASE;
    }
  });
});
