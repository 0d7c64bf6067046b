/**
 * The `stderr` log format: `log_line_prefix`, then `SEVERITY:  message`.
 *
 * The prefix is whatever the administrator configured, so it is compiled
 * into a pattern from the server's own `log_line_prefix` when known (read
 * over the connection, from the config file, or `--log-line-prefix`). Lines
 * the compiled pattern does not match fall back to a heuristic: a timestamp
 * anywhere in the prefix and a `[pid]`, which covers the default
 * (`%m [%p] `) and Debian's (`%m [%p] %q%u@%d `). Lines starting with a tab
 * continue the previous message.
 */
import { SEVERITIES, type LogEntry, type ParsedLog } from './log-entry.js';
import { parseEpochTimestamp, parseLogTimestamp, TIMESTAMP_PATTERN, type LogTime } from './timestamp.js';

const SEVERITY = `(?<severity>${SEVERITIES.join('|')}):  (?<message>.*)$`;
const HEURISTIC = new RegExp(`^(?<prefix>.*?)${SEVERITY}`);
const HEURISTIC_TIME = new RegExp(TIMESTAMP_PATTERN);
const HEURISTIC_PID = /\[(\d+)(?:-\d+)?\]/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Pattern and capture-group name of each escape; a name is captured once, later repeats match only. */
const ESCAPES: Readonly<Record<string, readonly [pattern: string, group?: string]>> = {
  a: ['.*?', 'app'],
  u: ['.*?', 'user'],
  d: ['.*?', 'db'],
  r: ['.*?', 'remote'],
  h: ['.*?', 'host'],
  b: ['.*?'],
  p: ['\\d+', 'pid'],
  P: ['\\d*'],
  t: [TIMESTAMP_PATTERN, 'ts'],
  m: [TIMESTAMP_PATTERN, 'ts'],
  n: ['\\d+(?:\\.\\d+)?', 'epoch'],
  i: ['.*?'],
  e: ['[0-9A-Z]{5}'],
  c: ['[0-9a-f]+\\.[0-9a-f]+'],
  l: ['\\d+'],
  s: [TIMESTAMP_PATTERN],
  v: ['.*?'],
  x: ['\\d+'],
  Q: ['-?\\d+'],
};

/**
 * Compiles a log_line_prefix into a line pattern. `%q` makes the rest of the
 * prefix optional (non-session processes stop there); padding such as `%-10u`
 * is allowed around the value.
 */
export function compileLinePrefix(prefix: string): RegExp {
  const used = new Set<string>();
  let pattern = '';
  let optionalOpen = false;
  const token = /%(-?\d+)?(.)/g;
  let last = 0;
  for (let m = token.exec(prefix); m; m = token.exec(prefix)) {
    pattern += escapeRegExp(prefix.slice(last, m.index));
    last = token.lastIndex;
    const [, padding, letter] = m as unknown as [string, string | undefined, string];
    if (letter === '%') {
      pattern += '%';
      continue;
    }
    if (letter === 'q') {
      if (!optionalOpen) pattern += '(?:';
      optionalOpen = true;
      continue;
    }
    const escape = ESCAPES[letter];
    if (!escape) {
      // Unknown escapes print nothing in PostgreSQL.
      continue;
    }
    const [inner, group] = escape;
    const captured = group && !used.has(group) ? `(?<${group}>${inner})` : `(?:${inner})`;
    if (group) used.add(group);
    pattern += padding ? ` *${captured} *` : captured;
  }
  pattern += escapeRegExp(prefix.slice(last));
  if (optionalOpen) pattern += ')?';
  return new RegExp(`^${pattern}${SEVERITY}`);
}

function timeOf(groups: Record<string, string | undefined>): LogTime | undefined {
  if (groups.ts) return parseLogTimestamp(groups.ts);
  if (groups.epoch) return parseEpochTimestamp(groups.epoch);
  return undefined;
}

/** `%r` prints `host(port)`; `[local]` stays as is. */
function hostOf(groups: Record<string, string | undefined>): string | undefined {
  const host = groups.host ?? groups.remote?.replace(/\(\d+\)$/, '');
  return host === undefined || host === '' || host === '[unknown]' ? undefined : host;
}

const known = (value: string | undefined): string | undefined =>
  value === undefined || value === '' || value === '[unknown]' ? undefined : value;

function fromCompiled(groups: Record<string, string | undefined>): LogEntry {
  return {
    time: timeOf(groups),
    severity: groups.severity!,
    message: groups.message!,
    pid: groups.pid ? Number(groups.pid) : undefined,
    remoteHost: hostOf(groups),
    user: known(groups.user),
    database: known(groups.db),
  };
}

function fromHeuristic(groups: Record<string, string | undefined>): LogEntry {
  const prefix = groups.prefix ?? '';
  const ts = HEURISTIC_TIME.exec(prefix)?.[0];
  const pid = HEURISTIC_PID.exec(prefix)?.[1];
  return {
    time: ts ? parseLogTimestamp(ts) : undefined,
    severity: groups.severity!,
    message: groups.message!,
    pid: pid ? Number(pid) : undefined,
  };
}

export interface StderrParseOptions {
  /** The server's log_line_prefix; without it the heuristic is used for every line. */
  linePrefix?: string | undefined;
}

export function parseStderrLog(text: string, options: StderrParseOptions = {}): ParsedLog {
  const compiled = options.linePrefix === undefined ? undefined : compileLinePrefix(options.linePrefix);
  const entries: LogEntry[] = [];
  let unparsed = 0;
  let current: LogEntry | undefined;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    if (line.startsWith('\t')) {
      if (current) current = { ...current, message: `${current.message}\n${line.slice(1)}` };
      if (current) entries[entries.length - 1] = current;
      continue;
    }
    const exact = compiled?.exec(line)?.groups;
    const guessed = exact ? undefined : HEURISTIC.exec(line)?.groups;
    if (!exact && !guessed) {
      unparsed++;
      current = undefined;
      continue;
    }
    current = exact ? fromCompiled(exact) : fromHeuristic(guessed!);
    entries.push(current);
  }
  return { format: 'stderr', entries, unparsed };
}
