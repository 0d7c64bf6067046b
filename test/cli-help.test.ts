// A CLI that teaches, checked on the built CLI (`node dist/cli/main.js`, as
// users run it; `npm test` builds first): every command's help ends with
// examples that use real flags, the top-level help names every subcommand,
// and a usage error is two lines, a mistyped option reported before a
// missing one.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EXAMPLES } from '../src/cli/examples.js';

const CLI = 'dist/cli/main.js';
const run = promisify(execFile);

async function cli(args: readonly string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1', COLUMNS: '100' },
      timeout: 60_000,
    });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      status: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

/** The lines of one section of a commander help page (`Options:`, `Commands:`). */
function section(help: string, title: string): string[] {
  const match = new RegExp(`^${title}:\\n((?:  .*\\n?)*)`, 'm').exec(help);
  return match ? match[1]!.split('\n').filter((l) => l.length > 0) : [];
}

/** Entries of a section: the first column, and the description with its continuation lines. */
function entries(lines: readonly string[]): { term: string; text: string }[] {
  const out: { term: string; text: string }[] = [];
  for (const line of lines) {
    const head = /^ {2}(\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (head && !line.startsWith('   ')) out.push({ term: head[1]!, text: head[2] ?? '' });
    else if (out.length > 0) out.at(-1)!.text += ` ${line.trim()}`;
  }
  return out;
}

interface Page {
  readonly path: string;
  readonly help: string;
  readonly subcommands: readonly string[];
  readonly flags: ReadonlySet<string>;
  readonly examples: readonly { does: string; run: string }[];
}

const pages = new Map<string, Page>();

function optionFlags(help: string): Set<string> {
  const flags = new Set<string>();
  for (const { term } of entries(section(help, 'Options'))) {
    for (const flag of term.matchAll(/(?:^|[ ,])(--?[a-zA-Z][\w-]*)/g)) flags.add(flag[1]!);
  }
  return flags;
}

function examplesOf(help: string): { does: string; run: string }[] {
  const block = /\nExamples:\n([\s\S]*)$/.exec(help);
  if (!block) return [];
  const lines = block[1]!.trimEnd().split('\n');
  const out: { does: string; run: string }[] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    out.push({ does: lines[i]!.trim(), run: lines[i + 1]!.replace(/^ {4}\$ /, '') });
  }
  return out;
}

/** Walks the help tree from `pgwarden --help` down, one level at a time (each level in parallel). */
async function walk(): Promise<void> {
  let level: string[][] = [[]];
  while (level.length > 0) {
    const next: string[][] = [];
    await Promise.all(
      level.map(async (words) => {
        const { status, stdout, stderr } = await cli([...words, '--help']);
        const path = ['pgwarden', ...words].join(' ');
        assert.equal(status, 0, `${path} --help: ${stderr}`);
        const subcommands = entries(section(stdout, 'Commands'))
          .map((e) => e.term.split(' ')[0]!)
          .filter((name) => name !== 'help');
        pages.set(path, {
          path,
          help: stdout,
          subcommands,
          flags: optionFlags(stdout),
          examples: examplesOf(stdout),
        });
        for (const name of subcommands) next.push([...words, name]);
      }),
    );
    level = next;
  }
}

before(async () => {
  // A stale build would test yesterday's CLI.
  const built = statSync(CLI).mtimeMs;
  const sources = ['src/cli', 'src/cli/commands'].flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f)),
  );
  const newer = sources.filter((f) => statSync(f).mtimeMs > built);
  assert.deepEqual(newer, [], 'src/cli changed after the last build: run npm run build');
  await walk();
});

describe('every --help teaches', () => {
  test('the walk found every command: the groups and their subcommands', () => {
    for (const path of [
      'pgwarden creds update',
      'pgwarden creds remove',
      'pgwarden backup create',
      'pgwarden roles apply',
      'pgwarden incident sessions',
      'pgwarden alerts check',
    ]) {
      assert.ok(pages.has(path), `${path} was not reached from pgwarden --help`);
    }
    assert.ok(pages.size >= 31, `only ${pages.size} help pages`);
  });

  test('every help page ends with two or three examples of itself', () => {
    for (const page of pages.values()) {
      const count = page.examples.length;
      assert.ok(count >= 2 && count <= 3, `${page.path}: ${count} examples`);
      assert.match(
        page.help.trimEnd(),
        /\n {4}\$ pgwarden .*$/,
        `${page.path}: the help does not end with them`,
      );
      for (const example of page.examples) {
        assert.ok(example.does.length > 10, `${page.path}: an example without an explanation`);
        // `creds generate | creds add …` teaches add too: one of the piped commands is this one.
        const segments = example.run.split('|').map((s) => s.trim());
        assert.ok(
          segments.some((s) => s === page.path || s.startsWith(`${page.path} `)),
          `${page.path}: the example "${example.run}" is about another command`,
        );
      }
    }
  });

  test('every flag in an example is one its command accepts', () => {
    for (const page of pages.values()) {
      for (const example of page.examples) {
        for (const segment of example.run.split('|').map((s) => s.trim())) {
          const words = segment.split(/\s+/);
          assert.equal(words[0], 'pgwarden', `${page.path}: "${segment}" is not a pgwarden command`);
          // The deepest command the words name.
          let target = 'pgwarden';
          for (const word of words.slice(1)) {
            if (pages.has(`${target} ${word}`)) target = `${target} ${word}`;
            else break;
          }
          const accepted = pages.get(target)!.flags;
          for (const flag of words.filter((w) => /^--?[a-zA-Z]/.test(w))) {
            assert.ok(accepted.has(flag), `${page.path}: "${segment}" uses ${flag}, unknown to ${target}`);
          }
        }
      }
    }
  });

  test('the examples table names only commands that exist', () => {
    assert.deepEqual(Object.keys(EXAMPLES).sort(), [...pages.keys()].sort());
  });

  test('pgwarden --help lists every subcommand of every group', () => {
    const top = entries(section(pages.get('pgwarden')!.help, 'Commands'));
    for (const page of pages.values()) {
      const words = page.path.split(' ');
      if (words.length !== 3) continue;
      const group = top.find((e) => e.term.split(' ')[0] === words[1]);
      assert.ok(group, `pgwarden --help does not list ${words[1]}`);
      assert.match(
        group.text,
        new RegExp(`\\b${words[2]}\\b`),
        `pgwarden --help: ${words[1]} lacks ${words[2]}`,
      );
    }
  });
});

describe('a usage error is two lines: the mistake (and suggestion), then where to look', () => {
  const cases: { args: string[]; command: string; mistake: RegExp }[] = [
    {
      // The mistyped option is reported, not the --dir it hides.
      args: ['backup', 'create', '--keyfile', 'k'],
      command: 'pgwarden backup create',
      mistake: /^unknown option '--keyfile' \(did you mean --key-file\?\)$/,
    },
    {
      args: ['backup', 'create', '--dir', 'd', '--keyfile', 'k'],
      command: 'pgwarden backup create',
      mistake: /^unknown option '--keyfile' \(did you mean --key-file\?\)$/,
    },
    {
      args: ['roles', 'plan', '--fil', 'roles.yaml'],
      command: 'pgwarden roles plan',
      mistake: /^unknown option '--fil' \(did you mean --file\?\)$/,
    },
    {
      args: ['backup', 'create', '--key-file', 'k'],
      command: 'pgwarden backup create',
      mistake: /^required option '--dir <dir>' not specified$/,
    },
    {
      args: ['backup', 'verify', 'x', '--level', '7'],
      command: 'pgwarden backup verify',
      mistake: /--level must be an integer from 1 to 3/,
    },
    {
      args: ['doctr'],
      command: 'pgwarden',
      mistake: /^unknown command 'doctr' \(did you mean doctor\?\)$/,
    },
    { args: ['creds'], command: 'pgwarden creds', mistake: /^missing command: add, update, .*export$/ },
    { args: ['alerts'], command: 'pgwarden alerts', mistake: /^missing command: check$/ },
    { args: ['creds', 'add'], command: 'pgwarden creds add', mistake: /^missing required argument 'env'$/ },
    {
      args: ['creds', 'add', 'x', '--store', 'vault'],
      command: 'pgwarden creds add',
      mistake: /argument 'vault' is invalid\. Allowed choices are keychain, file\.$/,
    },
    {
      args: ['doctor', '--env', 'prodd'],
      command: 'pgwarden doctor',
      mistake: /^PGW_CLI_USAGE: --env "prodd" is not an environment\. Fix: Use production, staging/,
    },
    {
      args: ['monitor', '--interval', '5'],
      command: 'pgwarden monitor',
      mistake: /^PGW_CLI_USAGE: --interval "5" is not a duration/,
    },
  ];
  for (const { args, command, mistake } of cases) {
    test(`pgwarden ${args.join(' ')}`, async () => {
      const { status, stdout, stderr } = await cli(args);
      assert.equal(status, 2, stderr);
      assert.equal(stdout, '');
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 2, stderr);
      assert.ok(lines[0]!.startsWith(`${command}: `), stderr);
      assert.match(lines[0]!.slice(command.length + 2), mistake);
      assert.equal(lines[1], `see: ${command} --help`);
    });
  }

  test('pgwarden alone names the commands in two lines', async () => {
    const { status, stderr } = await cli([]);
    assert.equal(status, 2);
    assert.match(
      stderr,
      /^pgwarden: missing command: doctor, demo, creds, .*backup\nsee: pgwarden --help\n$/,
    );
  });

  test('help and version still exit 0 on stdout', async () => {
    const help = await cli(['backup', 'verify', '--help']);
    assert.equal(help.status, 0);
    assert.equal(help.stderr, '');
    assert.match(help.stdout, /^Usage: pgwarden backup verify/);
    const version = await cli(['--version']);
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
