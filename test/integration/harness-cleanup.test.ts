import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitForProcessExit } from '../support/index.js';

const FIXTURE = fileURLToPath(new URL('../support/fixtures/abandon-cluster.ts', import.meta.url));

interface Outcome {
  pid: number;
  dir: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the fixture, which starts a cluster and ends without stopping it in the way `how` says. */
async function abandon(how: 'exit' | 'throw' | 'signal' | 'forget'): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, how], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string | undefined>((resolve) => {
    lines.once('line', resolve);
    lines.once('close', () => resolve(undefined));
  });
  assert.ok(first, `the fixture printed nothing; stderr:\n${stderr}`);
  const { pid, dir } = JSON.parse(first) as { pid: number; dir: string };
  if (how === 'signal') child.kill('SIGTERM');
  const [code, signal] = await exited;
  return { pid, dir, code, signal };
}

async function assertCleanedUp(outcome: Outcome): Promise<void> {
  assert.ok(await waitForProcessExit(outcome.pid), `postmaster ${outcome.pid} still runs`);
  assert.equal(existsSync(outcome.dir), false, `${outcome.dir} still exists`);
}

describe('clusters that are never stopped', { concurrency: true }, () => {
  test('are killed and removed on process.exit()', async () => {
    const outcome = await abandon('exit');
    assert.equal(outcome.code, 3);
    await assertCleanedUp(outcome);
  });

  test('are killed and removed after an uncaught exception', async () => {
    const outcome = await abandon('throw');
    assert.equal(outcome.code, 1);
    await assertCleanedUp(outcome);
  });

  test('are killed and removed on SIGTERM, and the process still dies from the signal', async () => {
    const outcome = await abandon('signal');
    assert.equal(outcome.signal, 'SIGTERM');
    await assertCleanedUp(outcome);
  });

  test('do not keep the process alive, and are killed and removed when it ends', async () => {
    const outcome = await abandon('forget');
    assert.equal(outcome.code, 0);
    await assertCleanedUp(outcome);
  });
});
