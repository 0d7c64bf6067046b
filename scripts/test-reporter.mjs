// A concise reporter for node:test: one character per test while it runs,
// then every failure in full (with the end of its file's stderr), every
// skipped test with its reason, the slowest files, and the counts. The full
// TAP goes to a file beside it (scripts/run-tests.mjs) for when more is needed.
const WIDTH = 80;
const STDERR_LINES = 30;

export default async function* conciseReporter(source) {
  const failures = [];
  const skips = [];
  const todos = [];
  const stderr = new Map();
  const files = new Map();
  let passed = 0;
  let cancelled = 0;
  let column = 0;

  const mark = (char) => {
    column += 1;
    if (column < WIDTH) return char;
    column = 0;
    return `${char}\n`;
  };
  // A file's time: the sum of its top-level tests and suites (hooks included).
  const timed = (data) => {
    if (data.file && data.nesting === 0 && typeof data.details?.duration_ms === 'number')
      files.set(data.file, (files.get(data.file) ?? 0) + data.details.duration_ms / 1000);
  };

  for await (const event of source) {
    const data = event.data ?? {};
    if (event.type === 'test:pass' || event.type === 'test:fail') timed(data);
    switch (event.type) {
      case 'test:stderr': {
        const lines = stderr.get(data.file) ?? [];
        lines.push(...String(data.message).split('\n').filter(Boolean));
        stderr.set(data.file, lines.slice(-STDERR_LINES));
        break;
      }
      case 'test:pass': {
        if (data.details?.type === 'suite') break;
        if (data.skip !== undefined && data.skip !== false) {
          skips.push({
            name: data.name,
            file: data.file,
            reason: data.skip === true ? '' : String(data.skip),
          });
          yield mark('s');
        } else if (data.todo !== undefined && data.todo !== false) {
          todos.push({
            name: data.name,
            file: data.file,
            reason: data.todo === true ? '' : String(data.todo),
          });
          yield mark('t');
        } else {
          passed += 1;
          yield mark('.');
        }
        break;
      }
      case 'test:fail': {
        const error = data.details?.error;
        // A suite fails because a test in it failed: that test is reported already.
        if (error?.failureType === 'subtestsFailed') break;
        // Cancelled because a hook of its suite failed: the hook's failure says why.
        if (error?.failureType === 'cancelledByParent') {
          cancelled += 1;
          yield mark('c');
          break;
        }
        failures.push({ name: data.name, file: data.file, line: data.line, error });
        yield mark('F');
        break;
      }
      default:
        break;
    }
  }

  let out = column > 0 ? '\n' : '';
  for (const [i, failure] of failures.entries()) {
    out += `\n✖ ${i + 1}) ${failure.name}\n   ${failure.file ?? ''}${failure.line ? `:${failure.line}` : ''}\n`;
    out += indent(describeError(failure.error));
    const lines = stderr.get(failure.file);
    if (lines?.length)
      out += `   stderr of that file (last ${lines.length} lines):\n${indent(lines.join('\n'), 5)}`;
  }
  if (skips.length > 0) {
    out += `\nSkipped (${skips.length}):\n`;
    for (const skip of skips)
      out += `  - ${skip.name}: ${skip.reason || 'no reason given'} (${short(skip.file)})\n`;
  }
  if (todos.length > 0) {
    out += `\nTodo (${todos.length}):\n`;
    for (const todo of todos) out += `  - ${todo.name}: ${todo.reason || ''} (${short(todo.file)})\n`;
  }
  const slowest = [...files.entries()]
    .map(([file, seconds]) => ({ file, seconds }))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, 5);
  if (slowest.length > 0) {
    out += `\nSlowest files: ${slowest.map((s) => `${short(s.file)} ${s.seconds.toFixed(0)} s`).join(', ')}\n`;
  }
  out += `\n${passed} passed, ${failures.length} failed, ${cancelled ? `${cancelled} cancelled, ` : ''}${skips.length} skipped, ${todos.length} todo\n`;
  yield out;
}

function describeError(error) {
  if (!error) return 'no error details\n';
  const cause = error.cause ?? error;
  const head = error.failureType && error.failureType !== 'testCodeFailure' ? `${error.failureType}: ` : '';
  const stack = typeof cause?.stack === 'string' ? cause.stack : String(cause?.message ?? cause);
  const extra = [];
  if (cause && typeof cause === 'object') {
    if (cause.code !== undefined) extra.push(`code: ${String(cause.code)}`);
    if ('actual' in cause && 'expected' in cause && cause.operator) {
      extra.push(`actual: ${inspect(cause.actual)}`, `expected: ${inspect(cause.expected)}`);
    }
  }
  return `${head}${stack
    .split('\n')
    .filter((line) => !/\((node:|.*node_modules)|at node:|at new Promise/.test(line))
    .slice(0, 20)
    .join('\n')}\n${extra.join('\n')}${extra.length ? '\n' : ''}`;
}

function inspect(value) {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

function indent(text, spaces = 3) {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n')
    .replace(/\s*$/, '\n');
}

function short(file) {
  if (!file) return '';
  const cwd = `${process.cwd()}/`;
  return file.startsWith(cwd) ? file.slice(cwd.length) : file;
}
