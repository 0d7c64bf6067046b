import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveServerUser } from '../testing/os-user.js';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import { SecretError } from '../errors.js';
import type { LogLevel } from '../logger.js';
import { createFileProvider, fileSettingsFromEnv } from './file.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-file-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe('file provider', () => {
  test('reads DB_PASSWORD_FILE and DB_USER_FILE, trimming trailing newlines only', async () => {
    const pw = `${canary()} `; // a trailing space is part of the password
    const passwordFile = secretFile('db_password', `${pw}\r\n\n`);
    const userFile = secretFile('db_user', 'app\n');
    const provider = createFileProvider(
      fileSettingsFromEnv({ DB_PASSWORD_FILE: passwordFile, DB_USER_FILE: userFile }),
    );
    const c = await provider.fetch();
    assert.equal(c.password?.reveal(), pw);
    assert.equal(c.user, 'app');
    assert.ok(c.version);
  });

  test('without DB_USER_FILE the user comes from DB_USER', async () => {
    const provider = createFileProvider(
      fileSettingsFromEnv({ DB_PASSWORD_FILE: secretFile('p2', canary()), DB_USER: 'fromenv' }),
    );
    assert.equal((await provider.fetch()).user, 'fromenv');
  });

  test('picks up a rotated file at the next fetch', async () => {
    const path = secretFile('rotating', 'first-password\n');
    const provider = createFileProvider({ passwordFile: path });
    assert.equal((await provider.fetch()).password?.reveal(), 'first-password');
    writeFileSync(path, 'second-password\n');
    assert.equal((await provider.fetch()).password?.reveal(), 'second-password');
  });

  test('a world-readable file (Kubernetes 0644) is a warning, once, not a refusal', async (t) => {
    if (process.platform === 'win32') return t.skip('no POSIX modes');
    const pw = canary();
    const path = secretFile('k8s', pw, 0o644);
    const lines: Array<{ level: LogLevel; event: string; message: string }> = [];
    const provider = createFileProvider({
      passwordFile: path,
      logger: { log: (level, event, message) => lines.push({ level, event, message }) },
    });
    await provider.fetch();
    await provider.fetch();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 'warn');
    assert.equal(lines[0]?.event, 'PGW_SECRET_FILE_PERMISSIONS');
    assert.match(lines[0]?.message ?? '', /chmod 600/);
    assert.match(lines[0]?.message ?? '', /defaultMode/);
    assertNoCanary(lines[0]?.message ?? '', pw);
  });

  test('group-readable (0440, fsGroup) is accepted silently', async () => {
    const lines: string[] = [];
    const provider = createFileProvider({
      passwordFile: secretFile('grp', canary(), 0o440),
      logger: { log: (_l, _e, message) => lines.push(message) },
    });
    await provider.fetch();
    assert.deepEqual(lines, []);
  });

  test('missing, empty, directory: coded errors naming DB_PASSWORD_FILE', async () => {
    await assert.rejects(createFileProvider({ passwordFile: join(dir, 'missing') }).fetch(), {
      code: 'PGW_SECRET_NOT_FOUND',
      option: 'DB_PASSWORD_FILE',
    });
    await assert.rejects(createFileProvider({ passwordFile: secretFile('empty', '\n') }).fetch(), {
      code: 'PGW_SECRET_FIELD_MISSING',
    });
    mkdirSync(join(dir, 'adir'));
    await assert.rejects(createFileProvider({ passwordFile: join(dir, 'adir') }).fetch(), {
      code: 'PGW_SECRET_NOT_FOUND',
    });
  });

  test('an unreadable file is ACCESS_DENIED', async () => {
    const path = secretFile('locked', 'x', 0o000);
    let outcome: { code?: string; message?: string };
    if (process.getuid?.() === 0) {
      // Root reads any file: read it as the unprivileged postgres OS user instead.
      const user = resolveServerUser();
      assert.ok(user, 'no unprivileged OS user to test with');
      chmodSync(dir, 0o755);
      const script = `import { createFileProvider } from ${JSON.stringify(fileURLToPath(new URL('./file.ts', import.meta.url)))};
        const e = await createFileProvider({ passwordFile: ${JSON.stringify(path)} }).fetch().catch((x) => x);
        console.log(JSON.stringify({ code: e.code, message: e.message }));`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        uid: user.uid,
        gid: user.gid,
        encoding: 'utf8',
        cwd: process.cwd(),
      });
      outcome = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}');
    } else {
      const error = await createFileProvider({ passwordFile: path })
        .fetch()
        .catch((e: unknown) => e);
      assert.ok(error instanceof SecretError);
      outcome = { code: error.code, message: error.message };
    }
    assert.equal(outcome.code, 'PGW_SECRET_ACCESS_DENIED');
    assert.match(outcome.message ?? '', /locked.*DB_PASSWORD_FILE/);
  });

  test('fileSettingsFromEnv requires DB_PASSWORD_FILE', () => {
    assert.throws(() => fileSettingsFromEnv({}), { code: 'PGW_SECRET_CONFIG', option: 'DB_PASSWORD_FILE' });
  });
});
