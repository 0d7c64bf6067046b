import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./exit-when-settled.ts', import.meta.url));

function run(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = `import { exitWhenSettled } from ${JSON.stringify(MODULE)};\n${body}`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('a command whose promise never settles exits 1 with PGW_CLI_UNFINISHED, not a silent 0', () => {
  const { status, stderr } = run('exitWhenSettled(new Promise(() => {}));');
  assert.equal(status, 1);
  assert.match(stderr, /PGW_CLI_UNFINISHED/);
});

test("a command's own exit code is kept, after timers it waited for", () => {
  const { status, stderr } = run(
    'exitWhenSettled(new Promise((resolve) => setTimeout(() => resolve(2), 200)));',
  );
  assert.equal(status, 2, stderr);
  assert.equal(stderr, '');
});

test('a rejected command exits 1 without the unfinished message', () => {
  const { status, stderr } = run("exitWhenSettled(Promise.reject(new Error('x')));");
  assert.equal(status, 1);
  assert.doesNotMatch(stderr, /UNFINISHED/);
});
