import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isRoot, readPasswdUser, resolveServerUser } from './os-user.js';

test('readPasswdUser() parses passwd(5) lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-passwd-'));
  try {
    const path = join(dir, 'passwd');
    writeFileSync(
      path,
      'root:x:0:0:root:/root:/bin/bash\npostgresql:x:7:7::/:/bin/sh\npostgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\nbroken:x:abc:1::/:\n',
    );
    assert.deepEqual(readPasswdUser('postgres', path), { name: 'postgres', uid: 101, gid: 104 });
    assert.equal(readPasswdUser('broken', path), undefined);
    assert.equal(readPasswdUser('nobody-here', path), undefined);
    assert.equal(readPasswdUser('postgres', join(dir, 'missing')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resolveServerUser() runs the server as postgres only when this process is root', () => {
  const user = resolveServerUser();
  if (isRoot()) {
    assert.equal(user?.name, 'postgres');
    assert.notEqual(user?.uid, 0);
  } else {
    assert.equal(user, undefined);
  }
});
