// A closed stdout (`pgwarden … | head`) is not a crash: the command ends with
// its own exit code and no stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

function runWithStdoutClosed(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Closed before the CLI has loaded: every write it makes to stdout meets EPIPE.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

test('help written to a reader that went away: exit 0, nothing on stderr', async () => {
  const { code, stderr } = await runWithStdoutClosed(['backup', 'create', '--help']);
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('a usage error still exits 2 with its message on stderr when stdout is gone', async () => {
  const { code, stderr } = await runWithStdoutClosed(['backup', 'create', '--no-such-flag']);
  assert.equal(code, 2, stderr);
  assert.doesNotMatch(stderr, /EPIPE|at .*\(node:/);
});
