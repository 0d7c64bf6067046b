// `import 'pgwarden'` stays light: it loads no built-in module that `import 'pg'`
// does not load itself, among the heavy ones an application that never makes
// an HTTP request, compresses or starts a thread should not pay for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const HEAVY = /^NativeModule (http|https|zlib|worker_threads|internal\/deps\/undici\/undici)$/;

function builtinsAfter(specifier: string): string[] {
  const script = `await import(${JSON.stringify(specifier)});
console.log(JSON.stringify(process.moduleLoadList.filter((m) => ${HEAVY}.test(m))));`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as string[];
}

test("the root import loads no heavy built-in beyond pg's own", () => {
  const pg = new Set(builtinsAfter('pg'));
  const extra = builtinsAfter(ROOT).filter((m) => !pg.has(m));
  assert.deepEqual(extra, [], `import 'pgwarden' also loads: ${extra.join(', ')}`);
});
