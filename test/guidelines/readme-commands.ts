// Runs the shell commands of a markdown page (examples/<team>/README.md,
// docs/getting-started.md) as a user would paste them: the blocks marked `<!-- test: run NAME -->` (the line before a ```sh
// fence), in bash, from the repository root, with `pgwarden` on PATH and no
// other variables than PATH, HOME and the ones the README documents. The
// `defaults` block (the paths and their defaults) runs before every other.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertNoCanary } from '../support/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MARKER = /^<!-- test: run ([a-z][a-z0-9-]*) -->$/;
const RUN_TIMEOUT_MS = 150_000;

export interface ReadmeBlock {
  readonly name: string;
  readonly script: string;
  /** 1-based line of the marker, for messages. */
  readonly line: number;
}

/** The runnable blocks of a README, by name; a marker not followed by a sh block is an error. */
export function readmeBlocks(text: string): Map<string, ReadmeBlock> {
  const lines = text.split('\n');
  const blocks = new Map<string, ReadmeBlock>();
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i]!.trim());
    if (!marker) continue;
    const name = marker[1]!;
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    assert.equal(
      lines[j],
      '```sh',
      `line ${i + 1}: <!-- test: run ${name} --> must precede a \`\`\`sh block`,
    );
    const end = lines.indexOf('```', j + 1);
    assert.ok(end > j, `line ${j + 1}: the sh block of ${name} is not closed`);
    assert.ok(!blocks.has(name), `line ${i + 1}: a second block named ${name}`);
    blocks.set(name, { name, script: lines.slice(j + 1, end).join('\n'), line: i + 1 });
    i = end;
  }
  return blocks;
}

let shimDir: string | undefined;

/** A directory whose `pgwarden` runs this checkout's CLI (src/cli/main.ts through tsx). */
function pgwardenOnPath(): string {
  if (shimDir) return shimDir;
  const dir = mkdtempSync(join(tmpdir(), 'pgw-readme-bin-'));
  const shim = join(dir, 'pgwarden');
  const tsx = import.meta.resolve('tsx');
  const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  writeFileSync(
    shim,
    `#!/bin/sh\nexec ${quote(process.execPath)} --import ${quote(tsx)} ${quote(join(ROOT, 'src', 'cli', 'main.ts'))} "$@"\n`,
  );
  chmodSync(shim, 0o755);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  shimDir = dir;
  return dir;
}

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ReadmeRunner {
  readonly blocks: ReadonlyMap<string, ReadmeBlock>;
  /**
   * Runs `defaults` and then the named blocks in one bash (`set -euo
   * pipefail`), with exactly `vars` (plus PATH and HOME) in the environment.
   * No output may contain any of `secrets`.
   */
  run(names: readonly string[], vars: Record<string, string>, secrets: readonly string[]): Promise<RunResult>;
  /** Blocks of the README no run() has covered yet. */
  notRun(): string[];
}

export function readmeRunner(team: string): ReadmeRunner {
  return markdownRunner(join('examples', team, 'README.md'));
}

/** The runner of any markdown page, by its path from the repository root. */
export function markdownRunner(page: string): ReadmeRunner {
  const blocks = readmeBlocks(readFileSync(join(ROOT, page), 'utf8'));
  assert.ok(blocks.has('defaults'), `${page} has no <!-- test: run defaults --> block`);
  const ran = new Set<string>(['defaults']);
  return {
    blocks,
    notRun: () => [...blocks.keys()].filter((name) => !ran.has(name)),
    async run(names, vars, secrets) {
      const parts = ['defaults', ...names].map((name) => {
        const block = blocks.get(name);
        assert.ok(block, `${page} has no block named ${name}`);
        ran.add(name);
        return `# --- ${page} line ${block.line}: ${name}\n${block.script}`;
      });
      // The failing command, as written in the README (never expanded: a URL may hold a password).
      const trap = `trap 'echo "README command failed (exit $?): $BASH_COMMAND" >&2' ERR`;
      const script = ['set -euo pipefail', trap, ...parts].join('\n');
      const home = mkdtempSync(join(tmpdir(), 'pgw-readme-home-'));
      try {
        const result = await spawnBash(script, {
          PATH: `${pgwardenOnPath()}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          HOME: home,
          ...vars,
        });
        for (const secret of secrets) assertNoCanary(result.stdout + result.stderr, secret);
        return result;
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
  };
}

/** bash in its own process group, so a timeout stops it and every pgwarden it started. */
function spawnBash(script: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: ROOT, env, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(killed after ${RUN_TIMEOUT_MS / 1000} s)`;
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * The README's `defaults` block and the example's alerts.yaml agree: every
 * `${NAME}` the file uses is one the block exports, with the same default.
 */
export function assertDefaultsAgree(team: string, runner: ReadmeRunner): void {
  const defaults = new Map<string, string>();
  for (const m of runner.blocks.get('defaults')!.script.matchAll(/^export (\w+)="\$\{\1:-([^}]*)\}"$/gm)) {
    defaults.set(m[1]!, m[2]!);
  }
  const alerts = readFileSync(join(ROOT, 'examples', team, 'alerts.yaml'), 'utf8');
  const used = [...alerts.matchAll(/\$\{(\w+)(?::-([^}]*))?\}/g)];
  assert.ok(used.length > 0, `examples/${team}/alerts.yaml uses no variable`);
  for (const [, name, fallback] of used) {
    assert.ok(defaults.has(name!), `alerts.yaml uses \${${name}}, which the README's defaults do not export`);
    if (fallback !== undefined) assert.equal(fallback, defaults.get(name!), `the default of ${name}`);
  }
}
