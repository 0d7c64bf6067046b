// Children inherit an allow-list, never a copy of the parent's environment,
// and no other file of src/ can start a process around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { childEnv, execFileSyncChild, spawnSyncChild } from './child-process.js';

const parent = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/app',
  TMPDIR: '/var/tmp',
  TZ: 'Europe/Paris',
  LANG: 'fr_FR.UTF-8',
  LC_MESSAGES: 'C',
  VAULT_TOKEN: 'hvs.secret',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  AWS_SESSION_TOKEN: 'aws-token',
  PGPASSWORD: 'pg-secret',
  PGSERVICE: 'elsewhere',
  PGWARDEN_STORE_PASSPHRASE: 'store-secret',
  DATABASE_URL: 'postgres://u:p@h/d',
  NODE_OPTIONS: '--require ./evil.js',
};

test('only PATH, HOME, TMPDIR, TZ and locale are inherited; set variables win and undefined removes', () => {
  assert.deepEqual(childEnv({ inherit: parent }), {
    PATH: '/usr/bin:/bin',
    HOME: '/home/app',
    TMPDIR: '/var/tmp',
    TZ: 'Europe/Paris',
    LANG: 'fr_FR.UTF-8',
    LC_MESSAGES: 'C',
  });
  const env = childEnv({ inherit: parent, set: { PGHOST: 'db', LC_ALL: 'C', HOME: undefined } });
  assert.equal(env.PGHOST, 'db');
  assert.equal(env.LC_ALL, 'C');
  assert.equal(env.HOME, undefined);
  assert.equal(env.PGPASSWORD, undefined);
});

test('a real child sees exactly the allow-listed environment', () => {
  const out = execFileSyncChild('/bin/sh', ['-c', 'tr "\\0" "\\n" < /proc/$$/environ'], {
    inherit: parent,
    set: { PGHOST: 'db' },
    encoding: 'utf8',
  });
  const names = out
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(0, line.indexOf('=')))
    .sort();
  assert.deepEqual(names, ['HOME', 'LANG', 'LC_MESSAGES', 'PATH', 'PGHOST', 'TMPDIR', 'TZ']);
  const sync = spawnSyncChild('/bin/sh', ['-c', 'printf %s "$VAULT_TOKEN$PGPASSWORD$NODE_OPTIONS"'], {
    inherit: parent,
    encoding: 'utf8',
  });
  assert.equal(sync.stdout, '');
});

test('no file of src/ but child-process.ts imports node:child_process (types aside)', () => {
  const root = join(import.meta.dirname, '..');
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
        const text = readFileSync(path, 'utf8');
        const imports = text.match(/^import\s+(?!type\b)[^;]*from\s+'(node:)?child_process';/gms) ?? [];
        const required =
          /require\(\s*'(node:)?child_process'\s*\)|import\(\s*'(node:)?child_process'\s*\)/.test(text);
        if ((imports.length > 0 || required) && relative(root, path) !== join('process', 'child-process.ts'))
          offenders.push(relative(root, path));
      }
    }
  };
  walk(root);
  assert.deepEqual(offenders, []);
});
